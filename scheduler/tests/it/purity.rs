//! The scheduler's purity held by Cargo: its manifest may name no async runtime, store, server,
//! git or HTTP crate. This test reads `scheduler/Cargo.toml` and fails if one appears; it must
//! not be relaxed to let one in (put the I/O in the engine or the binary instead).

const FORBIDDEN: [&str; 6] = ["tokio", "sled", "axum", "git2", "reqwest", "hyper"];

/// The crate names a manifest's dependency tables declare (`name = …` or `name.workspace = …`).
fn dependency_names(manifest: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_dependencies = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            let header = line.trim_matches(|c| c == '[' || c == ']');
            in_dependencies = header.ends_with("dependencies");
            // `[dependencies.tokio]` names the crate in the header; its lines are fields.
            if let Some(name) = header.split_once("dependencies.").map(|(_, name)| name) {
                names.push(name.trim().to_string());
            }
            continue;
        }
        if !in_dependencies || line.starts_with('#') || line.is_empty() {
            continue;
        }
        let name = line
            .split(['=', '.'])
            .next()
            .unwrap_or_default()
            .trim()
            .trim_matches('"');
        if !name.is_empty() {
            names.push(name.to_string());
        }
    }
    names
}

#[test]
fn the_manifest_names_no_runtime_store_server_or_network_crate() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let manifest = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => panic!("failed to read {path}: {error}"),
    };
    let names = dependency_names(&manifest);
    assert!(names.iter().any(|name| name == "workflows"), "{names:?}");
    for name in &names {
        assert!(
            !FORBIDDEN.contains(&name.as_str()),
            "scheduler/Cargo.toml names `{name}`: the scheduler must stay pure"
        );
    }
    // Package names in any other spelling (`package = "tokio"`) are refused too.
    for forbidden in FORBIDDEN {
        assert!(
            !manifest.contains(&format!("\"{forbidden}\"")),
            "scheduler/Cargo.toml mentions `{forbidden}`"
        );
    }
}

#[test]
fn the_checker_sees_every_spelling_of_a_dependency() {
    let manifest = "[package]\nname = \"x\"\n[dependencies]\ntokio.workspace = true\nserde = \"1\"\n[dev-dependencies.sled]\nversion = \"1\"\n[target.'cfg(unix)'.dependencies]\naxum = \"0.8\"\n";
    assert_eq!(
        dependency_names(manifest),
        ["tokio", "serde", "sled", "axum"]
    );
}
