//! How a person names a run, resolved in one place for every route that takes a run id (the
//! CLI and the web UI agree because both go through here): a full run id, a unique prefix of
//! one (at least 8 characters), `WORKFLOW#NUMBER[.ATTEMPT]` (`ci.yml#12`, `ci#12.2`; the
//! workflow by its path, file name or file stem), or a bare `NUMBER`/`#NUMBER` when only one
//! workflow has a run with that number. Without an attempt the newest attempt is meant.
//! Also the filters of `GET /api/v1/runs` (`repo`, `workflow`, `branch`, `status`, `actor`).
//!
//! This file must not change state; it reads run records only.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use protocol::wire::RunView;
use serde::Deserialize;
use serde_json::Value;

use super::extract::ApiError;
use super::reads::run_view;
use crate::runs::dispatch::Engine;
use crate::store::{RunId, RunRecord, Store};

/// The shortest run id prefix accepted: shorter ones match too much to be typed safely.
pub(crate) const MIN_PREFIX: usize = 8;

/// How many candidates an ambiguity error lists.
const LISTED: usize = 10;

#[derive(Debug, Deserialize)]
pub(crate) struct ResolveQuery {
    #[serde(rename = "ref")]
    reference: String,
}

/// `GET /api/v1/runs/resolve?ref=REF`: the run a reference names (400 when it is malformed or
/// ambiguous, listing the candidates; 404 when nothing matches).
pub(crate) async fn resolve(
    State(engine): State<Arc<Engine>>,
    Query(query): Query<ResolveQuery>,
) -> Result<Json<RunView>, ApiError> {
    let run_id = resolve_run_id(engine.store(), &query.reference)?;
    let run = engine
        .store()
        .run(run_id)?
        .ok_or_else(|| ApiError::not_found(format!("find run {run_id}")))?;
    Ok(Json(run_view(&run)))
}

/// The run `reference` names (see the module's comment), or why none can be chosen.
pub(crate) fn resolve_run_id(store: &Store, reference: &str) -> Result<RunId, ApiError> {
    let text = reference.trim();
    if let Ok(run_id) = text.parse::<RunId>() {
        return Ok(run_id);
    }
    if text.is_empty() {
        return Err(ApiError::bad_request(
            "find a run: the run reference is empty",
        ));
    }
    let runs = store.runs()?;
    let parsed = parse_reference(text)?;
    let matching: Vec<&RunRecord> = match &parsed {
        Reference::Prefix(prefix) => runs
            .iter()
            .filter(|run| run.run_id.to_string().starts_with(prefix.as_str()))
            .collect(),
        Reference::Number {
            workflow,
            number,
            attempt,
        } => {
            let mut numbered: Vec<&RunRecord> = runs
                .iter()
                .filter(|run| run.run_number == *number)
                .filter(|run| {
                    workflow
                        .as_deref()
                        .is_none_or(|name| workflow_matches(&run.workflow, name))
                })
                .filter(|run| attempt.is_none_or(|attempt| attempt_of(run) == attempt))
                .collect();
            // Attempts of one run share its number: without an attempt the newest stands
            // for them.
            numbered.sort_by_key(|run| std::cmp::Reverse(attempt_of(run)));
            let mut seen: Vec<&str> = Vec::new();
            numbered.retain(|run| {
                let first = !seen.contains(&run.workflow.as_str());
                seen.push(run.workflow.as_str());
                first
            });
            numbered
        }
    };
    match matching.as_slice() {
        [only] => Ok(only.run_id),
        [] => Err(ApiError::not_found(format!(
            "find run `{text}`: no run matches{}",
            match parsed {
                Reference::Prefix(_) => " that id prefix",
                Reference::Number { .. } => "",
            }
        ))),
        several => {
            let listed: Vec<String> = several
                .iter()
                .take(LISTED)
                .map(|run| {
                    format!(
                        "{} ({}#{}.{})",
                        run.run_id,
                        run.workflow,
                        run.run_number,
                        attempt_of(run)
                    )
                })
                .collect();
            let more = several.len().saturating_sub(LISTED);
            Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "find run `{text}`: {} runs match ({}{}); give more of the id or WORKFLOW#NUMBER",
                    several.len(),
                    listed.join(", "),
                    if more > 0 {
                        format!(", and {more} more")
                    } else {
                        String::new()
                    }
                ),
            ))
        }
    }
}

/// The filters `GET /api/v1/runs` takes; `None` matches every run.
#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct RunFilter {
    /// The watched repository's name (`details.repository`).
    pub repo: Option<String>,
    /// The workflow: its path, file name or file stem.
    pub workflow: Option<String>,
    /// A branch name (`main`) or a full ref (`refs/heads/main`, `refs/tags/v1`).
    pub branch: Option<String>,
    /// A status (`queued`, `in_progress`, `completed`) or a conclusion (`success`, `failure`,
    /// `cancelled`, `skipped`).
    pub status: Option<String>,
    /// Who started the run (`details.actor`).
    pub actor: Option<String>,
    /// At most this many runs, newest first.
    pub limit: Option<usize>,
}

impl RunFilter {
    /// Whether `run` passes every filter given.
    pub(crate) fn admits(&self, run: &RunRecord) -> bool {
        let detail = |key: &str| run.details.get(key).and_then(Value::as_str);
        if let Some(repo) = self.repo.as_deref()
            && detail("repository") != Some(repo)
        {
            return false;
        }
        if let Some(workflow) = self.workflow.as_deref()
            && !workflow_matches(&run.workflow, workflow)
        {
            return false;
        }
        if let Some(branch) = self.branch.as_deref() {
            let git_ref = detail("ref").unwrap_or_default();
            let short = git_ref
                .strip_prefix("refs/heads/")
                .or_else(|| git_ref.strip_prefix("refs/tags/"))
                .unwrap_or(git_ref);
            if git_ref != branch && short != branch {
                return false;
            }
        }
        if let Some(status) = self.status.as_deref() {
            let conclusion = run.conclusion.map(|conclusion| conclusion.as_str());
            if run.status.as_str() != status && conclusion != Some(status) {
                return false;
            }
        }
        if let Some(actor) = self.actor.as_deref()
            && detail("actor") != Some(actor)
        {
            return false;
        }
        true
    }
}

/// Whether `name` names the workflow at `path` (`.github/workflows/ci.yml`, `ci.yml`, `ci`).
pub(crate) fn workflow_matches(path: &str, name: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file
        .strip_suffix(".yml")
        .or_else(|| file.strip_suffix(".yaml"))
        .unwrap_or(file);
    path == name || file == name || stem == name
}

#[derive(Debug, PartialEq, Eq)]
enum Reference {
    Prefix(String),
    Number {
        workflow: Option<String>,
        number: u64,
        attempt: Option<u64>,
    },
}

fn parse_reference(text: &str) -> Result<Reference, ApiError> {
    let malformed = |why: &str| {
        ApiError::bad_request(format!(
            "find run `{text}`: {why} (give a run id, a prefix of one of at least {MIN_PREFIX} characters, or WORKFLOW#NUMBER[.ATTEMPT])"
        ))
    };
    let (workflow, numbered) = match text.rsplit_once('#') {
        Some((workflow, numbered)) => {
            let workflow = workflow.trim();
            (
                (!workflow.is_empty()).then(|| workflow.to_string()),
                numbered,
            )
        }
        None if text.bytes().all(|byte| byte.is_ascii_digit()) => (None, text),
        None => {
            let lower = text.to_ascii_lowercase();
            if !lower
                .bytes()
                .all(|byte| byte.is_ascii_hexdigit() || byte == b'-')
            {
                return Err(malformed("not a run id"));
            }
            if lower.len() < MIN_PREFIX {
                return Err(malformed("a run id prefix is too short"));
            }
            return Ok(Reference::Prefix(lower));
        }
    };
    let (number, attempt) = match numbered.split_once('.') {
        Some((number, attempt)) => (number, Some(attempt)),
        None => (numbered, None),
    };
    let number: u64 = number
        .trim()
        .parse()
        .map_err(|_| malformed("the run number is not a number"))?;
    let attempt = attempt
        .map(|attempt| attempt.trim().parse::<u64>())
        .transpose()
        .map_err(|_| malformed("the attempt is not a number"))?;
    Ok(Reference::Number {
        workflow,
        number,
        attempt,
    })
}

fn attempt_of(run: &RunRecord) -> u64 {
    run.details
        .get("attempt")
        .and_then(Value::as_u64)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(workflow: Option<&str>, number: u64, attempt: Option<u64>) -> Reference {
        Reference::Number {
            workflow: workflow.map(str::to_string),
            number,
            attempt,
        }
    }

    #[test]
    fn references_parse() {
        let ok = |text: &str| parse_reference(text).unwrap();
        assert_eq!(ok("ci.yml#12"), number(Some("ci.yml"), 12, None));
        assert_eq!(ok("ci#12.2"), number(Some("ci"), 12, Some(2)));
        assert_eq!(ok("#3"), number(None, 3, None));
        assert_eq!(ok("3"), number(None, 3, None));
        assert_eq!(ok("0190A1B2"), Reference::Prefix("0190a1b2".into()));
        assert_eq!(
            ok("0190a1b2-0000"),
            Reference::Prefix("0190a1b2-0000".into())
        );
        for bad in ["0190a1b", "ci#x", "ci#1.y", "main", "ci#"] {
            let error = parse_reference(bad).unwrap_err();
            assert_eq!(error.status, StatusCode::BAD_REQUEST, "{bad}");
            assert!(error.message.contains(bad), "{}", error.message);
        }
    }

    #[test]
    fn workflows_match_by_path_file_or_stem() {
        for name in [".github/workflows/ci.yml", "ci.yml", "ci"] {
            assert!(workflow_matches(".github/workflows/ci.yml", name), "{name}");
        }
        assert!(workflow_matches("ci.yaml", "ci"));
        assert!(!workflow_matches("ci.yml", "c"));
        assert!(!workflow_matches("release.yml", "ci"));
    }
}
