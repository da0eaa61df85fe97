//! The built-in actions with real files: checkout of a temp git repository at an exact commit,
//! artifacts passed between two jobs of one run, and the local cache.

use crate::executor_support;

use std::path::Path;

use executor_support::*;
use protocol::Conclusion;
use protocol::job::Checkout;

/// A repository with two commits changing `hello.txt`; returns (first sha, second sha).
fn make_repository(path: &Path) -> (String, String) {
    let repository = git2::Repository::init(path).unwrap();
    let signature = git2::Signature::now("Test", "test@example.com").unwrap();
    let mut parent: Option<git2::Oid> = None;
    let mut shas = Vec::new();
    for content in ["first\n", "second\n"] {
        std::fs::write(path.join("hello.txt"), content).unwrap();
        let mut index = repository.index().unwrap();
        index.add_path(Path::new("hello.txt")).unwrap();
        index.write().unwrap();
        let tree = repository.find_tree(index.write_tree().unwrap()).unwrap();
        let parents: Vec<git2::Commit> = parent
            .iter()
            .map(|id| repository.find_commit(*id).unwrap())
            .collect();
        let parent_refs: Vec<&git2::Commit> = parents.iter().collect();
        let id = repository
            .commit(
                Some("HEAD"),
                &signature,
                &signature,
                content,
                &tree,
                &parent_refs,
            )
            .unwrap();
        shas.push(id.to_string());
        parent = Some(id);
    }
    (shas[0].clone(), shas[1].clone())
}

#[tokio::test]
async fn checkout_puts_the_exact_commit_in_the_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let origin = dir.path().join("origin");
    let (first, second) = make_repository(&origin);
    let mut spec = job(vec![
        uses("actions/checkout@v4")
            .id("checkout")
            .with("fetch-depth", "0"),
        run("cat hello.txt\ntest -d .git && echo has-git\ngit rev-parse HEAD 2>/dev/null || true"),
        uses("actions/checkout@v4").with("path", "sub/dir"),
        run("cat sub/dir/hello.txt"),
    ]);
    spec.checkout = Some(Checkout {
        repository: origin.to_string_lossy().to_string(),
        sha: first.clone(),
        git_ref: None,
        working_tree: false,
    });
    let ran = run_spec(spec, &options(&dir.path().join("work"))).await;
    assert_eq!(ran.outcome(0), ("success", "success"), "{:?}", ran.logs(0));
    assert_eq!(ran.output(0, "commit"), Some(first.as_str()));
    let logs = ran.logs(1);
    assert_eq!(
        logs[0], "first",
        "the requested commit, not the branch tip {second}"
    );
    assert_eq!(logs[1], "has-git");
    assert_eq!(ran.logs(3), vec!["first".to_string()]);

    let workspace = dir.path().join("work/42/build/workspace");
    let checked_out = git2::Repository::open(&workspace).unwrap();
    assert!(checked_out.head_detached().unwrap());
    assert_eq!(
        checked_out.head().unwrap().target().unwrap().to_string(),
        first
    );
    assert_eq!(ran.result.conclusion, Conclusion::Success);
}

#[tokio::test]
async fn checkout_by_file_url_and_missing_checkout() {
    let dir = tempfile::tempdir().unwrap();
    let origin = dir.path().join("origin");
    let (_, second) = make_repository(&origin);
    let mut spec = job(vec![uses("actions/checkout@v3"), run("cat hello.txt")]);
    spec.checkout = Some(Checkout {
        repository: format!("file://{}", origin.display()),
        sha: second,
        git_ref: None,
        working_tree: false,
    });
    let ran = run_spec(spec, &options(&dir.path().join("work"))).await;
    assert_eq!(ran.logs(1), vec!["second".to_string()]);

    let ran = run_spec(
        job(vec![uses("actions/checkout@v4")]),
        &options(&dir.path().join("work2")),
    )
    .await;
    assert_eq!(ran.outcome(0), ("failure", "failure"));
    assert!(
        ran.logs(0)
            .iter()
            .any(|line| line.contains("no repository to check out"))
    );

    let mut spec = job(vec![uses("actions/checkout@v4")]);
    spec.checkout = Some(Checkout {
        repository: origin.to_string_lossy().to_string(),
        sha: "1111111111111111111111111111111111111111".into(),
        git_ref: None,
        working_tree: false,
    });
    let ran = run_spec(spec, &options(&dir.path().join("work3"))).await;
    assert_eq!(
        ran.outcome(0),
        ("failure", "failure"),
        "an unknown commit fails the step"
    );
}

#[tokio::test]
async fn artifacts_pass_between_jobs_of_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let options = options(&dir.path().join("work"));
    let mut upload = job(vec![
        run(
            "mkdir -p dist/docs && echo bin > dist/app && echo doc > dist/docs/readme && echo log > dist/debug.log",
        ),
        uses("actions/upload-artifact@v4")
            .with("name", "dist")
            .with("path", "dist\n!dist/*.log"),
        uses("actions/upload-artifact@v4")
            .with("name", "dist")
            .with("path", "dist")
            .continue_on_error(),
        uses("actions/upload-artifact@v4")
            .with("name", "none")
            .with("path", "nothing-here")
            .with("if-no-files-found", "error")
            .continue_on_error(),
    ]);
    upload.job_key = "producer".into();
    let ran = run_spec(upload, &options).await;
    assert_eq!(ran.outcome(1), ("success", "success"), "{:?}", ran.logs(1));
    assert_eq!(
        ran.outcome(2),
        ("failure", "success"),
        "a second upload under one name fails"
    );
    assert_eq!(ran.outcome(3), ("failure", "success"));

    let mut download = job(vec![
        uses("actions/download-artifact@v4")
            .with("name", "dist")
            .with("path", "got"),
        run("cat got/app got/docs/readme; test -e got/debug.log || echo no-log"),
        uses("actions/download-artifact@v4")
            .with("name", "missing")
            .continue_on_error(),
    ]);
    download.job_key = "consumer".into();
    let ran = run_spec(download, &options).await;
    assert_eq!(ran.outcome(0), ("success", "success"), "{:?}", ran.logs(0));
    assert_eq!(
        ran.logs(1),
        vec!["bin".to_string(), "doc".to_string(), "no-log".to_string()]
    );
    assert_eq!(ran.outcome(2), ("failure", "success"));
}

#[tokio::test]
async fn cache_is_saved_at_job_end_and_restored_later() {
    let dir = tempfile::tempdir().unwrap();
    let options = options(&dir.path().join("work"));
    let first = job(vec![
        uses("actions/cache@v4")
            .id("cache")
            .with("path", "deps")
            .with("key", "deps-v1-abc"),
        run("mkdir -p deps && echo built > deps/lib.txt"),
    ]);
    let ran = run_spec(first, &options).await;
    assert_eq!(ran.output(0, "cache-hit"), Some("false"));
    assert_eq!(ran.result.conclusion, Conclusion::Success);

    let mut second = job(vec![
        uses("actions/cache@v4")
            .id("cache")
            .with("path", "deps")
            .with("key", "deps-v1-abc"),
        run("cat deps/lib.txt"),
        uses("actions/cache/restore@v4")
            .with("path", "other")
            .with("key", "deps-v2")
            .with("restore-keys", "nope-\ndeps-v1-"),
        run("cat other/lib.txt"),
    ]);
    second.run_id = "43".into();
    let ran = run_spec(second, &options).await;
    assert_eq!(ran.output(0, "cache-hit"), Some("true"));
    assert_eq!(ran.logs(1), vec!["built".to_string()]);
    assert_eq!(ran.output(2, "cache-hit"), Some("false"));
    assert_eq!(ran.output(2, "cache-matched-key"), Some("deps-v1-abc"));
    assert_eq!(ran.logs(3), vec!["built".to_string()]);
}

#[tokio::test]
async fn a_failed_job_saves_no_cache() {
    let dir = tempfile::tempdir().unwrap();
    let options = options(&dir.path().join("work"));
    let failing = job(vec![
        uses("actions/cache@v4")
            .with("path", "deps")
            .with("key", "k1"),
        run("mkdir deps && echo x > deps/f && exit 1"),
    ]);
    run_spec(failing, &options).await;
    let again = job(vec![
        uses("actions/cache@v4")
            .with("path", "deps")
            .with("key", "k1"),
    ]);
    let ran = run_spec(again, &options).await;
    assert_eq!(ran.output(0, "cache-hit"), Some("false"));
}

/// Writes `files` (path → content) under `root`.
fn write_files(root: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
}

const GREET_ACTION: &str = r#"
name: Greet
inputs:
  who:
    description: whom to greet
    required: true
  greeting:
    default: Hello ${{ github.actor }}
outputs:
  sentence:
    value: ${{ steps.say.outputs.sentence }}
runs:
  using: composite
  steps:
    - id: say
      shell: bash
      run: |
        echo "sentence=${{ inputs.greeting }}, ${{ inputs.who }}" >> "$GITHUB_OUTPUT"
        echo "in action: $CALLER_ENV $(basename "$GITHUB_ACTION_PATH")"
        echo "FROM_ACTION=set-inside" >> "$GITHUB_ENV"
    - run: echo "second sees ${{ steps.say.outputs.sentence }}"
      shell: sh
    - run: exit 4
      shell: bash
      if: inputs.who == 'failure'
"#;

#[tokio::test]
async fn local_composite_actions_take_inputs_and_give_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let origin = dir.path().join("origin");
    let (_, sha) = make_repository(&origin);
    write_files(
        &origin,
        &[(".github/actions/greet/action.yml", GREET_ACTION)],
    );
    // The action must be in the checked-out commit: commit it.
    let repository = git2::Repository::open(&origin).unwrap();
    let mut index = repository.index().unwrap();
    index
        .add_path(Path::new(".github/actions/greet/action.yml"))
        .unwrap();
    index.write().unwrap();
    let tree = repository.find_tree(index.write_tree().unwrap()).unwrap();
    let signature = git2::Signature::now("Test", "test@example.com").unwrap();
    let parent = repository
        .find_commit(git2::Oid::from_str(&sha).unwrap())
        .unwrap();
    let sha = repository
        .commit(
            Some("HEAD"),
            &signature,
            &signature,
            "action",
            &tree,
            &[&parent],
        )
        .unwrap();

    let mut spec = job(vec![
        uses("actions/checkout@v4"),
        uses("./.github/actions/greet")
            .id("greet")
            .with("who", "world")
            .env("CALLER_ENV", "from-caller"),
        run("echo \"${{ steps.greet.outputs.sentence }} / $FROM_ACTION\""),
        uses("./.github/actions/greet")
            .id("fails")
            .with("who", "failure")
            .continue_on_error(),
        uses("./.github/actions/missing").continue_on_error(),
    ]);
    spec.checkout = Some(Checkout {
        repository: origin.to_string_lossy().to_string(),
        sha: sha.to_string(),
        git_ref: None,
        working_tree: false,
    });
    let ran = run_spec(spec, &options(&dir.path().join("work"))).await;
    assert_eq!(ran.outcome(1), ("success", "success"), "{:?}", ran.logs(1));
    assert_eq!(ran.output(1, "sentence"), Some("Hello mona, world"));
    let logs = ran.logs(1);
    assert!(
        logs.contains(&"in action: from-caller greet".to_string()),
        "{logs:?}"
    );
    assert!(
        logs.contains(&"second sees Hello mona, world".to_string()),
        "{logs:?}"
    );
    assert_eq!(
        ran.logs(2),
        vec!["Hello mona, world / set-inside".to_string()]
    );
    assert_eq!(ran.outcome(3), ("failure", "success"), "{:?}", ran.logs(3));
    assert_eq!(ran.outcome(4), ("failure", "success"));
    assert!(
        ran.logs(4)
            .iter()
            .any(|line| line.contains("no action.yml")),
        "{:?}",
        ran.logs(4)
    );
    assert_eq!(ran.result.conclusion, Conclusion::Success);
}

#[tokio::test]
async fn local_actions_fail_clearly_when_they_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let spec = job(vec![
        run("mkdir -p act && printf 'runs:\\n  using: node20\\n  main: index.js\\n' > act/action.yaml"),
        uses("./act"),
        run("mkdir -p bad && printf 'runs:\\n  using: composite\\n  steps:\\n    - run: echo no shell\\n' > bad/action.yml").when("always()"),
        uses("./bad").when("always()"),
    ]);
    let ran = run_spec(spec, &options(dir.path())).await;
    assert_eq!(ran.outcome(1), ("failure", "failure"));
    assert!(
        ran.logs(1)
            .iter()
            .any(|line| line.contains("index.js does not exist")),
        "{:?}",
        ran.logs(1)
    );
    assert_eq!(ran.outcome(3), ("failure", "failure"));
    assert!(
        ran.logs(3)
            .iter()
            .any(|line| line.contains("bad/action.yml:4:") && line.contains("shell")),
        "{:?}",
        ran.logs(3)
    );
}
