//! Triggers against real git repositories in temp dirs: a working repository made with the `git`
//! CLI is the source, the engine's bare mirror fetches from it, and the events and decisions come
//! out of the mirror.

use std::path::{Path, PathBuf};
use std::process::Command;

use engine::repos::triggers::mirror::Mirror;
use engine::repos::triggers::payload::{self, RepoInfo};
use engine::repos::triggers::{ChangedPaths, RefUpdate, RepoEvent, decide};
use git2::Oid;

const JOB: &str = "jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n";

/// A working repository (the source) and the engine's mirror of it.
struct World {
    _dir: tempfile::TempDir,
    work: PathBuf,
    mirror: Mirror,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        git(&work, &["init", "-q", "-b", "main"]);
        let mirror =
            Mirror::open_or_create(&dir.path().join("mirror.git"), work.to_str().unwrap()).unwrap();
        World {
            _dir: dir,
            work,
            mirror,
        }
    }

    fn write(&self, path: &str, text: &str) {
        let full = self.work.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }

    fn commit(&self, message: &str) -> Oid {
        git(&self.work, &["add", "-A"]);
        git(
            &self.work,
            &["commit", "-q", "--allow-empty", "-m", message],
        );
        self.head()
    }

    fn head(&self) -> Oid {
        Oid::from_str(git(&self.work, &["rev-parse", "HEAD"]).trim()).unwrap()
    }

    fn git(&self, args: &[&str]) -> String {
        git(&self.work, args)
    }

    fn info(&self) -> RepoInfo {
        self.mirror.info("acme/rocket")
    }

    /// Fetches and turns what moved into events.
    fn fetch_events(&self) -> (Vec<RefUpdate>, Vec<RepoEvent>) {
        let updates = self.mirror.fetch().unwrap();
        let events =
            payload::events_for_updates(self.mirror.repository(), &self.info(), "alice", &updates)
                .unwrap();
        (updates, events)
    }

    /// The files each running workflow, for an event, as read at the event's commit.
    fn running(&self, event: &RepoEvent) -> Vec<String> {
        let files = self.mirror.workflows_at(event.sha.unwrap()).unwrap();
        decide(&files, &event.trigger_event())
            .into_iter()
            .filter(|d| d.triggers)
            .map(|d| d.file)
            .collect()
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=Alice",
            "-c",
            "user.email=alice@example.org",
        ])
        .args(["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn workflow(on: &str) -> String {
    format!("on:\n{on}{JOB}")
}

/// main with three workflows: one path-filtered, one for tags, one for branches.
fn standard_world() -> (World, Oid) {
    let world = World::new();
    world.write(
        ".github/workflows/src.yml",
        &workflow("  push:\n    paths: ['src/**']\n"),
    );
    world.write(
        ".github/workflows/release.yml",
        &workflow("  push:\n    tags: ['v*']\n"),
    );
    world.write(
        ".github/workflows/branches.yml",
        &workflow("  push:\n    branches: ['**']\n"),
    );
    world.write("src/main.rs", "fn main() {}\n");
    world.write("docs/index.md", "# docs\n");
    let first = world.commit("first");
    (world, first)
}

fn push_events(events: &[RepoEvent]) -> Vec<&RepoEvent> {
    events.iter().filter(|e| e.name == "push").collect()
}

#[test]
fn first_fetch_reports_created_branch_and_default_branch() {
    let (world, first) = standard_world();
    let (updates, events) = world.fetch_events();
    assert_eq!(
        updates,
        vec![RefUpdate::new("refs/heads/main", None, Some(first))]
    );
    assert_eq!(world.mirror.default_branch().as_deref(), Some("main"));
    let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["push", "create"]);
    assert_eq!(events[0].payload["created"], true);
    // A fetch with nothing new reports nothing.
    assert!(world.mirror.fetch().unwrap().is_empty());
}

#[test]
fn docs_only_push_does_not_start_a_src_paths_workflow() {
    let (world, _) = standard_world();
    world.fetch_events();
    world.write("docs/index.md", "# more docs\n");
    world.commit("docs");
    let (_, events) = world.fetch_events();
    let push = push_events(&events)[0];
    assert_eq!(
        push.changed_paths,
        ChangedPaths::Known {
            paths: vec!["docs/index.md".into()],
            total: 1
        }
    );
    let running = world.running(push);
    assert_eq!(running, [".github/workflows/branches.yml"]);
    let files = world.mirror.workflows_at(push.sha.unwrap()).unwrap();
    let decisions = decide(&files, &push.trigger_event());
    let src = decisions
        .iter()
        .find(|d| d.file.ends_with("src.yml"))
        .unwrap();
    assert!(src.reason.contains("paths"), "{}", src.reason);

    world.write("src/lib.rs", "pub fn f() {}\n");
    world.commit("src");
    let (_, events) = world.fetch_events();
    let mut running = world.running(push_events(&events)[0]);
    running.sort();
    assert_eq!(
        running,
        [
            ".github/workflows/branches.yml",
            ".github/workflows/src.yml"
        ]
    );
}

#[test]
fn tag_push_starts_the_tag_workflow_only() {
    let (world, first) = standard_world();
    world.fetch_events();
    world.git(&["tag", "-a", "v1.0", "-m", "release 1.0"]);
    let (updates, events) = world.fetch_events();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].name, "refs/tags/v1.0");
    let push = push_events(&events)[0];
    // An annotated tag: `after` is the tag object, GITHUB_SHA the commit it names.
    assert_eq!(push.sha, Some(first));
    assert_ne!(push.payload["after"], first.to_string());
    assert_eq!(push.payload["base_ref"], "refs/heads/main");
    assert_eq!(world.running(push), [".github/workflows/release.yml"]);
    assert!(
        events
            .iter()
            .any(|e| e.name == "create" && e.payload["ref_type"] == "tag")
    );
}

#[test]
fn more_than_three_tags_at_once_make_no_tag_events() {
    let (world, _) = standard_world();
    world.fetch_events();
    for tag in ["v1", "v2", "v3", "v4"] {
        world.git(&["tag", tag]);
    }
    let (updates, events) = world.fetch_events();
    assert_eq!(updates.len(), 4);
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn deleted_branch_starts_no_push_workflow_but_a_delete_one() {
    let (world, _) = standard_world();
    world.write(".github/workflows/cleanup.yml", &workflow("  delete:\n"));
    let main_tip = world.commit("cleanup workflow");
    world.git(&["branch", "feature"]);
    world.fetch_events();
    world.git(&["branch", "-D", "feature"]);
    let (updates, events) = world.fetch_events();
    assert_eq!(updates.len(), 1);
    assert!(updates[0].is_deleted());
    assert!(push_events(&events).is_empty());
    let [delete] = events.as_slice() else {
        panic!("expected one delete event: {events:?}");
    };
    assert_eq!(delete.name, "delete");
    assert_eq!(delete.payload["ref"], "feature");
    assert_eq!(delete.payload["ref_type"], "branch");
    // GitHub runs `delete` workflows at the default branch.
    assert_eq!(delete.git_ref, "refs/heads/main");
    assert_eq!(delete.sha, Some(main_tip));
    assert_eq!(world.running(delete), [".github/workflows/cleanup.yml"]);
}

#[test]
fn force_push_is_detected() {
    let (world, first) = standard_world();
    world.write("src/a.rs", "a\n");
    let second = world.commit("second");
    world.fetch_events();
    world.git(&["reset", "-q", "--hard", &first.to_string()]);
    world.write("src/b.rs", "b\n");
    let rewritten = world.commit("rewritten");
    let (updates, events) = world.fetch_events();
    assert_eq!(
        updates,
        vec![RefUpdate::new(
            "refs/heads/main",
            Some(second),
            Some(rewritten)
        )]
    );
    let push = push_events(&events)[0];
    assert_eq!(push.payload["forced"], true);
    assert_eq!(push.payload["before"], second.to_string());
    // A two-dot diff: what differs between the trees, the lost file included.
    assert_eq!(
        push.changed_paths.for_filters().unwrap(),
        ["src/a.rs", "src/b.rs"]
    );

    world.write("src/c.rs", "c\n");
    world.commit("fast-forward");
    let (_, events) = world.fetch_events();
    assert_eq!(push_events(&events)[0].payload["forced"], false);
}

#[test]
fn two_pushes_in_a_row_are_two_updates_at_the_right_commits() {
    let (world, first) = standard_world();
    world.fetch_events();
    world.write("src/one.rs", "1\n");
    let one = world.commit("one");
    let (updates, _) = world.fetch_events();
    assert_eq!(
        updates,
        vec![RefUpdate::new("refs/heads/main", Some(first), Some(one))]
    );
    world.write("src/two.rs", "2\n");
    let two = world.commit("two");
    let (updates, events) = world.fetch_events();
    assert_eq!(
        updates,
        vec![RefUpdate::new("refs/heads/main", Some(one), Some(two))]
    );
    assert_eq!(events[0].sha, Some(two));
}

#[test]
fn push_payload_lists_commits_oldest_first() {
    let (world, first) = standard_world();
    world.fetch_events();
    let a = world.commit("a");
    let b = world.commit("b");
    let c = world.commit("c");
    let (_, events) = world.fetch_events();
    let push = push_events(&events)[0];
    let ids: Vec<&str> = push.payload["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [a.to_string(), b.to_string(), c.to_string()]);
    assert_eq!(push.payload["head_commit"]["id"], c.to_string());
    assert_eq!(push.payload["head_commit"]["message"], "c\n");
    assert_eq!(push.payload["ref"], "refs/heads/main");
    assert_eq!(push.payload["before"], first.to_string());
    assert_eq!(push.payload["repository"]["full_name"], "acme/rocket");
    assert_eq!(push.payload["pusher"]["name"], "alice");
    let source = push.source(&world.info(), "alice");
    assert_eq!(source.sha, c.to_string());
    assert_eq!(source.before, first.to_string());
}

#[test]
fn new_branch_compares_with_where_it_left_the_default_branch() {
    let (world, _) = standard_world();
    world.fetch_events();
    world.git(&["checkout", "-q", "-b", "feature"]);
    world.write("docs/feature.md", "feature\n");
    let feature = world.commit("feature docs");
    world.git(&["checkout", "-q", "main"]);
    world.write("src/main.rs", "fn main() { changed(); }\n");
    world.commit("main moves on");
    let (updates, events) = world.fetch_events();
    assert_eq!(updates.len(), 2);
    let feature_push = events
        .iter()
        .find(|e| e.name == "push" && e.git_ref == "refs/heads/feature")
        .unwrap();
    assert_eq!(feature_push.sha, Some(feature));
    assert_eq!(
        feature_push.changed_paths.for_filters().unwrap(),
        ["docs/feature.md"]
    );
    assert_eq!(feature_push.payload["commits"].as_array().unwrap().len(), 1);
    assert!(
        !world
            .running(feature_push)
            .contains(&".github/workflows/src.yml".to_string())
    );
    assert!(
        events
            .iter()
            .any(|e| e.name == "create" && e.git_ref == "refs/heads/feature")
    );
}

#[test]
fn branch_created_at_an_existing_commit_changed_nothing() {
    let (world, _) = standard_world();
    world.fetch_events();
    world.git(&["branch", "copy"]);
    let (_, events) = world.fetch_events();
    let push = push_events(&events)[0];
    assert_eq!(push.changed_paths, ChangedPaths::none());
    assert_eq!(push.payload["commits"].as_array().unwrap().len(), 0);
    assert_eq!(world.running(push), [".github/workflows/branches.yml"]);
}

#[test]
fn workflows_are_read_from_the_pushed_commit_not_the_working_tree() {
    let (world, _) = standard_world();
    world.fetch_events();
    world.write(".github/workflows/broken.yml", "on: push\njobs: [\n");
    let broken = world.commit("broken workflow");
    // Uncommitted changes in the working tree are not seen.
    world.write(".github/workflows/uncommitted.yml", &workflow("  push:\n"));
    let (_, events) = world.fetch_events();
    let push = push_events(&events)[0];
    let files = world.mirror.workflows_at(broken).unwrap();
    assert!(files.iter().all(|f| !f.path.ends_with("uncommitted.yml")));
    let decisions = decide(&files, &push.trigger_event());
    let bad = decisions
        .iter()
        .find(|d| d.file.ends_with("broken.yml"))
        .unwrap();
    assert!(bad.invalid && !bad.triggers);
    assert!(!bad.diagnostics.is_empty());
}

#[test]
fn checkout_points_runners_at_the_mirror() {
    let (world, first) = standard_world();
    world.fetch_events();
    let checkout = world.mirror.checkout(first, Some("refs/heads/main"));
    assert_eq!(checkout.sha, first.to_string());
    let clone = tempfile::tempdir().unwrap();
    git(clone.path(), &["init", "-q"]);
    git(
        clone.path(),
        &["fetch", "-q", &checkout.repository, &checkout.sha],
    );
    let fetched = git(clone.path(), &["rev-parse", "FETCH_HEAD"]);
    assert_eq!(fetched.trim(), first.to_string());
}

#[test]
fn refs_typed_by_users_resolve_like_github_names_them() {
    let (world, _) = standard_world();
    world.git(&["tag", "v1"]);
    world.git(&["branch", "both"]);
    world.git(&["tag", "both"]);
    let repo = git2::Repository::open(&world.work).unwrap();
    use engine::repos::triggers::mirror::resolve_ref;
    assert_eq!(resolve_ref(&repo, "main"), "refs/heads/main");
    assert_eq!(resolve_ref(&repo, "v1"), "refs/tags/v1");
    assert_eq!(resolve_ref(&repo, "both"), "refs/heads/both");
    assert_eq!(resolve_ref(&repo, "not-yet"), "refs/heads/not-yet");
    assert_eq!(resolve_ref(&repo, "refs/tags/x"), "refs/tags/x");
}

#[test]
fn a_missing_source_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mirror = Mirror::open_or_create(
        &dir.path().join("m.git"),
        dir.path().join("nowhere").to_str().unwrap(),
    )
    .unwrap();
    let error = mirror.fetch().unwrap_err().to_string();
    assert!(error.starts_with("fetch "), "{error}");
    // Reopening keeps the mirror and its source.
    assert!(Mirror::open(&dir.path().join("m.git")).is_ok());
}
