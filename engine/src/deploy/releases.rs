//! The releases service: creating a release of a watched repository's tag, promoting it to an
//! audience in an environment (behind the environment's release approvals), approving a waiting
//! promotion, withdrawing and deleting it, and the "deployed beside released" view. Each change
//! fires the repository's `release` workflows through a [`RunStarter`] and leaves an entry in the
//! audit log.
//!
//! The rules are `deploy`'s (`promote`, `withdraw`, `delete_release`, `approve`,
//! `environment_views`); this module reads and writes their records and starts the runs. Records:
//! releases under `<repository>\0<tag>` (`repository` is `owner/name` as
//! `event::source_at_ref` computes it, the same string deployments carry), approvals under
//! `release:<tag>:<environment>`, audit entries under `Store::sortable_key()`.
//!
//! This module must not serve HTTP (`api::releases` does), touch sled (the store does) or decide
//! which workflows an event starts by itself (`triggers::decide` does). Git work runs on blocking
//! threads; callers pass `now`.

pub mod flags;
mod notes;
pub mod plans;
mod policy;

use std::path::PathBuf;
use std::sync::Arc;

use deploy::{
    ApprovalError, ApprovalKey, Audience, AuditAction, AuditEntry, AuditSubject, Decision,
    Deployment, Environment, EnvironmentView, GateRequest, Groups, PromotionRequest, Release,
    ReleaseAction, ReleaseCategory, ReleaseError, ReleaseEvent, environment_views,
};
use git2::Oid;
use jiff::Timestamp;
use serde::Serialize;
use workflows::filters::TriggerEvent;

use crate::repos::RunStarter;
use crate::repos::triggers::{
    ChangedPaths, Mirror, RepoEvent, TriggerError, WorkflowDecision, decide,
};
use crate::runs::dispatch::Engine;
use crate::store::{RecordKind, RepoRecord, Store, StoreError};

/// What went wrong. `Invalid` names the request field at fault; the others carry `deploy`'s
/// sentences.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseServiceError {
    /// The request is wrong: `field` names the part at fault.
    #[error("{field}: {message}")]
    Invalid {
        /// The request field at fault, e.g. `audience` or `created_by`.
        field: &'static str,
        /// What is wrong with it, one sentence.
        message: String,
    },
    /// No release of that tag (in the named repository, or in any watched one).
    #[error("release `{tag}` not found{scope}")]
    NotFound {
        /// The tag asked for, e.g. `v1.4.0`.
        tag: String,
        /// Where it was looked for, as the end of the message: ` in repository `NAME`` or empty.
        scope: String,
    },
    /// `release create` named a tag that already has a release in that repository.
    #[error("release `{tag}` exists already in `{repository}`")]
    Exists {
        /// The tag already released.
        tag: String,
        /// The repository as `owner/name`.
        repository: String,
    },
    /// `deploy` refused: not deployed there, approvals missing, rejected, unchanged…
    #[error("{0}")]
    Refused(String),
    /// An approval that may not be recorded (self approval, not an approver).
    #[error("{0}")]
    Forbidden(String),
    /// Reading or writing the release, approval or audit records failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading the repository's mirror failed (tag not resolvable, commit missing, fetch failed).
    #[error("read git: {0}")]
    Git(String),
}

/// `release create`.
#[derive(Debug, Clone, Default)]
pub struct CreateRelease {
    /// The git tag to release, e.g. `v1.4.0`; it must resolve to a commit of the repository.
    pub tag: String,
    /// The watched repository's name; default: the only one.
    pub repo: Option<String>,
    /// The release's title for people; none (or blank) leaves it untitled.
    pub name: Option<String>,
    /// The release notes (Markdown); blank assembles them from the commits since the previous
    /// release.
    pub notes: String,
    /// The login of the user creating it, recorded in the release and the audit log.
    pub created_by: String,
    /// `major`, `minor` (default), `patch` or `emergency`.
    pub category: Option<String>,
}

/// `release promote`.
#[derive(Debug, Clone, Default)]
pub struct PromoteRelease {
    /// The tag of the release to promote, e.g. `v1.4.0`.
    pub tag: String,
    /// The watched repository's name; default: whichever one has a release of that tag.
    pub repo: Option<String>,
    /// The environment to promote it in, e.g. `production`.
    pub environment: String,
    /// `all`, `10%`, `tier:premium` (parsed here, so the error names the field).
    pub audience: String,
    /// The login of the user asking for the promotion; they may not approve it themselves.
    pub requested_by: String,
}

/// `release approve` (or a rejection).
#[derive(Debug, Clone)]
pub struct ApproveRelease {
    /// The tag of the release whose promotion waits, e.g. `v1.4.0`.
    pub tag: String,
    /// The watched repository's name; default: whichever one has a release of that tag.
    pub repo: Option<String>,
    /// The environment whose release approval is decided.
    pub environment: String,
    /// The login of the user deciding; they must be one of the environment's approvers.
    pub approver: String,
    /// Whether the promotion is approved or rejected.
    pub decision: Decision,
    /// The approver's note, kept with the approval and in the audit log.
    pub comment: Option<String>,
}

/// `release withdraw`.
#[derive(Debug, Clone, Default)]
pub struct WithdrawRelease {
    /// The tag of the release to withdraw, e.g. `v1.4.0`.
    pub tag: String,
    /// The watched repository's name; default: whichever one has a release of that tag.
    pub repo: Option<String>,
    /// The environment to withdraw it from.
    pub environment: String,
    /// The login of the user withdrawing it, recorded in the audit log.
    pub actor: String,
    /// Why it was withdrawn, kept in the audit log.
    pub reason: Option<String>,
}

/// What a change did: the release as it is now, the activity types raised and the runs started.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseChange {
    /// `created`, `promoted`, `waiting`, `approved`, `rejected`, `withdrawn`, `deleted`.
    pub state: String,
    /// One sentence for people.
    pub message: String,
    /// The release record after the change (for `deleted`, as it was).
    pub release: Release,
    /// The GitHub release activity types the change raised (`published`, `released`, …), in
    /// order; each fired the `release` workflows.
    pub actions: Vec<ReleaseAction>,
    /// Runs started by the `release` events (ids).
    pub runs: Vec<String>,
}

/// The service; share it as `Arc<Releases>`.
pub struct Releases {
    engine: Arc<Engine>,
    /// Changes are read-modify-write of one release record: one at a time.
    lock: tokio::sync::Mutex<()>,
}

/// A release and the watched repository it belongs to.
struct Located {
    release: Release,
    repo: RepoRecord,
}

impl Releases {
    /// The releases service of `engine`.
    pub fn new(engine: Arc<Engine>) -> Arc<Releases> {
        Arc::new(Releases {
            engine,
            lock: tokio::sync::Mutex::new(()),
        })
    }

    /// The engine the service reads and starts runs with.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    fn store(&self) -> &Store {
        self.engine.store()
    }

    /// Creates a release of `tag` (it must resolve to a commit of the repository; the mirror is
    /// fetched first). Fires nothing: a new release is available to no one.
    pub async fn create(
        &self,
        request: CreateRelease,
        now: Timestamp,
    ) -> Result<ReleaseChange, ReleaseServiceError> {
        check_tag(&request.tag)?;
        check_actor("created_by", &request.created_by)?;
        let category = match request.category.as_deref() {
            Some(text) => {
                ReleaseCategory::parse(text).map_err(|message| ReleaseServiceError::Invalid {
                    field: "category",
                    message,
                })?
            }
            None => ReleaseCategory::default(),
        };
        let _guard = self.lock.lock().await;
        let repo = self.resolve_repo(request.repo.as_deref())?;
        let (repository, sha) = {
            let path = PathBuf::from(&repo.mirror_path);
            let source = repo.source.clone();
            let tag = request.tag.clone();
            let name = repo.name.clone();
            blocking(move || {
                let mirror = Mirror::open_or_create(&path, &source).map_err(git_error)?;
                if let Err(error) = mirror.fetch() {
                    tracing::warn!(repository = %name, %error, "fetch before release create failed");
                }
                let found = crate::runs::event::source_at_ref(&path, &format!("refs/tags/{tag}"))
                    .map_err(|_| ReleaseServiceError::Invalid {
                        field: "tag",
                        message: format!(
                            "tag `{tag}` does not resolve to a commit in repository `{name}`"
                        ),
                    })?;
                Ok((found.repository, found.sha))
            })
            .await?
        };
        // One identity: the release records the repository's `github.repository` as derived
        // when it was added, as its runs and deployments do.
        let repository = if repo.github_repository.is_empty() {
            repository
        } else {
            repo.github_repository.clone()
        };
        let key = release_key(&repository, &request.tag);
        if self
            .store()
            .record::<Release>(RecordKind::Releases, &key)?
            .is_some()
        {
            return Err(ReleaseServiceError::Exists {
                tag: request.tag,
                repository,
            });
        }
        let name = request.name.filter(|name| !name.trim().is_empty());
        // No notes given: assembled from the commits since the previous release.
        let notes = if request.notes.trim().is_empty() {
            self.assembled_notes(&repo, &repository, &sha).await?
        } else {
            request.notes
        };
        let mut release = Release::new(
            request.tag.clone(),
            sha.clone(),
            repository.clone(),
            name,
            notes,
            request.created_by.clone(),
            now,
        );
        release.category = category;
        let audit = AuditEntry::new(
            now,
            request.created_by,
            AuditAction::ReleaseCreated,
            "",
            AuditSubject::Release {
                tag: request.tag.clone(),
            },
            format!("{} ({category}) at {sha} in {repository}", request.tag),
        );
        self.store()
            .put_records(&[
                (RecordKind::Releases, key, Store::encode_record(&release)),
                self.audit_item(&audit)?,
            ])
            .await?;
        Ok(ReleaseChange {
            state: "created".into(),
            message: format!(
                "release {} created at {} in {repository}",
                release.tag,
                short(&release.sha)
            ),
            release,
            actions: Vec::new(),
            runs: Vec::new(),
        })
    }

    /// Every release, oldest first; only `repo`'s when given.
    pub fn list(&self, repo: Option<&str>) -> Result<Vec<Release>, ReleaseServiceError> {
        let mut releases: Vec<Release> = match repo {
            Some(name) => {
                let repo = self.resolve_repo(Some(name))?;
                let full_name = full_name(&repo)?;
                self.store()
                    .records(RecordKind::Releases, &format!("{full_name}\0"))?
            }
            None => self.store().records(RecordKind::Releases, "")?,
        };
        releases.sort_by_key(|release| release.created_at);
        Ok(releases)
    }

    /// One release by tag (in `repo`, or in whichever watched repository has it).
    pub fn show(&self, tag: &str, repo: Option<&str>) -> Result<Release, ReleaseServiceError> {
        Ok(self.locate(tag, repo)?.release)
    }

    /// Promotes a release to an audience in an environment: allowed only where its commit is
    /// the live deployment, once the environment's release gate is open. A promotion that waits
    /// for approvals is recorded as pending (approve it with [`Releases::approve`]) and refused
    /// with the reasons. Refusals are audited.
    pub async fn promote(
        &self,
        request: PromoteRelease,
        starter: &dyn RunStarter,
        now: Timestamp,
    ) -> Result<ReleaseChange, ReleaseServiceError> {
        check_tag(&request.tag)?;
        check_actor("requested_by", &request.requested_by)?;
        let audience =
            Audience::parse(&request.audience).map_err(|error| ReleaseServiceError::Invalid {
                field: "audience",
                message: error.to_string(),
            })?;
        let _guard = self.lock.lock().await;
        let Located { mut release, repo } = self.locate(&request.tag, request.repo.as_deref())?;
        let environment = self.environment(&request.environment)?;
        let approval_key = approvals_key(&release.tag, &environment.name);
        let approvals: Vec<deploy::Approval> = self
            .store()
            .record(RecordKind::Approvals, &approval_key)?
            .unwrap_or_default();
        // Asking again for the same thing keeps the wait timer running from the first ask.
        let requested_at = release
            .pending
            .get(&environment.name)
            .filter(|pending| {
                pending.audience == audience && pending.requested_by == request.requested_by
            })
            .map_or(now, |pending| pending.requested_at);
        let promotion = PromotionRequest {
            environment: environment.name.clone(),
            audience,
            requested_by: request.requested_by.clone(),
            requested_at,
            approvals,
        };
        self.complete_promotion(&mut release, &repo, &environment, promotion, starter, now)
            .await
    }

    /// Records an approver's decision on a waiting promotion; when that opens the gate the
    /// promotion happens at once (and its workflows start). Self approval is refused.
    pub async fn approve(
        &self,
        request: ApproveRelease,
        starter: &dyn RunStarter,
        now: Timestamp,
    ) -> Result<ReleaseChange, ReleaseServiceError> {
        check_tag(&request.tag)?;
        check_actor("approver", &request.approver)?;
        let _guard = self.lock.lock().await;
        let Located { mut release, repo } = self.locate(&request.tag, request.repo.as_deref())?;
        let environment = self.environment(&request.environment)?;
        let Some(pending) = release.pending.get(&environment.name).cloned() else {
            return Err(ReleaseServiceError::Refused(format!(
                "release `{}` has no promotion waiting for approval in `{}` (ask for one with `slipway release promote {} --env {}`)",
                release.tag, environment.name, release.tag, environment.name
            )));
        };
        let approval_key = approvals_key(&release.tag, &environment.name);
        let mut approvals: Vec<deploy::Approval> = self
            .store()
            .record(RecordKind::Approvals, &approval_key)?
            .unwrap_or_default();
        let gate = GateRequest {
            key: ApprovalKey::for_release(release.tag.clone(), environment.name.clone()),
            actor: pending.requested_by.clone(),
            git_ref: format!("refs/tags/{}", release.tag),
            approvals: approvals.clone(),
            waiting_since: pending.requested_at,
        };
        let groups: Groups = self
            .store()
            .record(RecordKind::EnvironmentState, crate::deploy::GROUPS_KEY)?
            .unwrap_or_default();
        let protection = match deploy::category_gate(&environment, release.category, now) {
            deploy::CategoryGate::Protection(protection) => protection,
            _ => environment.release_protection.clone(),
        };
        let (approval, audit) = deploy::approve(
            &protection,
            &groups,
            &gate,
            &request.approver,
            request.decision,
            request.comment.clone(),
            now,
        )
        .map_err(|error| approval_error(error, &release.tag, &environment.name))?;
        approvals.push(approval);
        self.store()
            .put_records(&[
                (
                    RecordKind::Approvals,
                    approval_key,
                    Store::encode_record(&approvals),
                ),
                self.audit_item(&audit)?,
            ])
            .await?;
        let promotion = PromotionRequest {
            approvals,
            ..pending
        };
        match self
            .complete_promotion(&mut release, &repo, &environment, promotion, starter, now)
            .await
        {
            // Still waiting: the approval itself went through.
            Ok(change) if change.state == "pending" => Ok(ReleaseChange {
                state: "approved".into(),
                message: format!(
                    "{} approved the promotion of {} in {}; {}",
                    request.approver, change.release.tag, environment.name, change.message
                ),
                ..change
            }),
            Ok(change) => Ok(change),
            Err(ReleaseServiceError::Refused(reasons)) if request.decision == Decision::Approve => {
                let still_pending = release.pending.contains_key(&environment.name);
                Ok(ReleaseChange {
                    state: if still_pending { "approved" } else { "refused" }.into(),
                    message: format!(
                        "{} approved the promotion of {} in {}; {reasons}",
                        request.approver, release.tag, environment.name
                    ),
                    release,
                    actions: Vec::new(),
                    runs: Vec::new(),
                })
            }
            Err(ReleaseServiceError::Refused(reasons)) => Ok(ReleaseChange {
                state: "rejected".into(),
                message: reasons,
                release,
                actions: Vec::new(),
                runs: Vec::new(),
            }),
            Err(other) => Err(other),
        }
    }

    /// Withdraws a release from an environment (no approval: taking it away must be quick) and
    /// fires `unpublished`.
    pub async fn withdraw(
        &self,
        request: WithdrawRelease,
        starter: &dyn RunStarter,
        now: Timestamp,
    ) -> Result<ReleaseChange, ReleaseServiceError> {
        check_tag(&request.tag)?;
        check_actor("actor", &request.actor)?;
        if request.environment.trim().is_empty() {
            return Err(ReleaseServiceError::Invalid {
                field: "environment",
                message: "is empty".into(),
            });
        }
        let _guard = self.lock.lock().await;
        let Located { mut release, repo } = self.locate(&request.tag, request.repo.as_deref())?;
        let outcome = deploy::withdraw(
            &mut release,
            &request.environment,
            &request.actor,
            request.reason.clone(),
            now,
        )
        .map_err(refused)?;
        self.save(&release, &[&outcome.audit]).await?;
        let actions = outcome.events.iter().map(|event| event.action).collect();
        let runs = self.fire(starter, &repo, &release, outcome.events).await;
        Ok(ReleaseChange {
            state: "withdrawn".into(),
            message: outcome.audit.reason.clone(),
            release,
            actions,
            runs,
        })
    }

    /// Deletes a release released nowhere, and fires `deleted`.
    pub async fn delete(
        &self,
        tag: &str,
        repo: Option<&str>,
        actor: &str,
        starter: &dyn RunStarter,
        now: Timestamp,
    ) -> Result<ReleaseChange, ReleaseServiceError> {
        check_tag(tag)?;
        check_actor("actor", actor)?;
        let _guard = self.lock.lock().await;
        let Located { release, repo } = self.locate(tag, repo)?;
        let event = deploy::delete_release(&release, actor).map_err(refused)?;
        let audit = AuditEntry::new(
            now,
            actor,
            AuditAction::ReleaseDeleted,
            "",
            AuditSubject::Release {
                tag: release.tag.clone(),
            },
            format!("{} deleted from {}", release.tag, release.repository),
        );
        self.store()
            .put_records(&[self.audit_item(&audit)?])
            .await?;
        self.store()
            .remove_record(
                RecordKind::Releases,
                &release_key(&release.repository, &release.tag),
            )
            .await?;
        for environment in release.pending.keys() {
            self.store()
                .remove_record(
                    RecordKind::Approvals,
                    &approvals_key(&release.tag, environment),
                )
                .await?;
        }
        let runs = self.fire(starter, &repo, &release, vec![event]).await;
        Ok(ReleaseChange {
            state: "deleted".into(),
            message: audit.reason.clone(),
            release,
            actions: vec![ReleaseAction::Deleted],
            runs,
        })
    }

    /// Per configured environment and watched repository (only `repo` when given): what is
    /// deployed beside what is released.
    pub fn environment_views(
        &self,
        repo: Option<&str>,
    ) -> Result<Vec<EnvironmentView>, ReleaseServiceError> {
        let repos = match repo {
            Some(name) => vec![self.resolve_repo(Some(name))?],
            None => self.store().repos()?,
        };
        let environments: Vec<Environment> = self.store().records(RecordKind::Environments, "")?;
        let deployments: Vec<Deployment> = self.store().records(RecordKind::Deployments, "")?;
        let releases: Vec<Release> = self.store().records(RecordKind::Releases, "")?;
        let mut names = Vec::new();
        for repo in repos {
            names.push(full_name(&repo)?);
        }
        if repo.is_none() {
            // Repositories deployed from without being watched (`slipway dispatch --repo PATH`).
            for deployment in &deployments {
                if !names.contains(&deployment.repository) {
                    names.push(deployment.repository.clone());
                }
            }
        }
        let mut views = Vec::new();
        for full_name in names {
            views.extend(environment_views(
                &environments,
                &full_name,
                &deployments,
                &releases,
            ));
        }
        Ok(views)
    }

    // -----------------------------------------------------------------------------------------

    /// Runs `deploy::promote` and stores what it decided: the promotion (and its events), or the
    /// pending request, or the refusal.
    async fn complete_promotion(
        &self,
        release: &mut Release,
        repo: &RepoRecord,
        environment: &Environment,
        promotion: PromotionRequest,
        starter: &dyn RunStarter,
        now: Timestamp,
    ) -> Result<ReleaseChange, ReleaseServiceError> {
        let deployments: Vec<Deployment> = self.store().records(RecordKind::Deployments, "")?;
        let approval_key = approvals_key(&release.tag, &environment.name);
        match deploy::promote(release, environment, &promotion, &deployments, now) {
            Ok(outcome) => {
                self.save(release, &[&outcome.audit]).await?;
                // Each promotion needs its own approvals.
                self.store()
                    .remove_record(RecordKind::Approvals, &approval_key)
                    .await?;
                let actions = outcome.events.iter().map(|event| event.action).collect();
                let runs = self.fire(starter, repo, release, outcome.events).await;
                Ok(ReleaseChange {
                    state: "promoted".into(),
                    message: format!(
                        "{} released to {} in {}",
                        release.tag, promotion.audience, environment.name
                    ),
                    release: release.clone(),
                    actions,
                    runs,
                })
            }
            Err(error @ ReleaseError::AwaitingApproval { .. }) => {
                let mut pending = promotion.clone();
                pending.approvals = Vec::new();
                release.pending.insert(environment.name.clone(), pending);
                self.save(release, &[]).await?;
                // Held, not refused: the answer says so (state `pending`, HTTP 202), so a
                // script can tell "waits for approval" from "refused".
                let required = match deploy::category_gate(environment, release.category, now) {
                    deploy::CategoryGate::Protection(protection) => protection.required_approvals,
                    _ => environment.release_protection.required_approvals,
                };
                let hint = if required > 0 {
                    format!(
                        "; the promotion waits: approve it with `slipway release approve {} --env {}`",
                        release.tag, environment.name
                    )
                } else {
                    "; the promotion waits: ask again when the wait timer has run".to_string()
                };
                Ok(ReleaseChange {
                    state: "pending".into(),
                    message: format!("{error}{hint}"),
                    release: release.clone(),
                    actions: Vec::new(),
                    runs: Vec::new(),
                })
            }
            Err(error) => {
                if matches!(error, ReleaseError::Rejected { .. }) {
                    // A rejection ends the request; a new one starts with no decisions.
                    release.pending.shift_remove(&environment.name);
                    self.store()
                        .remove_record(RecordKind::Approvals, &approval_key)
                        .await?;
                }
                let audit = AuditEntry::new(
                    now,
                    promotion.requested_by.clone(),
                    AuditAction::ReleaseRefused,
                    environment.name.clone(),
                    AuditSubject::Release {
                        tag: release.tag.clone(),
                    },
                    error.to_string(),
                );
                if matches!(error, ReleaseError::Unchanged { .. }) {
                    // Nothing was decided: no audit entry.
                    return Err(refused(error));
                }
                self.save(release, &[&audit]).await?;
                Err(refused(error))
            }
        }
    }

    /// Starts the workflows each event triggers (`on: release` with matching `types`), at the
    /// release's commit with `github.ref` = `refs/tags/<tag>`. Failures are logged: the
    /// decision is already stored.
    async fn fire(
        &self,
        starter: &dyn RunStarter,
        repo: &RepoRecord,
        release: &Release,
        events: Vec<ReleaseEvent>,
    ) -> Vec<String> {
        let mut runs = Vec::new();
        for event in events {
            let path = PathBuf::from(&repo.mirror_path);
            let sha = release.sha.clone();
            let git_ref = format!("refs/tags/{}", release.tag);
            let action = event.action;
            let decided = blocking(move || {
                let oid = Oid::from_str(&sha).map_err(|error| {
                    ReleaseServiceError::Git(format!("release commit `{sha}`: {error}"))
                })?;
                let mirror = Mirror::open(&path).map_err(git_error)?;
                let files = mirror.workflows_at(oid).map_err(git_error)?;
                let trigger = TriggerEvent {
                    name: "release".into(),
                    action: Some(action.as_str().to_string()),
                    git_ref: Some(git_ref),
                    changed_paths: None,
                };
                Ok((oid, decide(&files, &trigger)))
            })
            .await;
            let (oid, decisions) = match decided {
                Ok(decided) => decided,
                Err(error) => {
                    tracing::error!(repository = %repo.name, tag = %release.tag, %error, "release workflows not read");
                    continue;
                }
            };
            let triggering: Vec<WorkflowDecision> = decisions
                .into_iter()
                .filter(|decision| decision.triggers && !decision.invalid)
                .collect();
            if triggering.is_empty() {
                continue;
            }
            let repo_event = RepoEvent {
                name: "release".into(),
                git_ref: format!("refs/tags/{}", release.tag),
                sha: Some(oid),
                payload: event.payload,
                changed_paths: ChangedPaths::Unknown {
                    reason: "`release` events have no changed files".into(),
                },
            };
            match starter.start_runs(repo, repo_event, triggering).await {
                Ok(started) => runs.extend(started.iter().map(ToString::to_string)),
                Err(error) => {
                    tracing::error!(repository = %repo.name, tag = %release.tag, %error, "release runs not started");
                }
            }
        }
        runs
    }

    async fn save(
        &self,
        release: &Release,
        audits: &[&AuditEntry],
    ) -> Result<(), ReleaseServiceError> {
        let mut items = vec![(
            RecordKind::Releases,
            release_key(&release.repository, &release.tag),
            Store::encode_record(release),
        )];
        for audit in audits {
            items.push(self.audit_item(audit)?);
        }
        self.store().put_records(&items).await?;
        Ok(())
    }

    fn audit_item(
        &self,
        entry: &AuditEntry,
    ) -> Result<(RecordKind, String, Vec<u8>), ReleaseServiceError> {
        Ok((
            RecordKind::Audit,
            self.store().sortable_key()?,
            Store::encode_record(entry),
        ))
    }

    fn environment(&self, name: &str) -> Result<Environment, ReleaseServiceError> {
        if name.trim().is_empty() {
            return Err(ReleaseServiceError::Invalid {
                field: "environment",
                message: "is empty".into(),
            });
        }
        if let Some(environment) = self.store().record(RecordKind::Environments, name)? {
            return Ok(environment);
        }
        let known: Vec<Environment> = self.store().records(RecordKind::Environments, "")?;
        Err(ReleaseServiceError::Invalid {
            field: "environment",
            message: format!(
                "no environment `{name}` is configured ({})",
                names_or_none(known.iter().map(|environment| environment.name.as_str()))
            ),
        })
    }

    /// The watched repository `name`, or the only one when `None`.
    fn resolve_repo(&self, name: Option<&str>) -> Result<RepoRecord, ReleaseServiceError> {
        let repos = self.store().repos()?;
        match name {
            Some(name) => repos
                .iter()
                .find(|repo| repo.name == name)
                .cloned()
                .ok_or_else(|| ReleaseServiceError::Invalid {
                    field: "repo",
                    message: format!(
                        "no watched repository `{name}` ({})",
                        names_or_none(repos.iter().map(|repo| repo.name.as_str()))
                    ),
                }),
            None => match repos.as_slice() {
                [] => Err(ReleaseServiceError::Invalid {
                    field: "repo",
                    message: "no repository is watched (add one with `slipway repo add`)".into(),
                }),
                [only] => Ok(only.clone()),
                several => Err(ReleaseServiceError::Invalid {
                    field: "repo",
                    message: format!(
                        "several repositories are watched ({}): name one with `--repo`",
                        several
                            .iter()
                            .map(|repo| format!("`{}`", repo.name))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }),
            },
        }
    }

    /// The release `tag` of `repo`, or of whichever watched repository has one.
    fn locate(&self, tag: &str, repo: Option<&str>) -> Result<Located, ReleaseServiceError> {
        if let Some(name) = repo {
            let repo = self.resolve_repo(Some(name))?;
            let full_name = full_name(&repo)?;
            return match self
                .store()
                .record::<Release>(RecordKind::Releases, &release_key(&full_name, tag))?
            {
                Some(release) => Ok(Located { release, repo }),
                None => Err(ReleaseServiceError::NotFound {
                    tag: tag.to_string(),
                    scope: format!(" in repository `{}`", repo.name),
                }),
            };
        }
        let found: Vec<Release> = self
            .store()
            .records::<Release>(RecordKind::Releases, "")?
            .into_iter()
            .filter(|release| release.tag == tag)
            .collect();
        let release = match found.as_slice() {
            [] => {
                return Err(ReleaseServiceError::NotFound {
                    tag: tag.to_string(),
                    scope: String::new(),
                });
            }
            [only] => only.clone(),
            several => {
                return Err(ReleaseServiceError::Invalid {
                    field: "repo",
                    message: format!(
                        "release `{tag}` exists in several repositories ({}): name one with `--repo`",
                        several
                            .iter()
                            .map(|release| format!("`{}`", release.repository))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
        };
        for repo in self.store().repos()? {
            if full_name(&repo)? == release.repository {
                return Ok(Located { release, repo });
            }
        }
        Err(ReleaseServiceError::Invalid {
            field: "repo",
            message: format!(
                "release `{tag}` belongs to `{}`, which is no longer watched",
                release.repository
            ),
        })
    }
}

/// The key of a release record.
pub fn release_key(repository: &str, tag: &str) -> String {
    format!("{repository}\0{tag}")
}

/// The key of a release promotion's approvals in one environment.
pub fn approvals_key(tag: &str, environment: &str) -> String {
    format!("release:{tag}:{environment}")
}

/// `github.repository` of a watched repository: the one derived when it was added (what its
/// runs, and so its deployments, carry); for a record older than that, as
/// `event::source_at_ref` computes it from the mirror.
fn full_name(repo: &RepoRecord) -> Result<String, ReleaseServiceError> {
    if !repo.github_repository.is_empty() {
        return Ok(repo.github_repository.clone());
    }
    crate::runs::event::source_from_directory(std::path::Path::new(&repo.mirror_path))
        .map(|source| source.repository)
        .map_err(|error| {
            ReleaseServiceError::Git(format!(
                "read the mirror of `{}`: {}",
                repo.name,
                error.message()
            ))
        })
}

fn check_tag(tag: &str) -> Result<(), ReleaseServiceError> {
    let problem = if tag.trim().is_empty() {
        Some("is empty")
    } else if tag.trim() != tag || tag.contains(['\0', '\n', ' ']) {
        Some("may not hold spaces, line breaks or NUL")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(ReleaseServiceError::Invalid {
            field: "tag",
            message: format!("`{tag}` {problem}"),
        }),
        None => Ok(()),
    }
}

fn check_actor(field: &'static str, actor: &str) -> Result<(), ReleaseServiceError> {
    if actor.trim().is_empty() {
        return Err(ReleaseServiceError::Invalid {
            field,
            message: "is empty (pass --as NAME or set SLIPWAY_USER)".into(),
        });
    }
    Ok(())
}

fn refused(error: ReleaseError) -> ReleaseServiceError {
    ReleaseServiceError::Refused(error.to_string())
}

fn approval_error(error: ApprovalError, tag: &str, environment: &str) -> ReleaseServiceError {
    match error {
        ApprovalError::SelfReview { user, environment } => ReleaseServiceError::Forbidden(format!(
            "`{user}` asked for this promotion of `{tag}` and may not approve it for `{environment}`"
        )),
        ApprovalError::NotAnApprover { .. } => {
            ReleaseServiceError::Forbidden(format!("{error} (release `{tag}`)"))
        }
        ApprovalError::NotRequired { .. } => ReleaseServiceError::Refused(format!(
            "releases to `{environment}` need no approval (release `{tag}`)"
        )),
        ApprovalError::Closed { .. } => ReleaseServiceError::Refused(error.to_string()),
    }
}

fn names_or_none<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.map(|name| format!("`{name}`")).collect();
    if names.is_empty() {
        "there are none".to_string()
    } else {
        format!("known: {}", names.join(", "))
    }
}

fn short(sha: &str) -> String {
    sha.chars().take(7).collect()
}

fn git_error(error: TriggerError) -> ReleaseServiceError {
    ReleaseServiceError::Git(error.to_string())
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ReleaseServiceError> + Send + 'static,
) -> Result<T, ReleaseServiceError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(error) => Err(ReleaseServiceError::Git(error.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::path::Path;
    use std::pin::Pin;
    use std::process::Command;
    use std::sync::Mutex;

    use deploy::{DeploymentId, DeploymentStatus, StrategyKind, Version, parse_approvers};
    use serde_json::Value;

    use super::*;
    use crate::repos::{AddRepo, RecordRuns, Repos};
    use crate::runs::dispatch::EngineConfig;
    use crate::store::RunId;

    const RELEASE_WORKFLOW: &str = "on:\n  release:\n    types: [published, unpublished]\njobs:\n  flip:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo flip\n";
    const DELETED_WORKFLOW: &str = "on:\n  release:\n    types: [deleted]\njobs:\n  gone:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo gone\n";
    const ANY_RELEASE_WORKFLOW: &str = "on: release\njobs:\n  any:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo any\n";
    const PUSH_WORKFLOW: &str = "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo build\n";

    /// One started run: (event name, `github.event.action`, ref, sha, workflow file).
    type Started = (String, String, String, String, String);

    /// Records what it was asked to start.
    #[derive(Default)]
    struct Recorder {
        started: Mutex<Vec<Started>>,
        payloads: Mutex<Vec<Value>>,
    }

    impl RunStarter for Recorder {
        fn start_runs<'a>(
            &'a self,
            _repository: &'a RepoRecord,
            event: RepoEvent,
            decisions: Vec<WorkflowDecision>,
        ) -> Pin<Box<dyn Future<Output = Result<Vec<RunId>, String>> + Send + 'a>> {
            Box::pin(async move {
                let action = event.payload["action"].as_str().unwrap_or("").to_string();
                let mut ids = Vec::new();
                for decision in decisions {
                    self.started.lock().unwrap().push((
                        event.name.clone(),
                        action.clone(),
                        event.git_ref.clone(),
                        event.sha.map(|sha| sha.to_string()).unwrap_or_default(),
                        decision.file.clone(),
                    ));
                    self.payloads.lock().unwrap().push(event.payload.clone());
                    ids.push(RunId::new());
                }
                Ok(ids)
            })
        }
    }

    impl Recorder {
        fn take(&self) -> Vec<(String, String)> {
            self.started
                .lock()
                .unwrap()
                .drain(..)
                .map(|(_, action, _, _, file)| (action, file))
                .collect()
        }
    }

    struct World {
        _temp: tempfile::TempDir,
        source: PathBuf,
        engine: Arc<Engine>,
        repos: Arc<Repos>,
        releases: Arc<Releases>,
        recorder: Recorder,
        tag_sha: String,
    }

    fn git(dir: &Path, args: &[&str]) -> String {
        let output = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "Dev")
            .env("GIT_AUTHOR_EMAIL", "dev@example.com")
            .env("GIT_COMMITTER_NAME", "Dev")
            .env("GIT_COMMITTER_EMAIL", "dev@example.com")
            .output()
            .unwrap();
        assert!(output.status.success(), "git {args:?}: {output:?}");
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    impl World {
        async fn new() -> World {
            let temp = tempfile::tempdir().unwrap();
            let source = temp.path().join("acme").join("shop");
            std::fs::create_dir_all(source.join(".github/workflows")).unwrap();
            for (name, text) in [
                ("release.yml", RELEASE_WORKFLOW),
                ("deleted.yml", DELETED_WORKFLOW),
                ("any.yml", ANY_RELEASE_WORKFLOW),
                ("push.yml", PUSH_WORKFLOW),
            ] {
                std::fs::write(source.join(".github/workflows").join(name), text).unwrap();
            }
            git(&source, &["init", "-q", "-b", "main"]);
            git(&source, &["add", "-A"]);
            git(&source, &["commit", "-q", "-m", "first"]);
            git(&source, &["tag", "-a", "v1.4.0", "-m", "v1.4.0"]);
            let tag_sha = git(&source, &["rev-parse", "v1.4.0^{commit}"]);
            let (engine, _events) = Engine::open(EngineConfig::new(temp.path().join("data")))
                .await
                .unwrap();
            let repos = Repos::new(
                engine.clone(),
                Arc::new(RecordRuns {
                    engine: engine.clone(),
                }),
            );
            repos
                .add(AddRepo {
                    source: source.display().to_string(),
                    name: Some("shop".into()),
                    ..AddRepo::default()
                })
                .await
                .unwrap();
            World {
                _temp: temp,
                source,
                releases: Releases::new(engine.clone()),
                engine,
                repos,
                recorder: Recorder::default(),
                tag_sha,
            }
        }

        fn repository(&self) -> String {
            let record = self.engine.store().repo("shop").unwrap().unwrap();
            crate::runs::event::source_at_ref(Path::new(&record.mirror_path), "refs/tags/v1.4.0")
                .unwrap()
                .repository
        }

        async fn create(&self) -> ReleaseChange {
            self.releases
                .create(
                    CreateRelease {
                        tag: "v1.4.0".into(),
                        repo: None,
                        name: Some("Spring sale".into()),
                        notes: "Faster checkout".into(),
                        created_by: "alice".into(),
                        category: None,
                    },
                    at("2026-03-01T08:00:00Z"),
                )
                .await
                .unwrap()
        }

        async fn environment(&self, environment: &Environment) {
            self.engine
                .store()
                .put_record(RecordKind::Environments, &environment.name, environment)
                .await
                .unwrap();
        }

        async fn deployed(&self, id: &str, environment: &str, sha: &str) {
            let mut deployment = Deployment::new(
                DeploymentId(id.into()),
                environment,
                self.repository(),
                Version {
                    sha: sha.into(),
                    tag: None,
                    committed_at: None,
                },
                "refs/heads/main",
                "erin",
                StrategyKind::BigBang,
                false,
                at("2026-03-02T09:00:00Z"),
            );
            deployment.status = DeploymentStatus::Success;
            deployment.finished_at = Some(at("2026-03-02T09:10:00Z"));
            self.engine
                .store()
                .put_record(RecordKind::Deployments, id, &deployment)
                .await
                .unwrap();
        }

        async fn promote(
            &self,
            environment: &str,
            audience: &str,
            by: &str,
            now: &str,
        ) -> Result<ReleaseChange, ReleaseServiceError> {
            self.releases
                .promote(
                    PromoteRelease {
                        tag: "v1.4.0".into(),
                        repo: None,
                        environment: environment.into(),
                        audience: audience.into(),
                        requested_by: by.into(),
                    },
                    &self.recorder,
                    at(now),
                )
                .await
        }

        async fn approve(
            &self,
            environment: &str,
            by: &str,
            now: &str,
        ) -> Result<ReleaseChange, ReleaseServiceError> {
            self.releases
                .approve(
                    ApproveRelease {
                        tag: "v1.4.0".into(),
                        repo: None,
                        environment: environment.into(),
                        approver: by.into(),
                        decision: Decision::Approve,
                        comment: Some("ok".into()),
                    },
                    &self.recorder,
                    at(now),
                )
                .await
        }

        fn audit(&self) -> Vec<(AuditAction, String, String)> {
            self.engine
                .store()
                .records::<AuditEntry>(RecordKind::Audit, "")
                .unwrap()
                .into_iter()
                .map(|entry| (entry.action, entry.actor, entry.reason))
                .collect()
        }
    }

    #[tokio::test]
    async fn create_resolves_the_tag_in_the_watched_repository() {
        let world = World::new().await;
        let missing = world
            .releases
            .create(
                CreateRelease {
                    tag: "v9.9.9".into(),
                    created_by: "alice".into(),
                    category: None,
                    ..CreateRelease::default()
                },
                at("2026-03-01T08:00:00Z"),
            )
            .await
            .unwrap_err();
        assert_eq!(
            missing.to_string(),
            "tag: tag `v9.9.9` does not resolve to a commit in repository `shop`"
        );
        let created = world.create().await;
        assert_eq!(created.state, "created");
        assert_eq!(created.release.sha, world.tag_sha);
        assert_eq!(created.release.repository, world.repository());
        assert_eq!(created.release.repository, "acme/shop");
        assert_eq!(created.release.name, "Spring sale");
        assert_eq!(created.release.notes, "Faster checkout");
        let stored: Release = world
            .engine
            .store()
            .record(RecordKind::Releases, "acme/shop\0v1.4.0")
            .unwrap()
            .unwrap();
        assert_eq!(stored, created.release);
        assert!(matches!(
            world
                .releases
                .create(
                    CreateRelease {
                        tag: "v1.4.0".into(),
                        created_by: "alice".into(),
                        category: None,
                        ..CreateRelease::default()
                    },
                    at("2026-03-01T08:00:00Z"),
                )
                .await,
            Err(ReleaseServiceError::Exists { .. })
        ));
        assert_eq!(
            world.releases.list(None).unwrap(),
            vec![created.release.clone()]
        );
        assert_eq!(
            world.releases.show("v1.4.0", Some("shop")).unwrap().tag,
            "v1.4.0"
        );
        assert_eq!(
            world.releases.show("v0", None).unwrap_err().to_string(),
            "release `v0` not found"
        );
        assert_eq!(
            world.audit(),
            vec![(
                AuditAction::ReleaseCreated,
                "alice".to_string(),
                format!("v1.4.0 (minor) at {} in acme/shop", world.tag_sha)
            )]
        );
        // A tag pushed after `repo add` is found: create fetches the mirror first.
        git(&world.source, &["tag", "v1.5.0"]);
        let later = world
            .releases
            .create(
                CreateRelease {
                    tag: "v1.5.0".into(),
                    created_by: "alice".into(),
                    category: None,
                    ..CreateRelease::default()
                },
                at("2026-03-01T09:00:00Z"),
            )
            .await
            .unwrap();
        assert_eq!(later.release.name, "v1.5.0");
    }

    #[tokio::test]
    async fn promote_where_deployed_then_withdraw_fires_release_workflows() {
        let world = World::new().await;
        world.create().await;
        world.environment(&Environment::new("production")).await;
        world.environment(&Environment::new("staging")).await;
        // Nothing deployed: refused, audited, nothing fired.
        let error = world
            .promote("production", "10%", "pat", "2026-03-02T10:00:00Z")
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "release `v1.4.0` is not deployed in `production` (nothing is deployed there)"
        );
        // Another version live: refused naming it.
        world.deployed("d0", "production", &"0".repeat(40)).await;
        let error = world
            .promote("production", "10%", "pat", "2026-03-02T10:00:00Z")
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "release `v1.4.0` is not deployed in `production` (live there: `0000000`)"
        );
        assert!(world.recorder.take().is_empty());
        world.deployed("d1", "production", &world.tag_sha).await;
        let promoted = world
            .promote("production", "10%", "pat", "2026-03-02T10:00:00Z")
            .await
            .unwrap();
        assert_eq!(promoted.state, "promoted");
        assert_eq!(promoted.actions, vec![ReleaseAction::Published]);
        assert_eq!(promoted.runs.len(), 2);
        assert_eq!(
            world.recorder.take(),
            vec![
                (
                    "published".to_string(),
                    ".github/workflows/any.yml".to_string()
                ),
                (
                    "published".to_string(),
                    ".github/workflows/release.yml".to_string()
                ),
            ]
        );
        {
            let started = world.recorder.started.lock().unwrap();
            assert!(started.is_empty());
        }
        let payloads = world.recorder.payloads.lock().unwrap().clone();
        let payload = payloads.last().unwrap();
        assert_eq!(payload["release"]["tag_name"], "v1.4.0");
        assert_eq!(payload["release"]["name"], "Spring sale");
        assert_eq!(payload["release"]["prerelease"], true);
        assert_eq!(payload["release"]["environment"], "production");
        assert_eq!(
            payload["release"]["audience"],
            serde_json::json!({"kind": "percent", "percent": 10})
        );
        // Widening to everyone raises `released`, which only the untyped workflow takes.
        let widened = world
            .promote("production", "all", "pat", "2026-03-02T11:00:00Z")
            .await
            .unwrap();
        assert_eq!(widened.actions, vec![ReleaseAction::Released]);
        assert_eq!(
            world.recorder.take(),
            vec![(
                "released".to_string(),
                ".github/workflows/any.yml".to_string()
            )]
        );
        // The same audience again is refused and changes nothing.
        assert_eq!(
            world
                .promote("production", "100%", "pat", "2026-03-02T11:30:00Z")
                .await
                .unwrap_err()
                .to_string(),
            "release `v1.4.0` is already released to all in `production`"
        );
        // Not deployed in staging.
        assert!(matches!(
            world
                .promote("staging", "all", "pat", "2026-03-02T12:00:00Z")
                .await,
            Err(ReleaseServiceError::Refused(_))
        ));
        // Deleting while released is refused.
        assert_eq!(
            world
                .releases
                .delete(
                    "v1.4.0",
                    None,
                    "pat",
                    &world.recorder,
                    at("2026-03-02T12:00:00Z")
                )
                .await
                .unwrap_err()
                .to_string(),
            "release `v1.4.0` is still released in `production`; withdraw it there first"
        );
        let withdrawn = world
            .releases
            .withdraw(
                WithdrawRelease {
                    tag: "v1.4.0".into(),
                    repo: None,
                    environment: "production".into(),
                    actor: "pat".into(),
                    reason: Some("error rate".into()),
                },
                &world.recorder,
                at("2026-03-02T13:00:00Z"),
            )
            .await
            .unwrap();
        assert_eq!(withdrawn.state, "withdrawn");
        assert_eq!(withdrawn.actions, vec![ReleaseAction::Unpublished]);
        assert!(withdrawn.release.rollouts.is_empty());
        let started = world.recorder.started.lock().unwrap().clone();
        assert_eq!(
            started
                .iter()
                .map(|(event, action, git_ref, sha, _)| (
                    event.as_str(),
                    action.as_str(),
                    git_ref.as_str(),
                    sha.as_str()
                ))
                .collect::<Vec<_>>(),
            vec![
                (
                    "release",
                    "unpublished",
                    "refs/tags/v1.4.0",
                    world.tag_sha.as_str()
                ),
                (
                    "release",
                    "unpublished",
                    "refs/tags/v1.4.0",
                    world.tag_sha.as_str()
                ),
            ]
        );
        world.recorder.take();
        let deleted = world
            .releases
            .delete(
                "v1.4.0",
                None,
                "pat",
                &world.recorder,
                at("2026-03-02T14:00:00Z"),
            )
            .await
            .unwrap();
        assert_eq!(deleted.actions, vec![ReleaseAction::Deleted]);
        assert_eq!(
            world.recorder.take(),
            vec![
                (
                    "deleted".to_string(),
                    ".github/workflows/any.yml".to_string()
                ),
                (
                    "deleted".to_string(),
                    ".github/workflows/deleted.yml".to_string()
                ),
            ]
        );
        assert!(world.releases.list(None).unwrap().is_empty());
        let actions: Vec<AuditAction> = world.audit().into_iter().map(|(a, _, _)| a).collect();
        assert_eq!(
            actions,
            vec![
                AuditAction::ReleaseCreated,
                AuditAction::ReleaseRefused,
                AuditAction::ReleaseRefused,
                AuditAction::ReleasePromoted,
                AuditAction::ReleasePromoted,
                AuditAction::ReleaseRefused,
                AuditAction::ReleaseWithdrawn,
                AuditAction::ReleaseDeleted,
            ]
        );
    }

    #[tokio::test]
    async fn a_promotion_waits_for_approvals_and_refuses_self_approval() {
        let world = World::new().await;
        world.create().await;
        let mut production = Environment::new("production");
        production.release_protection.required_approvals = 1;
        production.release_protection.approvers = parse_approvers("quinn,pat").unwrap();
        world.environment(&production).await;
        world.deployed("d1", "production", &world.tag_sha).await;
        // No pending promotion to approve yet.
        assert!(matches!(
            world
                .approve("production", "quinn", "2026-03-02T09:59:00Z")
                .await,
            Err(ReleaseServiceError::Refused(_))
        ));
        let waiting = world
            .promote("production", "10%", "pat", "2026-03-02T10:00:00Z")
            .await
            .unwrap();
        assert_eq!(waiting.state, "pending");
        assert_eq!(
            waiting.message,
            "release `v1.4.0` waits for approval in `production`: 1 more approval(s) needed from `quinn`, `pat`; the promotion waits: approve it with `slipway release approve v1.4.0 --env production`"
        );
        assert!(world.recorder.take().is_empty());
        let pending = world.releases.show("v1.4.0", None).unwrap();
        assert_eq!(
            pending
                .pending
                .get("production")
                .map(|p| p.requested_by.as_str()),
            Some("pat")
        );
        let own = world
            .approve("production", "pat", "2026-03-02T10:01:00Z")
            .await
            .unwrap_err();
        assert!(matches!(own, ReleaseServiceError::Forbidden(_)));
        assert_eq!(
            own.to_string(),
            "`pat` asked for this promotion of `v1.4.0` and may not approve it for `production`"
        );
        let stranger = world
            .approve("production", "mallory", "2026-03-02T10:01:00Z")
            .await
            .unwrap_err();
        assert_eq!(
            stranger.to_string(),
            "`mallory` is not an approver of `production` (release `v1.4.0`)"
        );
        let approved = world
            .approve("production", "quinn", "2026-03-02T10:02:00Z")
            .await
            .unwrap();
        assert_eq!(approved.state, "promoted");
        assert_eq!(approved.actions, vec![ReleaseAction::Published]);
        assert!(approved.release.pending.is_empty());
        assert_eq!(
            approved
                .release
                .history
                .last()
                .map(|entry| entry.approvals.len()),
            Some(1)
        );
        assert_eq!(world.recorder.take().len(), 2);
        // The approvals were used up by this promotion: the next one needs its own.
        let approvals: Option<Vec<deploy::Approval>> = world
            .engine
            .store()
            .record(RecordKind::Approvals, "release:v1.4.0:production")
            .unwrap();
        assert_eq!(approvals, None);
        assert!(matches!(
            world
                .promote("production", "all", "pat", "2026-03-02T11:00:00Z")
                .await,
            Ok(ReleaseChange { ref state, .. }) if state == "pending"
        ));
        let audit: Vec<(AuditAction, String)> = world
            .audit()
            .into_iter()
            .map(|(action, actor, _)| (action, actor))
            .collect();
        assert_eq!(
            audit,
            vec![
                (AuditAction::ReleaseCreated, "alice".to_string()),
                (AuditAction::Approved, "quinn".to_string()),
                (AuditAction::ReleasePromoted, "pat".to_string()),
            ]
        );
    }

    #[tokio::test]
    async fn repositories_are_named_when_several_are_watched_and_views_pair_both_sides() {
        let world = World::new().await;
        world.create().await;
        world.environment(&Environment::new("production")).await;
        world.deployed("d1", "production", &world.tag_sha).await;
        world
            .promote("production", "tier:premium", "pat", "2026-03-02T10:00:00Z")
            .await
            .unwrap();
        let views = world.releases.environment_views(None).unwrap();
        let lines: Vec<String> = views.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            vec![format!(
                "production  deployed: {} (2026-03-02T09:10:00Z, by erin)  released: v1.4.0 to tier premium (2026-03-02T10:00:00Z, by pat)",
                &world.tag_sha[..7]
            )]
        );
        // A second watched repository: creating needs --repo, the error lists both.
        let other = world._temp.path().join("acme").join("other");
        std::fs::create_dir_all(&other).unwrap();
        git(&other, &["init", "-q", "-b", "main"]);
        std::fs::write(other.join("README"), "x").unwrap();
        git(&other, &["add", "-A"]);
        git(&other, &["commit", "-q", "-m", "x"]);
        git(&other, &["tag", "v1.4.0"]);
        world
            .repos
            .add(AddRepo {
                source: other.display().to_string(),
                name: Some("other".into()),
                ..AddRepo::default()
            })
            .await
            .unwrap();
        let error = world
            .releases
            .create(
                CreateRelease {
                    tag: "v2".into(),
                    created_by: "alice".into(),
                    category: None,
                    ..CreateRelease::default()
                },
                at("2026-03-03T00:00:00Z"),
            )
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "repo: several repositories are watched (`other`, `shop`): name one with `--repo`"
        );
        // The only release called v1.4.0 is still found without --repo …
        assert_eq!(
            world.releases.show("v1.4.0", None).unwrap().repository,
            "acme/shop"
        );
        // … until the other repository has one too.
        world
            .releases
            .create(
                CreateRelease {
                    tag: "v1.4.0".into(),
                    repo: Some("other".into()),
                    created_by: "alice".into(),
                    category: None,
                    ..CreateRelease::default()
                },
                at("2026-03-03T00:00:00Z"),
            )
            .await
            .unwrap();
        assert_eq!(
            world.releases.show("v1.4.0", None).unwrap_err().to_string(),
            "repo: release `v1.4.0` exists in several repositories (`acme/other`, `acme/shop`): name one with `--repo`"
        );
        assert_eq!(world.releases.list(Some("other")).unwrap().len(), 1);
        assert_eq!(
            world
                .releases
                .show("v1.4.0", Some("nope"))
                .unwrap_err()
                .to_string(),
            "repo: no watched repository `nope` (known: `other`, `shop`)"
        );
        // A bad audience names the field.
        assert_eq!(
            world
                .promote("production", "150%", "pat", "2026-03-03T00:00:00Z")
                .await
                .unwrap_err()
                .to_string(),
            "audience: audience `150%`: a percentage must be a whole number from 1% to 100%"
        );
        assert_eq!(
            world.environment_error().await,
            "environment: no environment `qa` is configured (known: `production`)"
        );
    }

    impl World {
        async fn environment_error(&self) -> String {
            self.releases
                .promote(
                    PromoteRelease {
                        tag: "v1.4.0".into(),
                        repo: Some("shop".into()),
                        environment: "qa".into(),
                        audience: "all".into(),
                        requested_by: "pat".into(),
                    },
                    &self.recorder,
                    at("2026-03-03T00:00:00Z"),
                )
                .await
                .unwrap_err()
                .to_string()
        }
    }
}
