//! `slipway plan`: what would run for an event, and why not. Reads the workflows at a commit of
//! a local checkout (or an engine mirror), never the working tree, and prints for every workflow
//! whether it starts and which filter decided. Offline: no engine is contacted.

use std::path::{Path, PathBuf};

use engine::repos::triggers::mirror::{self, Mirror};
use engine::repos::triggers::paths::{self, ChangedPaths};
use engine::repos::triggers::refs::RefUpdate;
use engine::repos::triggers::{WorkflowDecision, WorkflowFile, decide};
use git2::{Oid, Repository};
use serde_json::json;
use workflows::filters::TriggerEvent;

use crate::exit;

mod pull;

pub(crate) struct PlanRequest {
    pub directory: PathBuf,
    /// A repository the engine watches, read from its mirror under `data_dir`.
    pub repo: Option<String>,
    pub data_dir: PathBuf,
    pub event: String,
    pub action: Option<String>,
    pub git_ref: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub paths: Option<Vec<String>>,
    /// `pull_request`: the base branch.
    pub base: Option<String>,
    /// `pull_request`: the head commit or branch.
    pub head: Option<String>,
    pub json: bool,
}

/// Where the workflows were read from and what the filters were given.
struct Situation {
    git_ref: String,
    /// The ref the filters match when it is not `git_ref` (a pull request's base branch).
    filter_ref: Option<String>,
    /// What else the reader should know (a pull request's base, head and merge).
    notes: Vec<String>,
    commit: Option<Oid>,
    source: String,
    changed: ChangedPaths,
    changed_how: String,
    files: Vec<WorkflowFile>,
}

pub(crate) fn run(request: PlanRequest) -> i32 {
    let situation = match situation(&request) {
        Ok(situation) => situation,
        Err(message) => {
            eprintln!("error: {message}");
            return exit::USAGE;
        }
    };
    let is_pull = pull::is_pull_event(&request.event);
    let event = TriggerEvent {
        name: request.event.clone(),
        action: match &request.action {
            Some(action) => Some(action.clone()),
            None if is_pull => Some(pull::DEFAULT_ACTION.to_string()),
            None => None,
        },
        git_ref: Some(
            situation
                .filter_ref
                .clone()
                .unwrap_or_else(|| situation.git_ref.clone()),
        ),
        changed_paths: situation.changed.for_filters(),
    };
    let decisions = decide(&situation.files, &event);
    if request.json {
        print_json(&request, &situation, &decisions);
    } else {
        print_text(&request, &situation, &decisions);
    }
    exit::SUCCESS
}

fn situation(request: &PlanRequest) -> Result<Situation, String> {
    let repo = match &request.repo {
        Some(name) => {
            let path = mirror::mirror_path(&request.data_dir, name);
            let mirror =
                Mirror::open(&path).map_err(|e| format!("open repository `{name}`: {e}"))?;
            Some(Repository::open_bare(mirror.path()).map_err(|e| e.to_string())?)
        }
        None => Repository::discover(&request.directory).ok(),
    };
    match repo {
        Some(repo) if pull::is_pull_event(&request.event) => pull::situation(request, &repo),
        Some(repo) => from_repository(request, &repo),
        None => from_folder(request, &request.directory),
    }
}

/// A directory outside any repository: its files as they are, and only the paths given.
fn from_folder(request: &PlanRequest, dir: &Path) -> Result<Situation, String> {
    if request.before.is_some() || request.after.is_some() {
        return Err(format!(
            "{} is not a git repository, so --before/--after cannot be read",
            dir.display()
        ));
    }
    let files = mirror::workflows_in_folder(dir).map_err(|e| format!("failed to {e}"))?;
    let git_ref = match request.git_ref.as_deref() {
        Some(name) if name.starts_with("refs/") => name.to_string(),
        Some(name) => format!("refs/heads/{name}"),
        None => "refs/heads/main".to_string(),
    };
    let (changed, changed_how) = match &request.paths {
        Some(list) => (
            ChangedPaths::from_list(list.clone()),
            "given with --paths".into(),
        ),
        None => (
            ChangedPaths::Unknown {
                reason: "not a git repository and no --paths given".into(),
            },
            "unknown".into(),
        ),
    };
    Ok(Situation {
        git_ref,
        filter_ref: None,
        notes: Vec::new(),
        commit: None,
        source: format!("the folder {} (not a git repository)", dir.display()),
        changed,
        changed_how,
        files,
    })
}

fn from_repository(request: &PlanRequest, repo: &Repository) -> Result<Situation, String> {
    let git_ref = match request.git_ref.as_deref() {
        Some(name) => mirror::resolve_ref(repo, name),
        None => repo
            .head()
            .ok()
            .and_then(|head| head.name().ok().map(str::to_string))
            .filter(|name| name.starts_with("refs/"))
            .unwrap_or_else(|| "refs/heads/main".to_string()),
    };
    let commit = match request.after.as_deref() {
        Some(spec) => revparse_commit(repo, spec)?,
        None => match repo.refname_to_id(&git_ref) {
            Ok(oid) => paths::peel_to_commit(repo, oid).map_err(|e| format!("failed to {e}"))?,
            Err(_) => revparse_commit(repo, "HEAD")
                .map_err(|_| format!("`{git_ref}` does not exist and there is no HEAD commit"))?,
        },
    };
    let files = mirror::workflows_at(repo, commit).map_err(|e| format!("failed to {e}"))?;
    let (changed, changed_how) = match (&request.paths, request.before.as_deref()) {
        (Some(list), _) => (
            ChangedPaths::from_list(list.clone()),
            "given with --paths".to_string(),
        ),
        (None, Some(before)) => {
            let old = if before.bytes().all(|b| b == b'0') {
                None
            } else {
                Some(revparse_commit(repo, before)?)
            };
            let update = RefUpdate::new(git_ref.clone(), old, Some(commit));
            let known = other_ref_values(repo, &git_ref);
            let how = match old {
                Some(old) => format!("diff {}..{}", short(old), short(commit)),
                None => "a created ref: diff from the parent of its deepest new commit".to_string(),
            };
            let changed = paths::changed_paths(repo, &update, &known)
                .map_err(|e| format!("failed to {e}"))?;
            (changed, how)
        }
        (None, None) => {
            let parent = repo
                .find_commit(commit)
                .ok()
                .and_then(|c| c.parent_id(0).ok());
            let listed =
                paths::diff_paths(repo, parent, commit).map_err(|e| format!("failed to {e}"))?;
            let how = match parent {
                Some(parent) => format!("diff {}..{} (its parent)", short(parent), short(commit)),
                None => format!("every file of root commit {}", short(commit)),
            };
            (ChangedPaths::from_list(listed), how)
        }
    };
    Ok(Situation {
        git_ref,
        filter_ref: None,
        notes: Vec::new(),
        commit: Some(commit),
        source: format!("commit {commit}"),
        changed,
        changed_how,
        files,
    })
}

fn revparse_commit(repo: &Repository, spec: &str) -> Result<Oid, String> {
    repo.revparse_single(spec)
        .and_then(|object| object.peel_to_commit())
        .map(|commit| commit.id())
        .map_err(|e| format!("`{spec}` names no commit: {}", e.message()))
}

fn other_ref_values(repo: &Repository, except: &str) -> Vec<Oid> {
    let Ok(references) = repo.references() else {
        return Vec::new();
    };
    references
        .flatten()
        .filter(|reference| reference.name().ok() != Some(except))
        .filter_map(|reference| reference.peel_to_commit().ok().map(|c| c.id()))
        .collect()
}

fn short(oid: Oid) -> String {
    oid.to_string().chars().take(12).collect()
}

fn print_text(request: &PlanRequest, situation: &Situation, decisions: &[WorkflowDecision]) {
    println!("event:   {}", request.event);
    println!("ref:     {}", situation.git_ref);
    println!("read at: {}", situation.source);
    for note in &situation.notes {
        println!("{note}");
    }
    let uses_paths = matches!(
        request.event.as_str(),
        "push" | "pull_request" | "pull_request_target"
    );
    match &situation.changed {
        _ if !uses_paths => {}
        ChangedPaths::Known { paths, total } => {
            let cut = if *total > paths.len() {
                format!(
                    ", only the first {} considered (GitHub's limit)",
                    paths.len()
                )
            } else {
                String::new()
            };
            println!("changed: {total} file(s), {}{cut}", situation.changed_how);
            for path in paths.iter().take(10) {
                println!("         {path}");
            }
            if paths.len() > 10 {
                println!("         … {} more", paths.len() - 10);
            }
        }
        ChangedPaths::Unknown { reason } => {
            println!("changed: unknown ({reason}); path filters do not exclude")
        }
    }
    println!();
    if decisions.is_empty() {
        println!("no workflow files under .github/workflows");
        return;
    }
    for decision in decisions {
        let verdict = if decision.triggers { "RUN " } else { "SKIP" };
        println!("{verdict}  {}  {}", decision.file, decision.reason);
    }
}

fn print_json(request: &PlanRequest, situation: &Situation, decisions: &[WorkflowDecision]) {
    let changed = match &situation.changed {
        ChangedPaths::Known { paths, total } => {
            json!({"known": true, "paths": paths, "total": total, "how": situation.changed_how})
        }
        ChangedPaths::Unknown { reason } => json!({"known": false, "reason": reason}),
    };
    let report = json!({
        "event": request.event,
        "ref": situation.git_ref,
        "sha": situation.commit.map(|c| c.to_string()),
        "filter_ref": situation.filter_ref,
        "notes": situation.notes,
        "changed_paths": changed,
        "workflows": decisions,
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&report).unwrap_or_else(|_| report.to_string())
    );
}
