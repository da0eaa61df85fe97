//! Deployment jobs with real processes: rolling batches, verify hooks, redeploy and switch-back
//! rollbacks, canary approvals through a test gate, cancel during a canary pause, and the
//! `deployment` context in steps and hooks.

use crate::executor_support;

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use deploy::wire::{DeploymentAssignment, DeploymentReport};
use deploy::{
    Activity, DeploymentSpec, DeploymentStatus, PhaseRecord, RollbackMode, Version, plan_deployment,
};
use executor_support::*;
use protocol::wire::PhaseApproval;
use protocol::{Conclusion, JobEvent, JobSpec};
use runner::executor::{DeploymentGate, GateFuture, run_job_with_gate};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// A deployment job: `steps` carried out per the `block`, with the blue-green slot live now and
/// the version live before.
fn deploying(
    steps: Vec<protocol::Step>,
    block: Value,
    live_slot: Option<&str>,
    last_good: Option<Version>,
    marks: &Path,
) -> JobSpec {
    let spec = DeploymentSpec::parse(&block, None).unwrap();
    let version = Version {
        sha: "new222".to_string(),
        tag: Some("v2".to_string()),
        committed_at: None,
    };
    let plan = plan_deployment("production", &spec, &version, live_slot);
    let mut job = job(steps);
    job.env
        .insert("MARKS".to_string(), marks.display().to_string());
    job.deployment = Some(
        DeploymentAssignment {
            deployment_id: "d1".to_string(),
            plan,
            spec,
            last_good,
        }
        .into(),
    );
    job
}

/// The job's deployment report, back in `deploy`'s types.
fn domain_report(result: &protocol::JobResult) -> DeploymentReport {
    let report = result.deployment.as_deref().expect("a deployment report");
    report.clone().into()
}

fn old() -> Version {
    Version {
        sha: "old111".to_string(),
        tag: Some("v1".to_string()),
        committed_at: None,
    }
}

/// The lines appended to `$MARKS/order`.
fn order(marks: &Path) -> Vec<String> {
    std::fs::read_to_string(marks.join("order"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn job_log(ran: &Ran) -> Vec<String> {
    ran.events
        .iter()
        .filter_map(|event| match event {
            JobEvent::Log { step: None, line } => Some(line.clone()),
            _ => None,
        })
        .collect()
}

fn labels(phases: &[PhaseRecord]) -> Vec<(String, Option<bool>)> {
    phases
        .iter()
        .map(|phase| (phase.label.clone(), phase.succeeded))
        .collect()
}

/// Answers approvals with `decision` after one `Pending`, and keeps every report it got.
struct TestGate {
    decision: PhaseApproval,
    reports: Mutex<Vec<(usize, Option<usize>)>>,
}

impl TestGate {
    fn new(decision: PhaseApproval) -> TestGate {
        TestGate {
            decision,
            reports: Mutex::new(Vec::new()),
        }
    }

    fn approval_asks(&self) -> usize {
        self.reports
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, asked)| asked.is_some())
            .count()
    }
}

impl DeploymentGate for TestGate {
    fn progress<'a>(
        &'a self,
        _deployment_id: &'a str,
        phases: &'a [PhaseRecord],
        awaiting_approval: Option<usize>,
    ) -> GateFuture<'a> {
        let asked_before = self.approval_asks();
        self.reports
            .lock()
            .unwrap()
            .push((phases.len(), awaiting_approval));
        let answer = awaiting_approval.map(|_| {
            if asked_before == 0 {
                PhaseApproval::Pending
            } else {
                self.decision.clone()
            }
        });
        Box::pin(async move { answer })
    }
}

async fn run_gated(spec: JobSpec, work: &Path, gate: &TestGate, cancel: CancellationToken) -> Ran {
    let mut options = options(work);
    options.approval_poll = Duration::from_millis(20);
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    let result = tokio::time::timeout(
        Duration::from_secs(120),
        run_job_with_gate(spec, &options, sender, cancel, gate),
    )
    .await
    .expect("the job finished within two minutes");
    let mut events = Vec::new();
    while let Ok(event) = receiver.try_recv() {
        events.push(event);
    }
    Ran { result, events }
}

const ROLLING: &str = r#"{"strategy": "rolling", "targets": ["web1", "web2", "web3", "web4"], "batch-size": 2,
  "verify": "echo \"verify:${DEPLOYMENT_BATCH:-}:$DEPLOYMENT_PHASE\" >> \"$MARKS/order\"; echo \"token is $TOKEN\""}"#;

#[tokio::test]
async fn rolling_runs_the_steps_per_batch_and_verifies_after_each() {
    let dir = tempfile::tempdir().unwrap();
    let marks = dir.path().join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let steps = vec![
        run(r#"for target in $DEPLOYMENT_TARGETS; do touch "$MARKS/$target.batch$DEPLOYMENT_BATCH"; done
echo "execute:$DEPLOYMENT_BATCH:${PREVIOUS:-none}:$DEPLOYMENT_VERSION:$DEPLOYMENT_TAG:$DEPLOYMENT_IS_ROLLBACK" >> "$MARKS/order"
echo "PREVIOUS=$DEPLOYMENT_BATCH" >> "$GITHUB_ENV"
echo "batch=${{ deployment.batch }}" >> "$GITHUB_OUTPUT""#)
        .id("deploy"),
    ];
    let mut spec = deploying(
        steps,
        serde_json::from_str(ROLLING).unwrap(),
        None,
        Some(old()),
        &marks,
    );
    spec.secrets
        .insert("TOKEN".to_string(), "s3cr3t-value".to_string());
    spec.env
        .insert("TOKEN".to_string(), "s3cr3t-value".to_string());
    let ran = run_spec(spec, &options(&dir.path().join("work"))).await;

    assert_eq!(
        ran.result.conclusion,
        Conclusion::Success,
        "{:?}",
        ran.result
    );
    for (target, batch) in [("web1", 1), ("web2", 1), ("web3", 2), ("web4", 2)] {
        assert!(marks.join(format!("{target}.batch{batch}")).exists());
        let other = 3 - batch;
        assert!(!marks.join(format!("{target}.batch{other}")).exists());
    }
    assert_eq!(
        order(&marks),
        vec![
            "verify::verify-target",
            "execute:1:none:new222:v2:false",
            "verify:1:verify",
            "execute:2:1:new222:v2:false",
            "verify:2:verify",
        ]
    );
    let report = &domain_report(&ran.result);
    assert_eq!(report.status, DeploymentStatus::Success);
    assert_eq!(report.deployment_id, "d1");
    assert_eq!(
        labels(&report.phases),
        vec![
            ("verify target".to_string(), Some(true)),
            ("execute batch 1/2".to_string(), Some(true)),
            ("verify batch 1/2".to_string(), Some(true)),
            ("execute batch 2/2".to_string(), Some(true)),
            ("verify batch 2/2".to_string(), Some(true)),
            ("confirm".to_string(), Some(true)),
        ]
    );
    assert!(
        report
            .phases
            .iter()
            .all(|phase| phase.finished_at.is_some_and(|end| end >= phase.started_at))
    );
    assert!(report.rollback.is_none());
    // The step results are the last pass's.
    assert_eq!(ran.result.steps.len(), 1);
    assert_eq!(ran.output(0, "batch"), Some("2"));
    // Hooks write to the job log, masked; phases are announced there.
    let log = job_log(&ran);
    assert!(log.iter().any(|line| line == "token is ***"), "{log:?}");
    assert!(!log.iter().any(|line| line.contains("s3cr3t-value")));
    assert!(
        log.iter()
            .any(|line| line == "##[group]deployment: phase 2/6 execute batch 1/2 (web1 web2)"),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|line| line == "deployment: phase 5/6 verify batch 2/2 (web3 web4) succeeded"),
        "{log:?}"
    );
}

#[tokio::test]
async fn a_failed_verify_redeploys_the_last_good_version() {
    let dir = tempfile::tempdir().unwrap();
    let marks = dir.path().join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let block = json!({
        "strategy": "rolling",
        "targets": ["web1", "web2", "web3", "web4"],
        "batch-size": 2,
        "verify": "echo \"verify:${DEPLOYMENT_BATCH:-}:$DEPLOYMENT_IS_ROLLBACK\" >> \"$MARKS/order\"\n[ \"${DEPLOYMENT_BATCH:-}\" != 2 ]",
    });
    let steps = vec![run(
        r#"echo "execute:${DEPLOYMENT_BATCH:-}:$DEPLOYMENT_IS_ROLLBACK:$DEPLOYMENT_VERSION:${{ deployment.version.sha }}:${{ deployment.is_rollback }}:$DEPLOYMENT_TARGETS" >> "$MARKS/order""#,
    )];
    let spec = deploying(steps, block, None, Some(old()), &marks);
    let ran = run_spec(spec, &options(&dir.path().join("work"))).await;

    assert_eq!(
        order(&marks),
        vec![
            "verify::false",
            "execute:1:false:new222:new222:false:web1 web2",
            "verify:1:false",
            "execute:2:false:new222:new222:false:web3 web4",
            "verify:2:false",
            "execute::true:old111:old111:true:web1 web2 web3 web4",
            "verify::true",
        ]
    );
    assert_eq!(ran.result.conclusion, Conclusion::Failure);
    let report = &domain_report(&ran.result);
    assert_eq!(report.status, DeploymentStatus::RolledBack);
    assert!(
        report
            .reason
            .as_deref()
            .is_some_and(|reason| reason.starts_with("verify batch 2/2 failed")),
        "{:?}",
        report.reason
    );
    assert_eq!(report.phases.last().map(|p| p.succeeded), Some(Some(false)));
    let rollback = report.rollback.as_ref().expect("a rollback");
    assert!(rollback.succeeded);
    assert_eq!(rollback.mode, RollbackMode::Redeploy);
    assert_eq!(rollback.to_version, old());
    assert_eq!(
        labels(&rollback.phases),
        vec![
            ("roll back to v1".to_string(), Some(true)),
            ("verify rollback".to_string(), Some(true)),
            ("confirm".to_string(), Some(true)),
        ]
    );
    let reason = ran.result.failure_reason.as_deref().unwrap_or_default();
    assert!(reason.contains("verify batch 2/2 failed"), "{reason}");
    assert!(
        reason.contains("v1 was restored by redeploying"),
        "{reason}"
    );
}

#[tokio::test]
async fn blue_green_failed_acceptance_switches_back_to_the_old_slot() {
    let dir = tempfile::tempdir().unwrap();
    let marks = dir.path().join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let block = json!({
        "strategy": "blue-green",
        "switch": "echo \"switch:${{ deployment.slot }}:$DEPLOYMENT_SLOT:$DEPLOYMENT_IS_ROLLBACK\" >> \"$MARKS/order\"",
        "acceptance": "echo \"acceptance:${{ deployment.slot }}\" >> \"$MARKS/order\"; exit 3",
    });
    let steps = vec![
        run(r#"echo "execute:${{ deployment.slot }}:$DEPLOYMENT_SLOT" >> "$MARKS/order""#)
            .when("deployment.slot == 'green'"),
    ];
    let spec = deploying(steps, block, Some("blue"), Some(old()), &marks);
    let ran = run_spec(spec, &options(&dir.path().join("work"))).await;

    assert_eq!(
        order(&marks),
        vec![
            "execute:green:green",
            "switch:green:green:false",
            "acceptance:green",
            "switch:blue:blue:true",
        ]
    );
    assert_eq!(ran.result.conclusion, Conclusion::Failure);
    let report = &domain_report(&ran.result);
    assert_eq!(report.status, DeploymentStatus::RolledBack);
    assert_eq!(report.live_slot.as_deref(), Some("blue"));
    let rollback = report.rollback.as_ref().unwrap();
    assert_eq!(
        rollback.mode,
        RollbackMode::SwitchBack {
            to_slot: "blue".to_string()
        }
    );
    assert!(rollback.succeeded);
    assert_eq!(
        labels(&rollback.phases),
        vec![("switch back to blue".to_string(), Some(true))]
    );
    assert!(
        job_log(&ran)
            .iter()
            .any(|line| line.contains("acceptance test failed: `echo")),
        "{:?}",
        job_log(&ran)
    );
}

#[tokio::test]
async fn blue_green_success_reports_the_new_live_slot() {
    let dir = tempfile::tempdir().unwrap();
    let marks = dir.path().join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let block = json!({
        "strategy": "blue-green",
        "verify": "[ \"$DEPLOYMENT_SLOT\" = green ]",
        "switch": "echo \"switch:$DEPLOYMENT_SLOT\" >> \"$MARKS/order\"",
    });
    let steps = vec![run(r#"echo "execute:$DEPLOYMENT_SLOT" >> "$MARKS/order""#)];
    let spec = deploying(steps, block, Some("blue"), Some(old()), &marks);
    let ran = run_spec(spec, &options(&dir.path().join("work"))).await;
    assert_eq!(
        ran.result.conclusion,
        Conclusion::Success,
        "{:?}",
        ran.result
    );
    assert_eq!(order(&marks), vec!["execute:green", "switch:green"]);
    let report = &domain_report(&ran.result);
    assert_eq!(report.status, DeploymentStatus::Success);
    assert_eq!(report.live_slot.as_deref(), Some("green"));
}

fn canary_block() -> Value {
    json!({
        "strategy": "canary",
        "phases": [{"weight": 50, "approval": true}, {"weight": 100}],
    })
}

fn canary_steps() -> Vec<protocol::Step> {
    vec![run(
        r#"echo "execute:$DEPLOYMENT_WEIGHT:${{ deployment.weight }}:$DEPLOYMENT_IS_ROLLBACK" >> "$MARKS/order""#,
    )]
}

#[tokio::test]
async fn canary_approval_granted_goes_on_to_full_weight() {
    let dir = tempfile::tempdir().unwrap();
    let marks = dir.path().join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let spec = deploying(canary_steps(), canary_block(), None, Some(old()), &marks);
    let gate = TestGate::new(PhaseApproval::Granted {
        by: "bob".to_string(),
    });
    let ran = run_gated(
        spec,
        &dir.path().join("work"),
        &gate,
        CancellationToken::new(),
    )
    .await;
    assert_eq!(
        ran.result.conclusion,
        Conclusion::Success,
        "{:?}",
        ran.result
    );
    assert_eq!(
        order(&marks),
        vec!["execute:50:50:false", "execute:100:100:false"]
    );
    // Asked once (pending), then again (granted).
    assert_eq!(gate.approval_asks(), 2);
    let report = &domain_report(&ran.result);
    let approval = report
        .phases
        .iter()
        .find(|phase| phase.activity == Activity::Approval)
        .unwrap();
    assert_eq!(approval.succeeded, Some(true));
    assert_eq!(approval.detail.as_deref(), Some("granted by `bob`"));
    // Progress came at every phase start and end, with the records so far.
    let reports = gate.reports.lock().unwrap().clone();
    assert!(
        reports
            .iter()
            .any(|(count, asked)| *count == 1 && asked.is_none())
    );
    assert!(
        job_log(&ran)
            .iter()
            .any(|line| line.contains("approval at 50% granted by `bob`"))
    );
}

#[tokio::test]
async fn canary_approval_rejected_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let marks = dir.path().join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let spec = deploying(canary_steps(), canary_block(), None, Some(old()), &marks);
    let gate = TestGate::new(PhaseApproval::Rejected {
        by: "carol".to_string(),
        comment: Some("error rate up".to_string()),
    });
    let ran = run_gated(
        spec,
        &dir.path().join("work"),
        &gate,
        CancellationToken::new(),
    )
    .await;
    assert_eq!(ran.result.conclusion, Conclusion::Failure);
    assert_eq!(
        order(&marks),
        vec!["execute:50:50:false", "execute:100:100:true"]
    );
    let report = &domain_report(&ran.result);
    assert_eq!(report.status, DeploymentStatus::RolledBack);
    assert_eq!(
        report.reason.as_deref(),
        Some("approval at 50% rejected by `carol`: error rate up")
    );
    assert!(
        report
            .rollback
            .as_ref()
            .is_some_and(|rollback| rollback.succeeded)
    );
}

#[tokio::test]
async fn without_a_gate_an_approval_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let marks = dir.path().join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    // No last good version: the rejection fails the deployment, nothing to roll back to.
    let spec = deploying(canary_steps(), canary_block(), None, None, &marks);
    let ran = run_spec(spec, &options(&dir.path().join("work"))).await;
    assert_eq!(ran.result.conclusion, Conclusion::Failure);
    assert_eq!(order(&marks), vec!["execute:50:50:false"]);
    let report = &domain_report(&ran.result);
    assert_eq!(report.status, DeploymentStatus::Failure);
    assert!(report.rollback.is_none());
    assert!(
        report
            .reason
            .as_deref()
            .is_some_and(|reason| reason.contains("no approvers to ask")
                && reason.ends_with("no earlier version to roll back to")),
        "{:?}",
        report.reason
    );
}

#[tokio::test]
async fn cancel_during_a_canary_pause_stops_the_deployment() {
    let dir = tempfile::tempdir().unwrap();
    let marks = dir.path().join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let block = json!({
        "strategy": "canary",
        "phases": [{"weight": 10, "pause": "1h"}, {"weight": 100}],
    });
    let spec = deploying(canary_steps(), block, None, Some(old()), &marks);
    let gate = TestGate::new(PhaseApproval::Pending);
    let cancel = CancellationToken::new();
    let canceller = {
        let cancel = cancel.clone();
        let marks = marks.clone();
        tokio::spawn(async move {
            // Cancel once the first weight is out (the job is then in, or about to enter, the pause).
            for _ in 0..2000 {
                if !order(&marks).is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            cancel.cancel();
        })
    };
    let ran = run_gated(spec, &dir.path().join("work"), &gate, cancel).await;
    canceller.await.unwrap();
    assert_eq!(ran.result.conclusion, Conclusion::Cancelled);
    assert_eq!(order(&marks), vec!["execute:10:10:false"]);
    let report = &domain_report(&ran.result);
    assert_eq!(report.status, DeploymentStatus::Failure);
    assert_eq!(
        report.reason.as_deref(),
        Some("the job was cancelled during pause 1h at 10%")
    );
    assert!(report.rollback.is_none());
    let pause = report.phases.last().unwrap();
    assert_eq!(pause.activity, Activity::Pause);
    assert_eq!(pause.succeeded, Some(false));
}

#[tokio::test]
async fn a_failed_target_check_skips_the_steps() {
    let dir = tempfile::tempdir().unwrap();
    let marks = dir.path().join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let block = json!({"verify": "exit 1"});
    let steps = vec![run(r#"echo ran >> "$MARKS/order""#).named("Deploy")];
    let spec = deploying(steps, block, None, Some(old()), &marks);
    let ran = run_spec(spec, &options(&dir.path().join("work"))).await;
    assert_eq!(ran.result.conclusion, Conclusion::Failure);
    assert!(order(&marks).is_empty());
    assert_eq!(ran.outcome(0), ("skipped", "skipped"));
    assert_eq!(ran.result.steps[0].name, "Deploy");
    let report = &domain_report(&ran.result);
    assert_eq!(report.status, DeploymentStatus::Failure);
    assert_eq!(
        ran.result.failure_reason.as_deref(),
        Some("deployment failure: verify target failed: `exit 1` failed")
    );
}

#[tokio::test]
async fn a_failing_step_fails_the_execute_phase() {
    let dir = tempfile::tempdir().unwrap();
    let marks = dir.path().join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let steps = vec![
        run("exit 4").named("Push"),
        run(r#"echo "cleanup:$DEPLOYMENT_IS_ROLLBACK" >> "$MARKS/order""#).when("always()"),
        run(r#"echo "after:$DEPLOYMENT_IS_ROLLBACK" >> "$MARKS/order""#)
            .when("deployment.is_rollback"),
    ];
    let spec = deploying(steps, json!({}), None, Some(old()), &marks);
    let ran = run_spec(spec, &options(&dir.path().join("work"))).await;
    assert_eq!(ran.result.conclusion, Conclusion::Failure);
    let report = &domain_report(&ran.result);
    assert_eq!(
        report.reason.as_deref(),
        Some("execute failed: step `Push` failed")
    );
    // The rollback pass is judged on its own: the push fails there too.
    assert_eq!(order(&marks), vec!["cleanup:false", "cleanup:true"]);
    // The status stays `rolled_back`; the rollback's own report says it failed.
    assert_eq!(report.status, DeploymentStatus::RolledBack);
    let rollback = report.rollback.as_ref().unwrap();
    assert!(!rollback.succeeded);
    assert_eq!(
        rollback.reason.as_deref(),
        Some("rollback failed: roll back to v1 failed: step `Push` failed")
    );
    assert_eq!(
        ran.result.failure_reason.as_deref(),
        Some(
            "deployment rolled_back: execute failed: step `Push` failed; the rollback to v1 failed: roll back to v1 failed: step `Push` failed"
        )
    );
}
