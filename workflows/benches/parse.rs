//! How long `parse_workflow` takes on a ~500-line workflow (generated here: many jobs with
//! matrices, containers, `needs` and multi-line `run:` scripts, the shape of a large real CI file).

use criterion::{Criterion, criterion_main};
use std::hint::black_box;

fn large_workflow() -> String {
    let mut text = String::from(
        "name: Large CI\non:\n  push:\n    branches: [main, 'release/**']\n  pull_request:\n    types: [opened, synchronize]\n  workflow_dispatch:\n    inputs:\n      level: {type: choice, options: [info, debug], default: info}\nenv:\n  CARGO_TERM_COLOR: always\n  RUST_BACKTRACE: 1\npermissions:\n  contents: read\njobs:\n",
    );
    for job in 0..20 {
        let needs = if job == 0 {
            String::new()
        } else {
            format!("    needs: [job-{}]\n", job - 1)
        };
        text.push_str(&format!(
            "  job-{job}:\n    name: Job {job} on ${{{{ matrix.os }}}}\n{needs}    runs-on: ${{{{ matrix.os }}}}\n    timeout-minutes: 30\n    strategy:\n      fail-fast: false\n      matrix:\n        os: [ubuntu-latest, macos-latest]\n        toolchain: [stable, beta]\n        include:\n          - os: ubuntu-latest\n            toolchain: nightly\n    env:\n      JOB: {job}\n    steps:\n      - uses: actions/checkout@v4\n      - name: Build\n        run: |\n          cargo build --all-targets\n          echo \"built ${{{{ matrix.toolchain }}}}\"\n      - name: Test\n        if: ${{{{ success() }}}}\n        run: cargo test -- --nocapture\n        env:\n          LEVEL: ${{{{ inputs.level }}}}\n",
        ));
    }
    text
}

fn bench_parse(c: &mut Criterion) {
    let source = large_workflow();
    let parsed = workflows::parse_workflow("ci.yml", &source);
    assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
    let lines = source.lines().count();
    c.bench_function(&format!("parse_workflow ({lines} lines)"), |b| {
        b.iter(|| workflows::parse_workflow("ci.yml", black_box(&source)))
    });
    // The YAML layer alone, to see where the time goes.
    c.bench_function(&format!("yaml::parse ({lines} lines)"), |b| {
        b.iter(|| workflows::yaml::parse(black_box(&source)))
    });
}

/// The benchmarks of this file, with the settings given on the command line.
fn benches() {
    let mut criterion = Criterion::default().configure_from_args();
    bench_parse(&mut criterion);
}

criterion_main!(benches);
