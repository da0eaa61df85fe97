//! The deployment domain end to end through its public API, the way the engine will wire it:
//! a workflow's `deployment:` block read by the workflow parser, an environment configured
//! from command-line options, the gate, the lane, the version guard, the plan, the run state
//! machine, the records and a release. Time is a controllable `now`; nothing sleeps.

use deploy::{
    self, Activity, ApprovalKey, Audience, Decision, Deployment, DeploymentAction, DeploymentEvent,
    DeploymentId, DeploymentMachine, DeploymentSpec, DeploymentStatus, Environment, GateRequest,
    GateState, Groups, Lane, LaneEntry, PromotionRequest, Release, ReleaseAction, RollbackMode,
    StrategyKind, Version, VersionCheck,
};
use jiff::Timestamp;
use protocol::environments::{EnvironmentPatch, ProtectionPatch};
use serde_json::Value;

fn at(text: &str) -> Timestamp {
    match text.parse() {
        Ok(instant) => instant,
        Err(error) => panic!("bad test time `{text}`: {error}"),
    }
}

/// The `deployment:` block of job `job` in `yaml`, as the workflow parser keeps it.
fn deployment_block(yaml: &str, job: &str) -> Value {
    let parsed = workflows::parse_workflow(".github/workflows/deploy.yml", yaml);
    assert!(
        !parsed.has_errors(),
        "diagnostics: {:?}",
        parsed.diagnostics
    );
    let workflow = parsed.workflow.expect("a workflow");
    let job = workflow.jobs.get(job).expect("the job");
    job.deployment
        .as_ref()
        .map(|block| block.value.clone())
        .unwrap_or(Value::Null)
}

const WORKFLOW: &str = r#"
on: push
jobs:
  deploy:
    runs-on: ubuntu-latest
    environment: production
    deployment:
      strategy: rolling
      targets: [web1, web2, web3, web4]
      batch-size: 2
      verify: ./scripts/health.sh
      acceptance: ./scripts/smoke.sh
    steps:
      - run: ./deploy.sh
  canary:
    runs-on: ubuntu-latest
    environment: production
    deployment:
      strategy: canary
      phases:
        - weight: 10
          pause: 5m
        - weight: 50
          approval: true
        - weight: 100
    steps:
      - run: ./route.sh
"#;

fn production() -> Environment {
    let settings = EnvironmentPatch {
        deploy: ProtectionPatch {
            approvals: Some(2),
            approvers: Some(vec!["alice".into(), "bob".into(), "carol".into()]),
            wait: Some("5m".into()),
            branches: Some(vec!["main".into()]),
            tags: Some(vec!["v*".into()]),
            ..ProtectionPatch::default()
        },
        add_freeze: vec!["Fri 16:00-Mon 08:00 UTC".into()],
        ..EnvironmentPatch::default()
    };
    Environment::from_patch("production", &settings).expect("a valid environment")
}

fn version(sha: &str, tag: &str) -> Version {
    Version {
        sha: sha.into(),
        tag: Some(tag.into()),
        committed_at: None,
    }
}

#[test]
fn the_parser_keeps_blocks_the_spec_reads() {
    let rolling = DeploymentSpec::parse(&deployment_block(WORKFLOW, "deploy"), None).unwrap();
    assert_eq!(rolling.strategy, StrategyKind::Rolling);
    assert_eq!(rolling.batches().len(), 2);
    let canary = DeploymentSpec::parse(&deployment_block(WORKFLOW, "canary"), None).unwrap();
    let weights: Vec<u8> = canary.phases.iter().map(|phase| phase.weight).collect();
    assert_eq!(weights, vec![10, 50, 100]);
    assert_eq!(canary.phases[0].pause, Some(deploy::Duration::from_mins(5)));
    assert!(canary.phases[1].approval);

    // The typed block the workflow parser keeps is the same spec.
    let parsed = workflows::parse_workflow(".github/workflows/deploy.yml", WORKFLOW);
    let typed = parsed
        .workflow
        .as_ref()
        .and_then(|workflow| workflow.jobs.get("deploy"))
        .and_then(|job| job.deployment.as_ref())
        .and_then(|block| block.typed.as_ref())
        .expect("a typed block");
    assert_eq!(DeploymentSpec::from_block(typed, None).unwrap(), rolling);

    // A bad block is reported by the workflow parser at the value, and by the spec reader
    // (the engine's, over the evaluated block) under the same key.
    let bad = WORKFLOW.replace("batch-size: 2", "batch-size: two");
    let parsed = workflows::parse_workflow(".github/workflows/deploy.yml", &bad);
    let diagnostic = parsed
        .diagnostics
        .iter()
        .find(|diagnostic| diagnostic.is_error())
        .expect("an error");
    assert!(
        diagnostic.message.contains("`deployment.batch-size`"),
        "{diagnostic}"
    );
    let block = parsed
        .workflow
        .as_ref()
        .and_then(|workflow| workflow.jobs.get("deploy"))
        .and_then(|job| job.deployment.as_ref())
        .map(|block| block.value.clone())
        .expect("the block as written");
    let error = DeploymentSpec::parse(&block, None).unwrap_err();
    assert_eq!(error.key, "deployment.batch-size");
}

/// Run 7 by dave on main: gate (2 of 3 approvers, 5-minute wait), lane behind a freeze, guard,
/// rolling plan, a failed batch, the rollback record, then a fixed version and its release.
#[test]
fn a_deployment_from_gate_to_release() {
    let environment = production();
    let groups = Groups::default();
    let repository = "acme/shop";
    let mut deployments: Vec<Deployment> = Vec::new();

    // v1.0.0 is live already.
    let mut first = Deployment::new(
        DeploymentId("d1".into()),
        "production",
        repository,
        version("a1", "v1.0.0"),
        "refs/tags/v1.0.0",
        "erin",
        StrategyKind::Rolling,
        false,
        at("2026-03-02T09:00:00Z"),
    );
    first
        .move_to(
            DeploymentStatus::InProgress,
            None,
            at("2026-03-02T09:00:00Z"),
        )
        .unwrap();
    deployments.push(first);
    deploy::mark_succeeded(
        &mut deployments,
        &DeploymentId("d1".into()),
        at("2026-03-02T09:10:00Z"),
    )
    .unwrap();

    // Friday 15:00: run 7's job reaches production and waits at the gate.
    let reached = at("2026-03-06T15:00:00Z");
    let mut gate = GateRequest {
        key: ApprovalKey::for_run("7", "production"),
        actor: "dave".into(),
        git_ref: "refs/heads/main".into(),
        approvals: Vec::new(),
        waiting_since: reached,
    };
    let mut record = Deployment::new(
        DeploymentId("d2".into()),
        "production",
        repository,
        version("a2", "v1.1.0"),
        "refs/heads/main",
        "dave",
        StrategyKind::Rolling,
        !environment.protection.is_open(),
        reached,
    );
    record.run_id = Some("7".into());
    record.job_key = Some("deploy".into());
    assert_eq!(record.status, DeploymentStatus::Waiting);
    for approver in ["bob", "carol"] {
        let (approval, audit) = deploy::approve(
            &environment.protection,
            &groups,
            &gate,
            approver,
            Decision::Approve,
            None,
            at("2026-03-06T15:02:00Z"),
        )
        .unwrap();
        assert_eq!(audit.actor, approver);
        gate.approvals.push(approval);
    }
    // Approved, but the wait timer runs until 15:05.
    assert!(matches!(
        deploy::evaluate_gate(&environment.protection, &gate, at("2026-03-06T15:03:00Z")),
        GateState::Waiting {
            missing_approvals: 0,
            ..
        }
    ));
    let opened = at("2026-03-06T16:05:00Z");
    assert_eq!(
        deploy::evaluate_gate(&environment.protection, &gate, opened),
        GateState::Open
    );
    record.approvals = gate.approvals.clone();
    record
        .move_to(DeploymentStatus::Queued, None, opened)
        .unwrap();

    // The lane is frozen (Friday after 16:00): nothing starts until Monday 08:00.
    let mut lane = Lane::new("production");
    lane.enqueue(LaneEntry {
        deployment_id: record.id.clone(),
        run_id: record.run_id.clone(),
        job_key: record.job_key.clone(),
        version: record.version.clone(),
        is_rollback: false,
        enqueued_at: opened,
    })
    .unwrap();
    assert_eq!(lane.next_ready(opened, &environment.freeze_windows), None);
    assert_eq!(
        lane.wake_at(opened, &environment.freeze_windows),
        Some(at("2026-03-09T08:00:00Z"))
    );
    let monday = at("2026-03-09T08:00:00Z");
    let entry = lane
        .next_ready(monday, &environment.freeze_windows)
        .expect("the lane resumes");
    assert_eq!(entry.deployment_id, record.id);

    // The guard: a2 descends from a1.
    let live =
        deploy::live_deployment(&deployments, "production", repository).map(|d| d.version.clone());
    let is_ancestor = |older: &str, newer: &str| older == "a1" && (newer == "a2" || newer == "a3");
    assert_eq!(
        deploy::check_version(
            "production",
            live.as_ref(),
            &entry.version,
            false,
            is_ancestor
        ),
        Ok(VersionCheck::Descendant)
    );
    record
        .move_to(DeploymentStatus::InProgress, None, monday)
        .unwrap();

    // Plan and run: batch 2's health check fails → roll back to v1.0.0.
    let spec = DeploymentSpec::parse(
        &deployment_block(WORKFLOW, "deploy"),
        environment.default_strategy,
    )
    .unwrap();
    let plan = deploy::plan_deployment("production", &spec, &record.version, None);
    let mut run = DeploymentMachine::new(record.id.clone(), plan, live.clone());
    let mut actions = run.handle(DeploymentEvent::Start, monday).unwrap();
    let rollback_to = loop {
        let Some(action) = actions.first().cloned() else {
            panic!("the run stalled")
        };
        match action {
            DeploymentAction::StartPhase {
                phase,
                label,
                activity,
                context,
                ..
            } => {
                record.phase_started(phase, activity, label.clone(), monday);
                if activity == Activity::Execute {
                    assert!(!context.targets.is_empty());
                }
                let failed = label == "verify batch 2/2";
                record.phase_finished(phase, !failed, None, monday);
                let event = if failed {
                    DeploymentEvent::PhaseFailed {
                        phase,
                        reason: "web3 unhealthy".into(),
                    }
                } else {
                    DeploymentEvent::PhaseSucceeded { phase }
                };
                actions = run.handle(event, monday).unwrap();
            }
            DeploymentAction::RollBack {
                to_version,
                mode,
                reason,
            } => {
                assert_eq!(mode, RollbackMode::Redeploy);
                assert_eq!(reason, "verify batch 2/2 failed: web3 unhealthy");
                assert!(matches!(
                    actions.last(),
                    Some(DeploymentAction::Complete {
                        status: DeploymentStatus::RolledBack,
                        ..
                    })
                ));
                break to_version;
            }
            other => panic!("unexpected action {other:?}"),
        }
    };
    assert_eq!(rollback_to.sha, "a1");
    record
        .move_to(
            DeploymentStatus::RolledBack,
            Some("verify batch 2/2 failed".into()),
            monday,
        )
        .unwrap();
    assert_eq!(record.phases.len(), 5);
    assert_eq!(
        record.phases.last().and_then(|phase| phase.succeeded),
        Some(false)
    );

    // The rollback is a deployment of its own, labelled as such, in the same lane slot.
    let good = deployments.first().cloned().expect("d1");
    let mut rollback = Deployment::rollback_of(DeploymentId("d3".into()), &record, &good, monday);
    assert_eq!(
        deploy::check_version(
            "production",
            live.as_ref(),
            &rollback.version,
            true,
            is_ancestor
        ),
        Ok(VersionCheck::SameVersion)
    );
    rollback
        .move_to(DeploymentStatus::InProgress, None, monday)
        .unwrap();
    let rollback_plan = deploy::plan_rollback("production", &spec, &rollback.version);
    let mut rollback_run = DeploymentMachine::new(rollback.id.clone(), rollback_plan, None);
    let mut next = rollback_run.handle(DeploymentEvent::Start, monday).unwrap();
    while let Some(DeploymentAction::StartPhase { phase, .. }) = next.first().cloned() {
        next = rollback_run
            .handle(DeploymentEvent::PhaseSucceeded { phase }, monday)
            .unwrap();
    }
    assert!(matches!(
        next.as_slice(),
        [DeploymentAction::Complete {
            status: DeploymentStatus::Success,
            ..
        }]
    ));
    deployments.push(record);
    deployments.push(rollback);
    let made_inactive =
        deploy::mark_succeeded(&mut deployments, &DeploymentId("d3".into()), monday).unwrap();
    assert_eq!(made_inactive, vec![DeploymentId("d1".into())]);
    lane.finish(&entry.deployment_id).unwrap();
    let status = deploy::environment_status(&deployments, "production", repository);
    let live_now = status.live.expect("something is live");
    assert!(live_now.is_rollback);
    assert_eq!(live_now.version.sha, "a1");

    // An older commit than what is live is refused unless it is a rollback.
    let older = version("a0", "v0.9.0");
    let refused = deploy::check_version(
        "production",
        Some(&live_now.version),
        &older,
        false,
        |o, n| o == "a0" && n == "a1",
    );
    assert!(refused.is_err());

    // Releasing is separate: v1.0.0 is live, so it can go to 10%, then be withdrawn.
    let mut release = Release::new(
        "v1.0.0",
        "a1",
        repository,
        None,
        "First release",
        "erin",
        monday,
    );
    let not_live = Release::new("v1.1.0", "a2", repository, None, "", "erin", monday);
    let promotion = PromotionRequest {
        environment: "production".into(),
        audience: Audience::parse("10%").unwrap(),
        requested_by: "pat".into(),
        requested_at: monday,
        approvals: Vec::new(),
    };
    assert!(
        deploy::promote(
            &mut not_live.clone(),
            &environment,
            &promotion,
            &deployments,
            monday
        )
        .is_err()
    );
    let promoted =
        deploy::promote(&mut release, &environment, &promotion, &deployments, monday).unwrap();
    let withdrawn = deploy::withdraw(&mut release, "production", "pat", None, monday).unwrap();
    let actions: Vec<ReleaseAction> = promoted
        .events
        .iter()
        .chain(&withdrawn.events)
        .map(|event| event.action)
        .collect();
    assert_eq!(
        actions,
        vec![ReleaseAction::Published, ReleaseAction::Unpublished]
    );
    let views = deploy::environment_views(&[environment], repository, &deployments, &[release]);
    assert_eq!(
        views.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec![
            "production  deployed: v1.0.0 (2026-03-09T08:00:00Z, by slipway, rollback)  released: nothing"
        ]
    );
}

/// The store keeps every record as JSON: each round-trips.
#[test]
fn records_survive_json() {
    let environment = production();
    let json = serde_json::to_value(&environment).unwrap();
    assert_eq!(json["freeze_windows"][0], "Fri 16:00-Mon 08:00 UTC");
    assert_eq!(json["protection"]["wait"], "5m");
    let back: Environment = serde_json::from_value(json).unwrap();
    assert_eq!(back, environment);

    let minimal: Environment = serde_json::from_str(r#"{"name": "dev"}"#).unwrap();
    assert!(
        minimal.protection.prevent_self_review,
        "self-review is prevented by default"
    );
    assert!(minimal.protection.is_open());
}
