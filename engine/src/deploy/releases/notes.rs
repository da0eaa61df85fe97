//! Release notes in the engine: at `release create` without notes, the commits between the
//! previous release's commit and this one are read from the mirror (on a blocking thread) and
//! assembled by `deploy::assemble_notes`; `release notes TAG --edit-file F` replaces them.
//!
//! This module must not serve HTTP (`api::releases` does) nor know sled.

use std::path::PathBuf;

use deploy::{AuditAction, AuditEntry, AuditSubject, NoteCommit, Release, assemble_notes};
use git2::{Oid, Repository, Sort};
use jiff::Timestamp;

use super::{
    Located, ReleaseChange, ReleaseServiceError, Releases, blocking, check_actor, check_tag,
};
use crate::store::{RecordKind, RepoRecord};

/// At most this many commits are listed (a first release of a long history).
const MAX_COMMITS: usize = 1_000;

impl Releases {
    /// Notes for a new release of `repository` at `sha`: the commits since the newest earlier
    /// release of the repository (all of them for the first).
    pub(super) async fn assembled_notes(
        &self,
        repo: &RepoRecord,
        repository: &str,
        sha: &str,
    ) -> Result<String, ReleaseServiceError> {
        let earlier: Vec<Release> = self
            .engine
            .store()
            .records(RecordKind::Releases, &format!("{repository}\0"))?;
        let previous = earlier.into_iter().max_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.tag.cmp(&b.tag))
        });
        let path = PathBuf::from(&repo.mirror_path);
        let to = sha.to_string();
        let from = previous.as_ref().map(|release| release.sha.clone());
        let commits = blocking(move || {
            commits_between(&path, from.as_deref(), &to).map_err(ReleaseServiceError::Git)
        })
        .await?;
        Ok(assemble_notes(
            &commits,
            previous.as_ref().map(|release| release.tag.as_str()),
        ))
    }

    /// Replaces a release's notes (what `release` workflows see as `github.event.release.body`
    /// from then on).
    pub async fn set_notes(
        &self,
        tag: &str,
        repo: Option<&str>,
        notes: String,
        actor: &str,
        now: Timestamp,
    ) -> Result<ReleaseChange, ReleaseServiceError> {
        check_tag(tag)?;
        check_actor("actor", actor)?;
        let _guard = self.lock.lock().await;
        let Located { mut release, .. } = self.locate(tag, repo)?;
        release.notes = notes;
        let audit = AuditEntry::new(
            now,
            actor,
            AuditAction::ReleaseNotesEdited,
            "",
            AuditSubject::Release {
                tag: release.tag.clone(),
            },
            format!("{} notes edited", release.tag),
        );
        self.save(&release, &[&audit]).await?;
        Ok(ReleaseChange {
            state: "edited".into(),
            message: format!("notes of {} replaced", release.tag),
            release,
            actions: Vec::new(),
            runs: Vec::new(),
        })
    }
}

/// The commits reachable from `to` and not from `from`, newest first (merges included).
fn commits_between(
    mirror: &std::path::Path,
    from: Option<&str>,
    to: &str,
) -> Result<Vec<NoteCommit>, String> {
    let repository = Repository::open_bare(mirror)
        .or_else(|_| Repository::open(mirror))
        .map_err(|error| format!("open {}: {error}", mirror.display()))?;
    let mut walk = repository.revwalk().map_err(|error| error.to_string())?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::TIME)
        .map_err(|error| error.to_string())?;
    let to = Oid::from_str(to).map_err(|error| format!("commit `{to}`: {error}"))?;
    walk.push(to).map_err(|error| error.to_string())?;
    if let Some(from) = from
        && let Ok(from) = Oid::from_str(from)
        && repository.find_commit(from).is_ok()
    {
        walk.hide(from).map_err(|error| error.to_string())?;
    }
    let mut commits = Vec::new();
    for oid in walk.take(MAX_COMMITS) {
        let oid = oid.map_err(|error| error.to_string())?;
        let commit = repository
            .find_commit(oid)
            .map_err(|error| error.to_string())?;
        commits.push(NoteCommit {
            sha: oid.to_string(),
            message: String::from_utf8_lossy(commit.message_bytes()).into_owned(),
        });
    }
    Ok(commits)
}
