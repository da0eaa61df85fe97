//! Shared by the conformance harnesses: where the conformance data lives, and what to do when it
//! is missing (fail in CI, say so loudly elsewhere).

use std::path::PathBuf;

/// `shared/conformance/<suite>` beside the checkout (or `$SLIPWAY_CONFORMANCE_DIR/<suite>`).
/// Returns `None` (after printing a loud notice) when the data is absent outside CI; panics in CI.
pub(crate) fn conformance_dir(suite: &str) -> Option<PathBuf> {
    let found = std::env::var_os("SLIPWAY_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .ancestors()
                .map(|dir| dir.join("shared").join("conformance")),
        )
        .map(|dir| dir.join(suite))
        .find(|dir| dir.is_dir());
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "conformance data `shared/conformance/{suite}` is missing beside the checkout (CI=true)"
            );
        }
        eprintln!(
            "\n*** SKIPPED: conformance suite `{suite}` not found (expected ../shared/conformance/{suite}); \
             this harness checked nothing ***\n"
        );
    }
    found
}
