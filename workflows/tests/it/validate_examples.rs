//! Every example workflow under `workflows/examples/` validates without errors (they are what users
//! copy). Warnings are printed: an example may read `needs.X` of an indirect dependency on purpose,
//! to show that it is empty.

use workflows::parse_workflow;

#[test]
fn examples_are_clean() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut checked = 0;
    let mut findings = Vec::new();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if !matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yml" | "yaml")
        ) {
            continue;
        }
        let Ok(source) = std::fs::read_to_string(&path) else {
            continue;
        };
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        for diagnostic in parse_workflow(&name, &source).diagnostics {
            if diagnostic.is_error() {
                findings.push(diagnostic.to_string());
            } else {
                println!("{diagnostic}");
            }
        }
        checked += 1;
    }
    assert!(checked > 0, "no examples found in {}", dir.display());
    assert!(findings.is_empty(), "{findings:#?}");
}
