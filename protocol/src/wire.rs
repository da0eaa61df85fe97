//! Request and response bodies of the HTTP protocol between the engine and its runners (and the
//! read API the CLI uses). Every runner request carries `protocol_version`; the engine refuses a
//! mismatch with 400 naming both versions.
//!
//! **Architecture Invariant:** plain data only: no HTTP client, no server, no store types here.

use serde::{Deserialize, Serialize};

use crate::deployment::PhaseRecord;
use crate::job::{JobEvent, JobResult, JobSpec};

/// The error body of every non-2xx answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// For people: what went wrong, e.g. `protocol version mismatch: …`.
    pub error: String,
}

/// `POST /api/v1/runners/register`: exchange a one-time registration token for a credential.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// Must equal `PROTOCOL_VERSION`, else the engine answers 400.
    pub protocol_version: u32,
    /// The one-time registration token an admin made (`POST /api/v1/admin/registration-tokens`); it is used up by this call.
    pub token: String,
    /// The runner's name, shown in runner lists.
    pub name: String,
    /// The labels the runner carries; it takes only jobs whose `runs-on` labels it all carries.
    #[serde(default)]
    pub labels: Vec<String>,
    /// How many jobs the runner runs at once.
    pub capacity: u32,
}

/// The answer to `register`: the runner's identity and its credential.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterResponse {
    /// The engine's `PROTOCOL_VERSION`.
    pub protocol_version: u32,
    /// The id (a UUID) the engine gave the runner.
    pub runner_id: String,
    /// Sent as `Authorization: Bearer <credential>` on every later call; the engine keeps only
    /// its hash, so it cannot be shown again.
    pub credential: String,
}

/// `POST /api/v1/runner/next`: long poll for one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NextRequest {
    /// Must equal `PROTOCOL_VERSION`, else the engine answers 400.
    pub protocol_version: u32,
    /// How long the runner is willing to wait; the engine caps it at its own long-poll limit.
    #[serde(default)]
    pub wait_ms: Option<u64>,
}

/// The answer to `next` when a job was granted (204 No Content when none came in time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lease {
    /// The engine's `PROTOCOL_VERSION`.
    pub protocol_version: u32,
    /// Names the job in every later call (`/api/v1/jobs/{job_id}/…`).
    pub job_id: String,
    /// Changes whenever the job is granted again; a report carrying an old one is refused (409).
    pub fencing_token: u64,
    /// Milliseconds until the lease expires unless a heartbeat renews it (the job is then re-queued).
    pub lease_expires_in_ms: u64,
    /// 1 for the first try, 2 after the job was re-queued because its runner was lost, …
    pub attempt: u32,
    /// The job to run, with everything the runner needs to run it.
    pub spec: JobSpec,
    /// The job's token (`ACTIONS_RUNTIME_TOKEN`, `github.token`, `GITHUB_TOKEN`): signed by the
    /// engine, good for this lease only (its fencing token) and until it expires; the engine's
    /// cache and artifact services accept it. Absent from engines that do not mint one.
    #[serde(default)]
    pub runtime_token: Option<String>,
}

/// `POST /api/v1/jobs/{id}/heartbeat`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeartbeatRequest {
    /// Must equal `PROTOCOL_VERSION`, else the engine answers 400.
    pub protocol_version: u32,
    /// The fencing token of the runner's lease on the job; a stale one is refused (409).
    pub fencing_token: u64,
}

/// The answer to a heartbeat: whether to stop, and the renewed lease.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    /// Whether the job (or its run) was cancelled: the runner stops it and reports it `cancelled`.
    pub cancel_requested: bool,
    /// Milliseconds until the renewed lease expires unless the next heartbeat renews it again.
    pub lease_expires_in_ms: u64,
}

/// One batch of log lines; `seq` counts chunks of one lease from 0 and makes a retried chunk
/// harmless (a chunk whose `seq` is already stored is ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogChunk {
    /// The chunk's sequence number within the lease, from 0.
    pub seq: u64,
    /// The log lines of the chunk, secrets already masked, without newlines.
    pub lines: Vec<String>,
    /// When the lines were written, compactly: each entry gives the time of its line and of
    /// the lines after it up to the next entry (so an entry is sent only when the millisecond
    /// changes). Empty from a runner that keeps no times: the engine then uses the chunk's
    /// arrival.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub times: Vec<LineTime>,
}

/// The time of a line of a `LogChunk`, and of the lines after it up to the next entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineTime {
    /// An index into the chunk's `lines`.
    pub line: u32,
    /// Milliseconds since the Unix epoch.
    pub unix_ms: u64,
}

/// `POST /api/v1/jobs/{id}/logs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogsRequest {
    /// Must equal `PROTOCOL_VERSION`, else the engine answers 400.
    pub protocol_version: u32,
    /// The fencing token of the runner's lease on the job; a stale one is refused (409).
    pub fencing_token: u64,
    /// The chunks to store, in order.
    pub chunks: Vec<LogChunk>,
}

/// The answer to a logs call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogsResponse {
    /// The highest chunk sequence number stored for this job, if any.
    pub last_seq: Option<u64>,
}

/// `POST /api/v1/jobs/{id}/events`: step started / step finished, in order. `Log` events are sent
/// as log chunks instead and are ignored here; `JobFinished` is sent as `finish`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventsRequest {
    /// Must equal `PROTOCOL_VERSION`, else the engine answers 400.
    pub protocol_version: u32,
    /// The fencing token of the runner's lease on the job; a stale one is refused (409).
    pub fencing_token: u64,
    /// The job's `StepStarted` and `StepFinished` events, in the order they happened.
    pub events: Vec<JobEvent>,
}

/// `POST /api/v1/jobs/{id}/finish`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinishRequest {
    /// Must equal `PROTOCOL_VERSION`, else the engine answers 400.
    pub protocol_version: u32,
    /// The fencing token of the runner's lease on the job; a stale one is refused (409).
    pub fencing_token: u64,
    /// How the job ended; the lease ends with this call.
    pub result: JobResult,
}

/// `POST /api/v1/jobs/{id}/deployment`: a deployment job's progress, sent by the lease holder
/// when a phase starts or ends and every few seconds while it waits at a canary approval.
/// `phases` is the whole list so far, so a repeated report is harmless.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentProgressRequest {
    /// Must equal `PROTOCOL_VERSION`, else the engine answers 400.
    pub protocol_version: u32,
    /// The fencing token of the runner's lease on the job; a stale one is refused (409).
    pub fencing_token: u64,
    /// The id of the deployment record, as in the job's `DeploymentAssignment`.
    pub deployment_id: String,
    /// Every phase so far as it ran, with its times.
    pub phases: Vec<PhaseRecord>,
    /// The phase index of a canary approval the runner is waiting at.
    #[serde(default)]
    pub awaiting_approval: Option<usize>,
}

/// The answer to a deployment progress report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentProgressResponse {
    /// The decision on `awaiting_approval`, when one was asked about.
    #[serde(default)]
    pub approval: Option<PhaseApproval>,
}

/// The approvers' decision on a canary approval phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum PhaseApproval {
    /// No approver has decided yet.
    Pending,
    /// An approver let the next canary phase go ahead.
    Granted {
        /// The approver's login.
        by: String,
    },
    /// An approver rejected it: the deployment stops there.
    Rejected {
        /// The approver's login.
        by: String,
        /// The approver's note, if they gave one.
        #[serde(default)]
        comment: Option<String>,
    },
}

/// `POST /api/v1/runs/{id}/cancel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CancelRequest {
    /// Must equal `PROTOCOL_VERSION`, else the engine answers 400.
    pub protocol_version: u32,
}

/// What the read API shows of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunView {
    /// The run's id (a UUID).
    pub run_id: String,
    /// The run's workflow file, relative to the repository root.
    pub workflow: String,
    /// The run's number among the runs of its workflow, from 1.
    pub run_number: u64,
    /// `waiting`, `queued`, `in_progress` or `completed`.
    pub status: String,
    /// Set once `status` is `completed`: `success`, `failure`, `cancelled`, `skipped`.
    pub conclusion: Option<String>,
    /// Whether a cancel was asked for (the run may still be stopping).
    pub cancel_requested: bool,
    /// Microseconds since the Unix epoch when the run was created.
    pub created_at_us: u64,
    /// Microseconds since the Unix epoch when the run completed; `None` before.
    pub finished_at_us: Option<u64>,
    /// Whatever the planner recorded about the trigger (event name, ref, sha, …).
    pub details: serde_json::Value,
}

/// A run with its jobs (`GET /api/v1/runs/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDetailView {
    /// The run itself.
    pub run: RunView,
    /// The run's jobs, one per job key (each matrix leg is one).
    pub jobs: Vec<JobView>,
}

/// What the read API shows of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    /// The job's id (a UUID): the `{job_id}` of job URLs.
    pub job_id: String,
    /// The job's unique key inside the run (the job id, plus the matrix values for a matrix leg).
    pub job_key: String,
    /// The display name (`name:` evaluated, or the key).
    pub display_name: String,
    /// `waiting`, `queued`, `in_progress` or `completed`.
    pub status: String,
    /// Set once `status` is `completed`: `success`, `failure`, `cancelled`, `skipped`.
    pub conclusion: Option<String>,
    /// The id of the runner of the latest attempt (kept after its lease ends); `None` before a runner took it.
    pub runner_id: Option<String>,
    /// How many times a runner took the job: 0 before the first, one more each time it was re-queued and taken again.
    pub attempt: u32,
    /// Why earlier attempts ended without a result (e.g. the lease expired).
    pub retry_reasons: Vec<String>,
    /// Why the job failed when no step says so (timeout, cancel, infrastructure).
    pub failure_reason: Option<String>,
    /// Whether a cancel of the job (or its run) was asked for.
    pub cancel_requested: bool,
    /// Microseconds since the Unix epoch when the job was queued.
    pub queued_at_us: u64,
    /// Microseconds since the Unix epoch when a runner last took the job; `None` before.
    pub leased_at_us: Option<u64>,
    /// Microseconds since the Unix epoch when the job completed; `None` before.
    pub finished_at_us: Option<u64>,
    /// The steps' progress, in step order.
    pub steps: Vec<StepView>,
    /// How the job ended, once it completed; `None` before.
    pub result: Option<JobResult>,
    /// Why a `waiting` job is held back (a concurrency group, an environment's approvals, its
    /// deployment lane, a freeze window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_reason: Option<String>,
    /// What a `waiting` job is held by, for scripts (`waiting_reason` is the sentence for
    /// people): an approval, its deployment lane, a freeze window, a concurrency group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<WaitingFor>,
}

/// What holds a `waiting` job back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitingFor {
    /// An environment's protection rules, not evaluated yet.
    Gate,
    /// Approvals an environment requires.
    Approval,
    /// An environment's wait timer (the approvals, if any, are in).
    WaitTimer,
    /// Its place in an environment's deployment lane.
    Lane,
    /// An environment's freeze window.
    Freeze,
    /// A concurrency group.
    Concurrency,
}

/// Step progress as the runner reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepView {
    /// The step's position in the job's steps, from 0.
    pub index: usize,
    /// The step's display name.
    pub name: String,
    /// `in_progress` or the step's conclusion.
    pub status: String,
}

/// `GET /api/v1/runners`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunnerView {
    /// The runner's id (a UUID).
    pub runner_id: String,
    /// The name the runner registered with.
    pub name: String,
    /// The labels the runner carries (matched against a job's `runs-on`).
    pub labels: Vec<String>,
    /// How many jobs the runner runs at once.
    pub capacity: u32,
    /// Microseconds since the Unix epoch when the runner registered.
    pub registered_at_us: u64,
    /// Microseconds since the Unix epoch of the runner's last call; `None` before its first.
    pub last_seen_at_us: Option<u64>,
}

/// One line of a followed log (server-sent event `log`; the stream ends with event `end`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLineEvent {
    /// The line's text, secrets masked.
    pub line: String,
    /// When the engine stored the line (the chunk it came in), µs since the epoch; absent for
    /// lines stored before the engine kept times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_us: Option<u64>,
}

/// `PUT /api/v1/secrets/{name}` and `PUT /api/v1/variables/{name}` (admin).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetSettingRequest {
    /// Must equal `PROTOCOL_VERSION`, else the engine answers 400.
    pub protocol_version: u32,
    /// The scope: a repository name or path; `""` (the default) is every repository.
    #[serde(default)]
    pub repository: String,
    /// The new value: a secret's is sealed before it is stored, a variable's is stored as given.
    pub value: String,
}

/// What the API shows of a secret: never its value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretView {
    /// The secret's name, as jobs read it (`secrets.NAME`).
    pub name: String,
    /// `""`: every repository.
    pub repository: String,
    /// Microseconds since the Unix epoch when the value was last set.
    pub updated_at_us: u64,
}

/// A configuration variable (`vars.NAME`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariableView {
    /// The variable's name, as jobs read it (`vars.NAME`).
    pub name: String,
    /// The scope: a repository name or path; `""`: every repository.
    pub repository: String,
    /// The variable's value.
    pub value: String,
    /// Microseconds since the Unix epoch when the value was last set.
    pub updated_at_us: u64,
}

/// `POST /api/v1/jobs/{id}/source`: the lease holder asks for the job's commit. The answer is
/// `application/x-slipway-source`: one line of JSON ([`SourceHeader`]) ending in `\n`, then a git
/// packfile (version 2, self-contained) holding the commit, its history and the annotated tags
/// the header's refs name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceRequest {
    /// Must equal `PROTOCOL_VERSION`, else the engine answers 400.
    pub protocol_version: u32,
    /// The fencing token of the runner's lease on the job; a stale one is refused (409).
    pub fencing_token: u64,
}

/// The first line of a source answer: what the packfile after it is for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceHeader {
    /// The engine's `PROTOCOL_VERSION`.
    pub protocol_version: u32,
    /// The job's commit (full hex id); always in the pack.
    pub commit: String,
    /// Refs to create beside the pack: the job's ref at the job's commit, and every tag whose
    /// commit is the job's commit or one of its ancestors (annotated tags point at their tag
    /// object, which is in the pack).
    pub refs: Vec<SourceRef>,
}

/// One ref a runner creates beside the job's source pack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceRef {
    /// Full ref name (`refs/heads/main`, `refs/tags/v1.2.0`).
    pub name: String,
    /// Full hex object id.
    pub target: String,
}
