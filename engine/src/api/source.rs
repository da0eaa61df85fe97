//! `POST /api/v1/jobs/{job_id}/source`: the job's commit, served to the runner that holds the
//! job's lease, for runners that cannot reach the repository's path or URL themselves (another
//! machine, or git2 without network transports).
//!
//! Who may ask: the runner credential (else 401) of the lease holder, with the lease's current
//! fencing token. Any other runner, a stale token, a finished job or an id that names no job all
//! get the same 403 with the same message, so a caller learns nothing about jobs it does not hold.
//!
//! What is sent (`application/x-slipway-source`): one line of JSON (`protocol::wire::SourceHeader`:
//! the commit and the refs to create) and then a plain git packfile, built with git2's
//! `PackBuilder` straight from the engine's mirror, holding the commit, all its history and the
//! annotated tag objects of the tags reachable from it. Why a packfile and not a git bundle: a
//! bundle is only a header around the same packfile, libgit2 can neither write nor read one, so
//! both the engine and every runner would need the `git` CLI and temporary files; a packfile is
//! written by `PackBuilder::foreach` chunk by chunk (streamed, never whole in memory or on disk)
//! and indexed on the runner by git2's ODB pack writer as it arrives. The refs travel in the
//! JSON line because a packfile carries objects only. The pack is self-contained (no thin-pack
//! deltas against objects the runner does not have), so `git describe --tags` and `git log` work
//! in the checkout.
//!
//! Limits: at most [`MAX_CONCURRENT_PACKS`] packs are built at once (the rest wait), a pack larger
//! than [`MAX_SOURCE_BYTES`] or still sending after [`MAX_SOURCE_TIME`] is cut off (the runner
//! sees an incomplete pack and fails the checkout), and a runner that stops reading stalls only
//! its own transfer until that deadline.
//!
//! This file must not change state: serving a source touches neither the lease nor the store.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use git2::{ObjectType, Oid, Repository};
use protocol::PROTOCOL_VERSION;
use protocol::wire::{SourceHeader, SourceRef, SourceRequest};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::extract::{ApiError, AuthedRunner, Versioned};
use crate::runs::dispatch::Engine;
use crate::store::{JobId, StoreError};

/// The media type of a source answer.
pub(super) const SOURCE_CONTENT_TYPE: &str = "application/x-slipway-source";
/// A pack bigger than this is cut off.
pub(super) const MAX_SOURCE_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// A transfer still running after this long is cut off.
pub(super) const MAX_SOURCE_TIME: Duration = Duration::from_secs(15 * 60);
/// Packs built at the same time (each costs a core while it compresses deltas).
pub(super) const MAX_CONCURRENT_PACKS: usize = 2;

static PACK_BUILDS: Semaphore = Semaphore::const_new(MAX_CONCURRENT_PACKS);

/// Chunks of the answer waiting for the runner to read them.
const CHANNEL_CHUNKS: usize = 16;

/// `POST /api/v1/jobs/{job_id}/source`.
pub(super) async fn source(
    State(engine): State<Arc<Engine>>,
    AuthedRunner(runner): AuthedRunner,
    Path(job_id): Path<String>,
    Versioned(request): Versioned<SourceRequest>,
) -> Result<Response, ApiError> {
    let refused = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            format!("job {job_id} is not leased to this runner under that fencing token"),
        )
    };
    let job_id_parsed: JobId = job_id.parse().map_err(|_| refused())?;
    let job =
        match engine
            .store()
            .leased_job(job_id_parsed, runner.runner_id, request.fencing_token)
        {
            Ok(job) => job,
            Err(
                StoreError::JobNotFound(_)
                | StoreError::NotYourJob { .. }
                | StoreError::StaleLease { .. },
            ) => return Err(refused()),
            Err(error) => return Err(error.into()),
        };
    let Some(checkout) = job.spec.checkout.filter(|checkout| !checkout.working_tree) else {
        return Err(ApiError::not_found(format!(
            "serve the source of job {job_id}: the job has no commit to check out"
        )));
    };
    let sha = Oid::from_str(&checkout.sha).map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "serve the source of job {job_id}: `{}` is not a commit id",
                checkout.sha
            ),
        )
    })?;
    let permit = PACK_BUILDS.acquire().await.map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "serve the source: the engine is shutting down",
        )
    })?;
    let (chunks, received) = mpsc::channel(CHANNEL_CHUNKS);
    let (prepared, prepared_answer) = oneshot::channel();
    let transfer = Transfer {
        repository: repository_path(&checkout.repository),
        commit: sha,
        job_ref: checkout.git_ref.clone(),
        deadline: Instant::now() + MAX_SOURCE_TIME,
        runtime: tokio::runtime::Handle::current(),
    };
    tracing::info!(%job_id, commit = %sha, "serving a job's source");
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        transfer.run(prepared, chunks);
    });
    match prepared_answer.await {
        Ok(Ok(())) => {}
        Ok(Err(message)) => {
            tracing::error!(%job_id, %message, "cannot serve a job's source");
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("serve the source of job {job_id}: {message}"),
            ));
        }
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("serve the source of job {job_id}: the pack builder stopped"),
            ));
        }
    }
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(received));
    Ok(([(CONTENT_TYPE, SOURCE_CONTENT_TYPE)], body).into_response())
}

/// One answer being built, on a blocking thread (git2's pack builder is not `Send`).
struct Transfer {
    repository: PathBuf,
    commit: Oid,
    job_ref: Option<String>,
    deadline: Instant,
    runtime: tokio::runtime::Handle,
}

type Chunk = Result<Bytes, std::io::Error>;

impl Transfer {
    /// Says on `prepared` whether the pack could be planned, then streams the header line and
    /// the pack into `chunks`. A failure after the first byte ends the stream with an error, so
    /// the runner sees the answer cut off.
    fn run(self, prepared: oneshot::Sender<Result<(), String>>, chunks: mpsc::Sender<Chunk>) {
        let repository = match Repository::open(&self.repository) {
            Ok(repository) => repository,
            Err(error) => {
                let _ = prepared.send(Err(format!(
                    "open {}: {}",
                    self.repository.display(),
                    error.message()
                )));
                return;
            }
        };
        let (header, mut builder) = match self.plan(&repository) {
            Ok(planned) => planned,
            Err(error) => {
                let _ = prepared.send(Err(error.message().to_string()));
                return;
            }
        };
        if prepared.send(Ok(())).is_err() {
            return;
        }
        let mut line = serde_json::to_vec(&header).unwrap_or_default();
        line.push(b'\n');
        if !self.send(&chunks, Ok(Bytes::from(line))) {
            return;
        }
        let mut sent: u64 = 0;
        let mut cut_off: Option<String> = None;
        let outcome = builder.foreach(|data| {
            sent += data.len() as u64;
            if sent > MAX_SOURCE_BYTES {
                cut_off = Some(format!("the pack exceeds {MAX_SOURCE_BYTES} bytes"));
                return false;
            }
            if Instant::now() >= self.deadline {
                cut_off = Some(format!(
                    "the transfer took longer than {} s",
                    MAX_SOURCE_TIME.as_secs()
                ));
                return false;
            }
            self.send(&chunks, Ok(Bytes::copy_from_slice(data)))
        });
        let failure = match (cut_off, outcome) {
            (Some(reason), _) => Some(reason),
            (None, Err(error)) if !chunks.is_closed() => Some(error.message().to_string()),
            _ => None,
        };
        if let Some(reason) = failure {
            tracing::warn!(commit = %self.commit, %reason, "source transfer cut off");
            let _ = self.send(&chunks, Err(std::io::Error::other(reason)));
        }
    }

    /// The refs to send and a pack builder holding the commit, its history and the tag objects.
    fn plan<'repo>(
        &self,
        repository: &'repo Repository,
    ) -> Result<(SourceHeader, git2::PackBuilder<'repo>), git2::Error> {
        repository.find_commit(self.commit)?;
        let mut history = repository.revwalk()?;
        history.push(self.commit)?;
        let reachable: HashSet<Oid> = history.collect::<Result<_, _>>()?;

        let mut builder = repository.packbuilder()?;
        let mut walk = repository.revwalk()?;
        walk.push(self.commit)?;
        builder.insert_walk(&mut walk)?;

        let mut refs = BTreeMap::new();
        for reference in repository.references_glob("refs/tags/*")? {
            let Ok(reference) = reference else { continue };
            let (Ok(name), Some(target)) = (reference.name(), reference.target()) else {
                continue;
            };
            let Some(tag_objects) = tag_chain_to(repository, target, &reachable) else {
                continue;
            };
            for tag_object in tag_objects {
                builder.insert_object(tag_object, None)?;
            }
            refs.insert(name.to_string(), target);
        }
        if let Some(job_ref) = self.job_ref.as_deref().filter(|name| {
            name.starts_with("refs/")
                && git2::Reference::is_valid_name(name)
                && !refs.contains_key(*name)
        }) {
            refs.insert(job_ref.to_string(), self.commit);
        }
        let header = SourceHeader {
            protocol_version: PROTOCOL_VERSION,
            commit: self.commit.to_string(),
            refs: refs
                .into_iter()
                .map(|(name, target)| SourceRef {
                    name,
                    target: target.to_string(),
                })
                .collect(),
        };
        Ok((header, builder))
    }

    /// Hands one chunk to the HTTP body, waiting no later than the deadline; false when the
    /// runner went away or the deadline passed.
    fn send(&self, chunks: &mpsc::Sender<Chunk>, chunk: Chunk) -> bool {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        self.runtime
            .block_on(tokio::time::timeout(remaining, chunks.send(chunk)))
            .is_ok_and(|sent| sent.is_ok())
    }
}

/// The annotated tag objects from `target` down to a commit in `reachable` (empty for a
/// lightweight tag), or `None` when the tag ends anywhere else.
fn tag_chain_to(
    repository: &Repository,
    target: Oid,
    reachable: &HashSet<Oid>,
) -> Option<Vec<Oid>> {
    let mut chain = Vec::new();
    let mut object = repository.find_object(target, None).ok()?;
    // A tag of a tag of a tag…: bounded, so a crafted cycle cannot hold the thread.
    for _ in 0..16 {
        match object.kind() {
            Some(ObjectType::Tag) => {
                let tag = object.as_tag()?;
                chain.push(tag.id());
                object = tag.target().ok()?;
            }
            Some(ObjectType::Commit) => {
                return reachable.contains(&object.id()).then_some(chain);
            }
            _ => return None,
        }
    }
    None
}

/// The engine's local path for a checkout's `repository` (a path or a `file://` URL).
fn repository_path(repository: &str) -> PathBuf {
    PathBuf::from(repository.strip_prefix("file://").unwrap_or(repository))
}
