//! The `slipway` binary: arguments → library call → documented exit code. Nothing else lives here.

fn main() {
    println!("slipway");
}
