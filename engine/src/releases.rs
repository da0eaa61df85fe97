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

use std::path::PathBuf;
use std::sync::Arc;

use deploy::{
    ApprovalError, ApprovalKey, AuditAction, AuditEntry, AuditSubject, Audience, Decision,
    Deployment, Environment, EnvironmentView, GateRequest, Groups, PromotionRequest, Release,
    ReleaseAction, ReleaseError, ReleaseEvent, environment_views,
};
use git2::Oid;
use jiff::Timestamp;
use serde::Serialize;
use workflows::filters::TriggerEvent;

use crate::dispatch::Engine;
use crate::repos::RunStarter;
use crate::store::{RecordKind, RepoRecord, Store, StoreError};
use crate::triggers::{ChangedPaths, Mirror, RepoEvent, TriggerError, WorkflowDecision, decide};

/// What went wrong. `Invalid` names the request field at fault; the others carry `deploy`'s
/// sentences.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseServiceError {
    /// The request is wrong: `field` names the part at fault.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("release `{tag}` not found{scope}")]
    NotFound { tag: String, scope: String },
    #[error("release `{tag}` exists already in `{repository}`")]
    Exists { tag: String, repository: String },
    /// `deploy` refused: not deployed there, approvals missing, rejected, unchanged…
    #[error("{0}")]
    Refused(String),
    /// An approval that may not be recorded (self approval, not an approver).
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("read git: {0}")]
    Git(String),
}

/// `release create`.
#[derive(Debug, Clone, Default)]
pub struct CreateRelease {
    pub tag: String,
    /// The watched repository's name; default: the only one.
    pub repo: Option<String>,
    pub name: Option<String>,
    pub notes: String,
    pub created_by: String,
}

/// `release promote`.
#[derive(Debug, Clone, Default)]
pub struct PromoteRelease {
    pub tag: String,
    pub repo: Option<String>,
    pub environment: String,
    /// `all`, `10%`, `tier:premium` (parsed here, so the error names the field).
    pub audience: String,
    pub requested_by: String,
}

/// `release approve` (or a rejection).
#[derive(Debug, Clone)]
pub struct ApproveRelease {
    pub tag: String,
    pub repo: Option<String>,
    pub environment: String,
    pub approver: String,
    pub decision: Decision,
    pub comment: Option<String>,
}

/// `release withdraw`.
#[derive(Debug, Clone, Default)]
pub struct WithdrawRelease {
    pub tag: String,
    pub repo: Option<String>,
    pub environment: String,
    pub actor: String,
    pub reason: Option<String>,
}

/// What a change did: the release as it is now, the activity types raised and the runs started.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseChange {
    /// `created`, `promoted`, `waiting`, `approved`, `rejected`, `withdrawn`, `deleted`.
    pub state: String,
    /// One sentence for people.
    pub message: String,
    pub release: Release,
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
    pub fn new(engine: Arc<Engine>) -> Arc<Releases> {
        Arc::new(Releases {
            engine,
            lock: tokio::sync::Mutex::new(()),
        })
    }

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
                let found = crate::event::source_at_ref(&path, &format!("refs/tags/{tag}"))
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
        let release = Release::new(
            request.tag.clone(),
            sha.clone(),
            repository.clone(),
            name,
            request.notes,
            request.created_by.clone(),
            now,
        );
        let audit = AuditEntry::new(
            now,
            request.created_by,
            AuditAction::ReleaseCreated,
            "",
            AuditSubject::Release {
                tag: request.tag.clone(),
            },
            format!("{} at {sha} in {repository}", request.tag),
        );
        self.store()
            .put_records(&[
                (
                    RecordKind::Releases,
                    key,
                    Store::encode_record(&release),
                ),
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
        let (approval, audit) = deploy::approve(
            &environment.release_protection,
            &Groups::default(),
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
            Ok(change) => Ok(change),
            // Still waiting: the approval itself went through.
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
        let mut views = Vec::new();
        for repo in repos {
            let full_name = full_name(&repo)?;
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
                let hint = if environment.release_protection.required_approvals > 0 {
                    format!(
                        "; the promotion waits: approve it with `slipway release approve {} --env {}`",
                        release.tag, environment.name
                    )
                } else {
                    "; the promotion waits: ask again when the wait timer has run".to_string()
                };
                Err(ReleaseServiceError::Refused(format!("{error}{hint}")))
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

/// `github.repository` of a watched repository, as `event::source_at_ref` computes it.
fn full_name(repo: &RepoRecord) -> Result<String, ReleaseServiceError> {
    crate::event::source_from_directory(std::path::Path::new(&repo.mirror_path))
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
        ApprovalError::NotAnApprover { .. } => ReleaseServiceError::Forbidden(format!(
            "{error} (release `{tag}`)"
        )),
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
