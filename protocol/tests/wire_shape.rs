//! Holds `PROTOCOL_VERSION` to the wire: builds a representative value of every protocol type,
//! reduces its JSON to a shape (keys and JSON kinds, recursively) and compares the shapes with
//! `wire_shape.snap`, which records the version it was taken at.
//!
//! - a shape changed while `PROTOCOL_VERSION` did not: fails, asking for a bump and a re-record;
//! - `PROTOCOL_VERSION` moved but the snapshot was not re-recorded: fails, asking for a re-record.
//!
//! Re-record with `UPDATE_WIRE_SNAPSHOT=1 cargo test -p protocol --test wire_shape`. A new
//! protocol type gets a line in `shapes()`; this file must not skip a type to make it pass.

#![allow(clippy::unwrap_used)] // test helpers may unwrap: a panic there fails the test

use std::collections::BTreeSet;
use std::path::PathBuf;

use indexmap::IndexMap;
use protocol::admin::*;
use protocol::environments::*;
use protocol::releases::*;
use protocol::repos::*;
use protocol::wire::*;
use protocol::*;
use serde::Serialize;
use serde_json::{Value, json};

const SNAPSHOT: &str = "tests/wire_shape.snap";

/// The shape of a JSON value: objects as `{key:shape,…}` with keys sorted, arrays as the set of
/// their elements' shapes, scalars as their kind.
fn shape(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(_) => "bool".to_string(),
        Value::Number(_) => "number".to_string(),
        Value::String(_) => "string".to_string(),
        Value::Array(items) => {
            let kinds: BTreeSet<String> = items.iter().map(shape).collect();
            format!("[{}]", kinds.into_iter().collect::<Vec<_>>().join("|"))
        }
        Value::Object(map) => {
            let mut fields: Vec<(&String, &Value)> = map.iter().collect();
            fields.sort_by(|a, b| a.0.cmp(b.0));
            let fields: Vec<String> = fields
                .into_iter()
                .map(|(key, value)| format!("{key}:{}", shape(value)))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
    }
}

fn of<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(json) => shape(&json),
        Err(error) => format!("<does not serialise: {error}>"),
    }
}

fn map(pairs: &[(&str, &str)]) -> IndexMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

fn at() -> jiff::Timestamp {
    jiff::Timestamp::UNIX_EPOCH
}

fn version() -> Version {
    Version {
        sha: "abc".into(),
        tag: Some("v1".into()),
        committed_at: Some(at()),
    }
}

fn step() -> Step {
    Step {
        id: Some("build".into()),
        name: Some("Build".into()),
        condition: Some("success()".into()),
        run: Some("make".into()),
        uses: Some("actions/checkout@v4".into()),
        shell: Some("bash".into()),
        with: map(&[("fetch-depth", "0")]),
        env: map(&[("A", "1")]),
        working_directory: Some("src".into()),
        continue_on_error: Some(BoolOrExpression::Bool(true)),
        timeout_minutes: Some(NumberOrExpression::Number(1.5)),
        background: false,
        control: None,
        line: 3,
        column: 7,
    }
}

fn context() -> DeploymentContext {
    DeploymentContext {
        environment: "prod".into(),
        strategy: StrategyKind::Rolling,
        targets: vec!["a".into()],
        batch: Some(1),
        batches: Some(2),
        slot: Some("blue".into()),
        weight: Some(10),
        phase: Activity::Execute,
        version: version(),
        is_rollback: false,
    }
}

fn plan() -> DeploymentPlan {
    DeploymentPlan {
        environment: "prod".into(),
        strategy: StrategyKind::Canary,
        version: version(),
        live_slot: Some("blue".into()),
        target_slot: Some("green".into()),
        is_rollback: false,
        phases: vec![PlannedPhase {
            index: 0,
            activity: Activity::Pause,
            label: "pause".into(),
            command: Some("check".into()),
            pause_seconds: Some(60),
            context: context(),
        }],
    }
}

fn deployment_spec() -> DeploymentSpec {
    DeploymentSpec {
        strategy: StrategyKind::BlueGreen,
        targets: vec!["a".into()],
        batch_size: Some(BatchSize::Percent(25)),
        verify: Some("curl".into()),
        acceptance: Some("test".into()),
        slots: Some(["blue".into(), "green".into()]),
        switch: Some("switch".into()),
        phases: vec![CanaryPhase {
            weight: 10,
            pause_seconds: Some(30),
            approval: true,
        }],
    }
}

fn phase_record() -> PhaseRecord {
    PhaseRecord {
        index: 0,
        activity: Activity::Verify,
        label: "verify".into(),
        started_at: at(),
        finished_at: Some(at()),
        succeeded: Some(true),
        detail: Some("ok".into()),
    }
}

fn deployment_report() -> DeploymentReport {
    DeploymentReport {
        deployment_id: "d1".into(),
        status: DeploymentStatus::RolledBack,
        reason: Some("verify failed".into()),
        phases: vec![phase_record()],
        live_slot: Some("blue".into()),
        rollback: Some(RollbackReport {
            to_version: version(),
            mode: RollbackMode::SwitchBack {
                to_slot: "blue".into(),
            },
            succeeded: true,
            reason: Some("r".into()),
            phases: vec![phase_record()],
        }),
    }
}

fn job_spec() -> JobSpec {
    JobSpec {
        run_id: "r1".into(),
        job_key: "build".into(),
        job_id: "build".into(),
        display_name: "Build".into(),
        workflow_file: ".github/workflows/ci.yml".into(),
        steps: vec![step()],
        env: map(&[("A", "1")]),
        default_shell: Some("bash".into()),
        default_working_directory: Some("src".into()),
        timeout_minutes: 360.0,
        contexts: [("github".to_string(), json!({}))].into_iter().collect(),
        secrets: map(&[("TOKEN", "x")]),
        outputs: map(&[("out", "${{ steps.a.outputs.b }}")]),
        checkout: Some(Checkout {
            repository: "/repo".into(),
            sha: "abc".into(),
            git_ref: Some("refs/heads/main".into()),
            working_tree: false,
        }),
        event_payload: json!({}),
        runs_on: vec!["linux".into()],
        runs_on_group: Some("group".into()),
        environment: Some(EnvironmentRef {
            name: "prod".into(),
            url: Some("https://example.test".into()),
        }),
        deployment: Some(DeploymentAssignment {
            deployment_id: "d1".into(),
            plan: plan(),
            spec: deployment_spec(),
            last_good: Some(version()),
        }),
        deployment_block: Some(json!({})),
        actions: IndexMap::from([("actions/cache@v4".to_string(), "0".repeat(40))]),
        container: None,
        services: Default::default(),
        run: RunFacts {
            actor: "alice".into(),
            triggering_actor: "alice".into(),
            event_name: "push".into(),
            git_ref: "refs/heads/main".into(),
            sha: "abc".into(),
            repository: "org/app".into(),
            repository_owner: "org".into(),
            repository_url: "file:///repo".into(),
            workflow: "CI".into(),
            workflow_file: ".github/workflows/ci.yml".into(),
            run_id: 7,
            run_number: 3,
            run_attempt: 1,
        },
    }
}

fn step_result() -> StepResult {
    StepResult {
        id: "build".into(),
        name: "Build".into(),
        outcome: Conclusion::Failure,
        conclusion: Conclusion::Success,
        outputs: map(&[("a", "b")]),
    }
}

fn job_result() -> JobResult {
    JobResult {
        conclusion: Conclusion::Success,
        outputs: map(&[("a", "b")]),
        steps: vec![step_result()],
        summary: "done".into(),
        failure_reason: Some("why".into()),
        deployment: Some(Box::new(deployment_report())),
    }
}

fn run_view() -> RunView {
    RunView {
        run_id: "r1".into(),
        workflow: "ci.yml".into(),
        run_number: 1,
        status: "completed".into(),
        conclusion: Some("success".into()),
        cancel_requested: false,
        created_at_us: 1,
        finished_at_us: Some(2),
        details: json!({}),
    }
}

fn job_view() -> JobView {
    JobView {
        job_id: "j1".into(),
        job_key: "build".into(),
        display_name: "Build".into(),
        status: "completed".into(),
        conclusion: Some("success".into()),
        runner_id: Some("runner".into()),
        attempt: 1,
        retry_reasons: vec!["lost".into()],
        failure_reason: Some("why".into()),
        cancel_requested: false,
        queued_at_us: 1,
        leased_at_us: Some(2),
        finished_at_us: Some(3),
        steps: vec![StepView {
            index: 0,
            name: "Build".into(),
            status: "success".into(),
        }],
        result: Some(job_result()),
        waiting_reason: Some("approvals".into()),
        waiting_for: Some(WaitingFor::Approval),
    }
}

/// Every protocol type (enums once per variant), named, with its shape.
fn shapes() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut add = |name: &str, shape: String| out.push((name.to_string(), shape));

    // Runner protocol.
    add("ErrorBody", of(&ErrorBody { error: "e".into() }));
    add_artifact_shapes(&mut add);
    add_action_shapes(&mut add);
    add_user_shapes(&mut add);
    add(
        "RegisterRequest",
        of(&RegisterRequest {
            protocol_version: 1,
            token: "t".into(),
            name: "n".into(),
            labels: vec!["l".into()],
            capacity: 1,
        }),
    );
    add(
        "RegisterResponse",
        of(&RegisterResponse {
            protocol_version: 1,
            runner_id: "r".into(),
            credential: "c".into(),
        }),
    );
    add(
        "NextRequest",
        of(&NextRequest {
            protocol_version: 1,
            wait_ms: Some(1),
        }),
    );
    add(
        "Lease",
        of(&Lease {
            protocol_version: 1,
            job_id: "j".into(),
            fencing_token: 1,
            lease_expires_in_ms: 1,
            attempt: 1,
            spec: job_spec(),
            runtime_token: Some("t".into()),
        }),
    );
    add(
        "HeartbeatRequest",
        of(&HeartbeatRequest {
            protocol_version: 1,
            fencing_token: 1,
        }),
    );
    add(
        "HeartbeatResponse",
        of(&HeartbeatResponse {
            cancel_requested: false,
            lease_expires_in_ms: 1,
        }),
    );
    add(
        "LogsRequest",
        of(&LogsRequest {
            protocol_version: 1,
            fencing_token: 1,
            chunks: vec![LogChunk {
                seq: 0,
                lines: vec!["l".into()],
                times: vec![LineTime {
                    line: 0,
                    unix_ms: 1,
                }],
            }],
        }),
    );
    add("LogsResponse", of(&LogsResponse { last_seq: Some(1) }));
    let events = vec![
        JobEvent::StepStarted {
            index: 0,
            name: "n".into(),
        },
        JobEvent::Log {
            step: Some(0),
            line: "l".into(),
        },
        JobEvent::StepFinished {
            index: 0,
            result: step_result(),
        },
        JobEvent::JobFinished {
            result: job_result(),
        },
    ];
    for event in &events {
        add("JobEvent", of(event));
    }
    add(
        "EventsRequest",
        of(&EventsRequest {
            protocol_version: 1,
            fencing_token: 1,
            events,
        }),
    );
    add(
        "FinishRequest",
        of(&FinishRequest {
            protocol_version: 1,
            fencing_token: 1,
            result: job_result(),
        }),
    );
    add(
        "DeploymentProgressRequest",
        of(&DeploymentProgressRequest {
            protocol_version: 1,
            fencing_token: 1,
            deployment_id: "d".into(),
            phases: vec![phase_record()],
            awaiting_approval: Some(1),
        }),
    );
    for approval in [
        PhaseApproval::Pending,
        PhaseApproval::Granted { by: "a".into() },
        PhaseApproval::Rejected {
            by: "a".into(),
            comment: Some("c".into()),
        },
    ] {
        add(
            "DeploymentProgressResponse",
            of(&DeploymentProgressResponse {
                approval: Some(approval),
            }),
        );
    }
    add(
        "SourceRequest",
        of(&SourceRequest {
            protocol_version: 1,
            fencing_token: 1,
        }),
    );
    add(
        "SourceHeader",
        of(&SourceHeader {
            protocol_version: 1,
            commit: "abc".into(),
            refs: vec![SourceRef {
                name: "refs/heads/main".into(),
                target: "abc".into(),
            }],
        }),
    );
    for conclusion in [
        Conclusion::Success,
        Conclusion::Failure,
        Conclusion::Cancelled,
        Conclusion::Skipped,
    ] {
        add("Conclusion", of(&conclusion));
    }
    add(
        "Step.continue_on_error",
        of(&BoolOrExpression::Expression("${{ x }}".into())),
    );
    add(
        "Step.timeout_minutes",
        of(&NumberOrExpression::Expression("${{ x }}".into())),
    );
    add("BatchSize", of(&BatchSize::Count(2)));
    add("RollbackMode", of(&RollbackMode::Redeploy));

    // Read API.
    add(
        "CancelRequest",
        of(&CancelRequest {
            protocol_version: 1,
        }),
    );
    add(
        "RunDetailView",
        of(&RunDetailView {
            run: run_view(),
            jobs: vec![job_view()],
        }),
    );
    add(
        "RunnerView",
        of(&RunnerView {
            runner_id: "r".into(),
            name: "n".into(),
            labels: vec!["l".into()],
            capacity: 1,
            registered_at_us: 1,
            last_seen_at_us: Some(1),
        }),
    );
    add(
        "LogLineEvent",
        of(&LogLineEvent {
            line: "l".into(),
            time_us: Some(1),
        }),
    );

    // Admin API.
    add(
        "SetSettingRequest",
        of(&SetSettingRequest {
            protocol_version: 1,
            repository: "r".into(),
            value: "v".into(),
        }),
    );
    add(
        "SecretView",
        of(&SecretView {
            name: "n".into(),
            repository: "r".into(),
            updated_at_us: 1,
        }),
    );
    add(
        "VariableView",
        of(&VariableView {
            name: "n".into(),
            repository: "r".into(),
            value: "v".into(),
            updated_at_us: 1,
        }),
    );
    add(
        "DispatchRequest",
        of(&DispatchRequest {
            protocol_version: 1,
            repository: "r".into(),
            workflow: "ci.yml".into(),
            git_ref: Some("main".into()),
            inputs: map(&[("a", "b")]),
            event: Some("push".into()),
        }),
    );
    add(
        "DispatchResponse",
        of(&DispatchResponse {
            protocol_version: 1,
            run_id: "r".into(),
            run_number: 1,
            conclusion: Some(Conclusion::Failure),
        }),
    );
    add(
        "TokenResponse",
        of(&TokenResponse {
            protocol_version: 1,
            token: "t".into(),
        }),
    );
    add(
        "RerunRequest",
        of(&RerunRequest {
            protocol_version: 1,
            failed: true,
            job: Some("build".into()),
        }),
    );
    add(
        "RerunResponse",
        of(&RerunResponse {
            protocol_version: 1,
            run_id: "r".into(),
            run_number: 1,
            attempt: 2,
            rerun_of: "r0".into(),
            jobs: vec!["build".into()],
        }),
    );
    add(
        "GcRequest",
        of(&GcRequest {
            protocol_version: 1,
            older_than_seconds: Some(60),
            dry_run: true,
        }),
    );
    add(
        "GcResponse",
        of(&GcResponse {
            protocol_version: 1,
            older_than_seconds: 60,
            dry_run: false,
            runs: vec![GcRun {
                run_id: "r".into(),
                workflow: "ci.yml".into(),
                run_number: 1,
                finished_at_us: 1,
            }],
            bytes: 1,
        }),
    );
    add(
        "CreateEnvironmentRequest",
        of(&CreateEnvironmentRequest {
            protocol_version: 1,
            name: "prod".into(),
            settings: full_patch(),
        }),
    );
    add(
        "EditEnvironmentRequest",
        of(&EditEnvironmentRequest {
            protocol_version: 1,
            settings: full_patch(),
        }),
    );
    add(
        "DecisionRequest",
        of(&DecisionRequest {
            protocol_version: 1,
            environment: "prod".into(),
            decision: Decision::Approve,
            comment: Some("c".into()),
        }),
    );
    add("Decision", of(&Decision::Reject));
    add("WaitingFor", of(&WaitingFor::Approval));
    add(
        "RollbackRequest",
        of(&RollbackRequest {
            protocol_version: 1,
        }),
    );
    add(
        "SetGroupRequest",
        of(&SetGroupRequest {
            protocol_version: 1,
            members: vec!["a".into()],
        }),
    );
    add(
        "EnvironmentQuery",
        of(&EnvironmentQuery {
            environment: Some("prod".into()),
        }),
    );
    add(
        "ApprovalOutcome",
        of(&ApprovalOutcome {
            environment: "prod".into(),
            run_id: "r".into(),
            effect: "opened".into(),
            message: "m".into(),
        }),
    );
    add(
        "AddRepoRequest",
        of(&AddRepoRequest {
            protocol_version: Some(1),
            source: "/repo".into(),
            name: Some("n".into()),
            poll_interval_ms: Some(1),
            webhook_secret: Some("s".into()),
            forge: Some("gitea".into()),
            forge_token_secret: Some("T".into()),
            forge_api: Some("https://git.example/api/v1".into()),
        }),
    );
    add(
        "HookRequest",
        of(&HookRequest {
            updates: vec![HookUpdate {
                old: "a".into(),
                new: "b".into(),
                git_ref: "refs/heads/main".into(),
            }],
            pusher: Some("p".into()),
        }),
    );
    add(
        "CreateReleaseRequest",
        of(&CreateReleaseRequest {
            protocol_version: Some(1),
            tag: "v1".into(),
            repo: Some("r".into()),
            name: Some("n".into()),
            notes: Some("n".into()),
            category: Some("minor".into()),
        }),
    );
    add(
        "PromoteReleaseRequest",
        of(&PromoteReleaseRequest {
            protocol_version: Some(1),
            repo: Some("r".into()),
            environment: "prod".into(),
            audience: "all".into(),
        }),
    );
    add(
        "ApproveReleaseRequest",
        of(&ApproveReleaseRequest {
            protocol_version: Some(1),
            repo: Some("r".into()),
            environment: "prod".into(),
            comment: Some("c".into()),
            decision: Some(Decision::Approve),
        }),
    );
    add(
        "WithdrawReleaseRequest",
        of(&WithdrawReleaseRequest {
            protocol_version: Some(1),
            repo: Some("r".into()),
            environment: "prod".into(),
            reason: Some("r".into()),
        }),
    );
    add(
        "ReleaseQuery",
        of(&ReleaseQuery {
            repo: Some("r".into()),
        }),
    );
    add(
        "PlanReleaseRequest",
        of(&PlanReleaseRequest {
            protocol_version: Some(1),
            repo: Some("r".into()),
            environment: "e".into(),
            stages: vec!["10%@now".into()],
            check: Some("workflow:canary.yml".into()),
        }),
    );
    add(
        "PlanControlRequest",
        of(&PlanControlRequest {
            protocol_version: Some(1),
            repo: Some("r".into()),
            environment: "e".into(),
            to_nobody: true,
        }),
    );
    add(
        "ReleaseNotesRequest",
        of(&ReleaseNotesRequest {
            protocol_version: Some(1),
            repo: Some("r".into()),
            notes: "n".into(),
        }),
    );
    add(
        "ReachRequest",
        of(&ReachRequest {
            protocol_version: Some(1),
            repo: Some("r".into()),
            keys: vec!["k premium".into()],
        }),
    );
    add(
        "ReleasePolicyRequest",
        of(&ReleasePolicyRequest {
            protocol_version: Some(1),
            approvals: 1,
            approvers: vec!["a".into()],
            wait: Some("1h".into()),
            allowed_windows: vec!["Tue 09:00-16:00 UTC".into()],
            clear: false,
        }),
    );
    let protection = Protection {
        required_approvals: 1,
        approvers: vec![Approver::User("a".into()), Approver::Group("g".into())],
        prevent_self_review: true,
        wait_seconds: 60,
        approval_expiry_seconds: Some(3600),
        branches: vec!["main".into()],
        tags: vec!["v*".into()],
    };
    let environment = Environment {
        name: "prod".into(),
        protection: protection.clone(),
        release_protection: protection.clone(),
        freeze_windows: vec!["Fri 16:00-Mon 08:00 UTC".into()],
        default_strategy: Some(StrategyKind::BigBang),
        url: Some("https://example.test".into()),
        variables: map(&[("A", "1")]),
        secret_names: vec!["TOKEN".into()],
        release_policies: [(
            "emergency".to_string(),
            ReleasePolicy {
                protection: protection.clone(),
                allowed_windows: vec!["Tue 09:00-16:00 UTC".into()],
            },
        )]
        .into_iter()
        .collect(),
    };
    let entry = LaneEntry {
        deployment_id: "d1".into(),
        run_id: Some("r".into()),
        job_key: Some("deploy".into()),
        version: version(),
        is_rollback: false,
        enqueued_at: at(),
    };
    add(
        "EnvironmentView",
        of(&EnvironmentView {
            environment,
            lane: Lane {
                environment: "prod".into(),
                in_progress: Some(entry.clone()),
                queue: vec![entry],
            },
            lane_state: "busy".into(),
        }),
    );
    add(
        "Groups",
        of(&Groups {
            members: [("ops".to_string(), vec!["a".to_string()])]
                .into_iter()
                .collect(),
        }),
    );
    add(
        "Deployment",
        of(&Deployment {
            id: "d1".into(),
            environment: "prod".into(),
            repository: "o/r".into(),
            version: version(),
            git_ref: "refs/heads/main".into(),
            run_id: Some("r".into()),
            job_key: Some("deploy".into()),
            triggered_by: "a".into(),
            approvals: vec![Approval {
                approver: "b".into(),
                decision: Decision::Approve,
                at: at(),
                comment: Some("ok".into()),
            }],
            strategy: StrategyKind::Rolling,
            phases: vec![phase_record()],
            status: DeploymentStatus::Success,
            status_reason: Some("why".into()),
            url: Some("https://example.test".into()),
            slot: Some("blue".into()),
            is_rollback: true,
            rollback_of: Some("d0".into()),
            created_at: at(),
            started_at: Some(at()),
            finished_at: Some(at()),
            updated_at: at(),
        }),
    );
    for subject in [
        AuditSubject::Run { run_id: "r".into() },
        AuditSubject::Deployment {
            deployment_id: "d".into(),
        },
        AuditSubject::Release { tag: "v1".into() },
    ] {
        add(
            "AuditEntry",
            of(&AuditEntry {
                at: at(),
                actor: "a".into(),
                action: AuditAction::GateOpened,
                environment: "prod".into(),
                subject,
                reason: "r".into(),
            }),
        );
    }
    out
}

fn render(version: u32, shapes: &[(String, String)]) -> String {
    let mut text = format!("protocol_version {version}\n");
    for (name, shape) in shapes {
        text.push_str(&format!("{name} {shape}\n"));
    }
    text
}

#[test]
fn wire_shapes_match_the_snapshot_of_this_protocol_version() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOT);
    let current = shapes();
    if std::env::var_os("UPDATE_WIRE_SNAPSHOT").is_some() {
        std::fs::write(&path, render(PROTOCOL_VERSION, &current))
            .unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
        return;
    }
    let recorded = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "read {}: {error} (record it with UPDATE_WIRE_SNAPSHOT=1)",
            path.display()
        )
    });
    let mut lines = recorded.lines();
    let recorded_version: u32 = lines
        .next()
        .and_then(|line| line.strip_prefix("protocol_version "))
        .and_then(|number| number.trim().parse().ok())
        .unwrap_or_else(|| panic!("{}:1: expected `protocol_version N`", path.display()));
    let recorded_shapes: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(' '))
        .map(|(name, shape)| (name.to_string(), shape.to_string()))
        .collect();

    let changed: Vec<String> = differences(&recorded_shapes, &current);
    if !changed.is_empty() && recorded_version == PROTOCOL_VERSION {
        panic!(
            "the wire changed but PROTOCOL_VERSION is still {PROTOCOL_VERSION}: bump \
             PROTOCOL_VERSION and re-record with UPDATE_WIRE_SNAPSHOT=1\n{}",
            changed.join("\n")
        );
    }
    if recorded_version != PROTOCOL_VERSION {
        panic!(
            "PROTOCOL_VERSION is {PROTOCOL_VERSION} but {} was recorded at {recorded_version}: \
             re-record with UPDATE_WIRE_SNAPSHOT=1{}",
            SNAPSHOT,
            if changed.is_empty() {
                " (no shape changed: is the bump needed?)".to_string()
            } else {
                format!("\n{}", changed.join("\n"))
            }
        );
    }
}

/// Each type whose shape differs, was added or went away, one line each.
fn differences(recorded: &[(String, String)], current: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    let longest = recorded.len().max(current.len());
    for index in 0..longest {
        match (recorded.get(index), current.get(index)) {
            (Some(before), Some(now)) if before == now => {}
            (Some(before), Some(now)) if before.0 == now.0 => out.push(format!(
                "{}: was {}\n{}: now {}",
                now.0, before.1, now.0, now.1
            )),
            (Some(before), Some(now)) => out.push(format!(
                "entry {index}: was {} {}, now {} {}",
                before.0, before.1, now.0, now.1
            )),
            (Some(before), None) => out.push(format!("{}: removed", before.0)),
            (None, Some(now)) => out.push(format!("{}: added {}", now.0, now.1)),
            (None, None) => {}
        }
    }
    out
}

#[test]
fn shape_keeps_keys_and_kinds_only() {
    let value = json!({"b": [1, "x", 2], "a": {"c": null, "d": true}});
    assert_eq!(shape(&value), "{a:{c:null,d:bool},b:[number|string]}");
}

/// Artifacts and caches (`protocol::artifacts`).
fn add_action_shapes(add: &mut impl FnMut(&str, String)) {
    use protocol::actions::*;
    add(
        "AddActionSourceRequest",
        of(&AddActionSourceRequest {
            protocol_version: Some(2),
            location: "/srv/actions".into(),
            name: Some("local".into()),
        }),
    );
    add(
        "ActionSource",
        of(&ActionSource {
            name: "local".into(),
            location: "/srv/actions".into(),
            added_at_ms: 1,
        }),
    );
    add(
        "MirrorActionRequest",
        of(&MirrorActionRequest {
            protocol_version: Some(2),
            repository: "actions/cache".into(),
            git_ref: Some("v4".into()),
        }),
    );
    add(
        "ActionMirror",
        of(&ActionMirror {
            repository: "actions/cache".into(),
            source: "/srv/actions/actions/cache".into(),
            fetched_at_ms: 1,
            refs: vec![ActionRef {
                name: "refs/tags/v4".into(),
                sha: "0".repeat(40),
            }],
        }),
    );
}

fn add_artifact_shapes(add: &mut impl FnMut(&str, String)) {
    use protocol::artifacts::*;
    let file = || ArtifactFile {
        path: "dir/a.txt".into(),
        size: 3,
        sha256: "ab".into(),
    };
    let manifest = ArtifactManifest {
        name: "dist".into(),
        run_id: "r1".into(),
        attempt: 1,
        job_key: "build".into(),
        size: 3,
        created_at_us: 1,
        expires_at_us: 2,
        files: vec![file()],
    };
    add("ArtifactFile", of(&file()));
    add("ArtifactManifest", of(&manifest));
    add(
        "CommitArtifactRequest",
        of(&CommitArtifactRequest {
            protocol_version: 1,
            fencing_token: 1,
            files: vec![file()],
            overwrite: true,
            retention_days: Some(3),
        }),
    );
    add(
        "ListArtifactsRequest",
        of(&ListArtifactsRequest {
            protocol_version: 1,
            fencing_token: 1,
        }),
    );
    add(
        "ArtifactList",
        of(&ArtifactList {
            artifacts: vec![manifest],
        }),
    );
    let entry = CacheEntry {
        key: "deps-1".into(),
        scope: "refs/heads/main".into(),
        size: 3,
        created_at_us: 1,
        files: vec![file()],
        version: Some("v".into()),
    };
    add("CacheEntry", of(&entry));
    add(
        "CacheLookupRequest",
        of(&CacheLookupRequest {
            protocol_version: 1,
            fencing_token: 1,
            key: "deps-1".into(),
            restore_keys: vec!["deps-".into()],
        }),
    );
    add("CacheLookup", of(&CacheLookup { entry: Some(entry) }));
    add(
        "CommitCacheRequest",
        of(&CommitCacheRequest {
            protocol_version: 1,
            fencing_token: 1,
            files: vec![file()],
        }),
    );
}

/// An environment patch with every field set, so the snapshot shows them all.
fn full_patch() -> EnvironmentPatch {
    let policy = ProtectionPatch {
        approvals: Some(2),
        approvers: Some(vec!["alice".into(), "@ops".into()]),
        prevent_self_review: Some(true),
        wait: Some("5m".into()),
        approval_expiry: Some("24h".into()),
        branches: Some(vec!["main".into()]),
        tags: Some(vec!["v*".into()]),
    };
    EnvironmentPatch {
        deploy: policy.clone(),
        release: policy,
        clear_freeze: true,
        add_freeze: vec!["Fri 16:00-Mon 08:00 UTC".into()],
        strategy: Some("canary".into()),
        url: Some("https://example.com".into()),
        vars: [("REGION".to_string(), "eu".to_string())]
            .into_iter()
            .collect(),
        secrets: vec!["TOKEN".into()],
    }
}

fn add_user_shapes(add: &mut impl FnMut(&str, String)) {
    use protocol::users::*;
    add("Role", of(&Role::Deployer));
    add("TokenScope", of(&TokenScope::FlagsRead));
    add(
        "CreateUserRequest",
        of(&CreateUserRequest {
            protocol_version: 1,
            name: "alice".into(),
            role: Some(Role::Viewer),
            git_email: Some("a@x".into()),
        }),
    );
    add(
        "User",
        of(&User {
            name: "alice".into(),
            role: Role::Admin,
            git_email: Some("a@x".into()),
            created_at: at(),
        }),
    );
    add(
        "CreateTokenRequest",
        of(&CreateTokenRequest {
            protocol_version: 1,
            user: Some("alice".into()),
            name: "laptop".into(),
            expires_in_secs: Some(1),
            scope: Some(TokenScope::All),
        }),
    );
    let view = TokenView {
        id: "i".into(),
        user: "alice".into(),
        name: "laptop".into(),
        scope: TokenScope::All,
        created_at: at(),
        expires_at: Some(at()),
        last_used_at: Some(at()),
        revoked_at: Some(at()),
    };
    add("TokenView", of(&view));
    add(
        "CreatedToken",
        of(&CreatedToken {
            protocol_version: 1,
            info: view,
            token: "t".into(),
        }),
    );
    add(
        "WhoAmI",
        of(&WhoAmI {
            user: "alice".into(),
            role: Role::Viewer,
            token: "t".into(),
            scope: TokenScope::All,
        }),
    );
    add(
        "UserQuery",
        of(&UserQuery {
            user: Some("alice".into()),
        }),
    );
    add(
        "AccessEntry",
        of(&AccessEntry {
            at: at(),
            user: "alice".into(),
            token: "t".into(),
            method: "POST".into(),
            path: "/p".into(),
            status: 403,
            needed: Some(Role::Deployer),
        }),
    );
}
