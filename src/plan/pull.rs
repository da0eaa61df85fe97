//! `slipway plan --event pull_request|pull_request_target`: the commit a pull request's runs
//! would read their workflows at, and what its filters are given — as the engine does it
//! (`engine::forge`): `pull_request` at the merge of the head into the base branch,
//! `pull_request_target` at the base branch's tip; `branches` match the base branch, `paths` the
//! files the head changes against the merge base, `types` the activity (`opened` unless
//! `--action` says otherwise).
//!
//! The head is `--head`, else the `refs/pull/N/head` that `--ref refs/pull/N/merge` names; an
//! existing `refs/pull/N/merge` (a forge's, or the engine mirror's) is read as it is. A merge
//! built here writes objects into the repository's object database and no ref.

use engine::forge::merge::{changed_files, merged_tree};
use engine::repos::triggers::mirror;
use git2::{Oid, Repository};

use super::{PlanRequest, Situation, revparse_commit, short};

/// The activity a plan assumes when `--action` is not given.
pub(super) const DEFAULT_ACTION: &str = "opened";

/// Whether `event` is planned here.
pub(super) fn is_pull_event(event: &str) -> bool {
    matches!(event, "pull_request" | "pull_request_target")
}

pub(super) fn situation(request: &PlanRequest, repo: &Repository) -> Result<Situation, String> {
    let given = request.git_ref.as_deref().unwrap_or("");
    let number = given
        .strip_prefix("refs/pull/")
        .and_then(|rest| rest.split('/').next())
        .filter(|number| !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_string);
    let base_name = match &request.base {
        Some(base) => base.trim_start_matches("refs/heads/").to_string(),
        None => repo
            .find_reference("HEAD")
            .ok()
            .and_then(|head| head.symbolic_target().ok().flatten().map(str::to_string))
            .and_then(|target| target.strip_prefix("refs/heads/").map(str::to_string))
            .unwrap_or_else(|| "main".to_string()),
    };
    let base = revparse_commit(repo, &format!("refs/heads/{base_name}"))
        .map_err(|_| format!("the base branch `{base_name}` does not exist (give --base)"))?;
    let merge_ref = number.as_ref().map(|n| format!("refs/pull/{n}/merge"));
    let head = match (&request.head, &number) {
        (Some(head), _) => revparse_commit(repo, head)?,
        (None, Some(n)) => {
            match revparse_commit(repo, &format!("refs/pull/{n}/head")) {
                Ok(head) => head,
                Err(_) => {
                    // Only the merge exists: its second parent is the head.
                    let merge = revparse_commit(repo, &format!("refs/pull/{n}/merge")).map_err(|_| {
                    format!("neither refs/pull/{n}/head nor refs/pull/{n}/merge exists; give --head")
                })?;
                    repo.find_commit(merge)
                        .ok()
                        .and_then(|commit| commit.parent_id(1).ok())
                        .ok_or_else(|| {
                            format!("refs/pull/{n}/merge is not a merge commit; give --head")
                        })?
                }
            }
        }
        (None, None) if !given.is_empty() => revparse_commit(repo, given)?,
        (None, None) => {
            return Err(
                "a pull request plan needs --ref refs/pull/N/merge or --head COMMIT".to_string(),
            );
        }
    };
    let display_ref = merge_ref
        .clone()
        .unwrap_or_else(|| "refs/pull/N/merge".to_string());
    let changed = match &request.paths {
        Some(list) => engine::repos::triggers::ChangedPaths::from_list(list.clone()),
        None => changed_files(repo, Some(base), head).map_err(|e| format!("failed to {e}"))?,
    };
    let changed_how = match (&request.paths, repo.merge_base(base, head).ok()) {
        (Some(_), _) => "given with --paths".to_string(),
        (None, Some(from)) => format!(
            "diff {}...{} (the head against its merge base with {base_name})",
            short(from),
            short(head)
        ),
        (None, None) => "every file of the head (no history shared with the base)".to_string(),
    };
    let mut notes = vec![
        format!("base:    {base_name} at {}", short(base)),
        format!("head:    {}", short(head)),
    ];
    let (git_ref, commit, source, files) = if request.event == "pull_request_target" {
        let files = mirror::workflows_at(repo, base).map_err(|e| format!("failed to {e}"))?;
        notes.push("pull_request_target runs the base's workflows at its tip, with secrets".into());
        (
            format!("refs/heads/{base_name}"),
            Some(base),
            format!("commit {base} (the base branch's tip)"),
            files,
        )
    } else {
        let existing = merge_ref
            .as_ref()
            .and_then(|name| revparse_commit(repo, name).ok())
            .filter(|merge| {
                repo.find_commit(*merge)
                    .map(|c| c.parent_ids().collect::<Vec<Oid>>() == [base, head])
                    .unwrap_or(false)
            });
        match existing {
            Some(merge) => {
                let files =
                    mirror::workflows_at(repo, merge).map_err(|e| format!("failed to {e}"))?;
                (
                    display_ref,
                    Some(merge),
                    format!("merge commit {merge}"),
                    files,
                )
            }
            None => match merged_tree(repo, base, head).map_err(|e| format!("failed to {e}"))? {
                Ok(tree) => {
                    let files =
                        mirror::workflows_at(repo, tree).map_err(|e| format!("failed to {e}"))?;
                    (
                        display_ref,
                        None,
                        format!("the merge of {} into {base_name} (built here)", short(head)),
                        files,
                    )
                }
                Err(paths) => {
                    return Err(format!(
                        "the head {} does not merge cleanly into {base_name} (conflicts: {}): a pull_request event starts no run",
                        short(head),
                        paths.join(", ")
                    ));
                }
            },
        }
    };
    Ok(Situation {
        git_ref,
        filter_ref: Some(format!("refs/heads/{base_name}")),
        notes,
        commit,
        source,
        changed,
        changed_how,
        files,
    })
}
