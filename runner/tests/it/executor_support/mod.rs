//! Shared helpers for the executor's integration tests: small builders for steps and job specs, and
//! a runner that collects every event.

#![allow(dead_code)]

use std::time::Duration;

use indexmap::IndexMap;
use protocol::{BoolOrExpression, JobEvent, JobResult, JobSpec, NumberOrExpression, Step};
use runner::executor::{ExecutorOptions, run_job};
use tokio_util::sync::CancellationToken;

/// A `run:` step.
pub(crate) fn run(script: &str) -> Step {
    Step {
        run: Some(script.to_string()),
        ..Step::default()
    }
}

/// A `uses:` step.
pub(crate) fn uses(action: &str) -> Step {
    Step {
        uses: Some(action.to_string()),
        ..Step::default()
    }
}

pub(crate) trait StepExt {
    fn id(self, id: &str) -> Step;
    fn named(self, name: &str) -> Step;
    fn when(self, condition: &str) -> Step;
    fn shell(self, shell: &str) -> Step;
    fn env(self, name: &str, value: &str) -> Step;
    fn with(self, name: &str, value: &str) -> Step;
    fn working_directory(self, dir: &str) -> Step;
    fn continue_on_error(self) -> Step;
    fn timeout_minutes(self, minutes: f64) -> Step;
}

impl StepExt for Step {
    fn id(mut self, id: &str) -> Step {
        self.id = Some(id.to_string());
        self
    }
    fn named(mut self, name: &str) -> Step {
        self.name = Some(name.to_string());
        self
    }
    fn when(mut self, condition: &str) -> Step {
        self.condition = Some(condition.to_string());
        self
    }
    fn shell(mut self, shell: &str) -> Step {
        self.shell = Some(shell.to_string());
        self
    }
    fn env(mut self, name: &str, value: &str) -> Step {
        self.env.insert(name.to_string(), value.to_string());
        self
    }
    fn with(mut self, name: &str, value: &str) -> Step {
        self.with.insert(name.to_string(), value.to_string());
        self
    }
    fn working_directory(mut self, dir: &str) -> Step {
        self.working_directory = Some(dir.to_string());
        self
    }
    fn continue_on_error(mut self) -> Step {
        self.continue_on_error = Some(BoolOrExpression::Bool(true));
        self
    }
    fn timeout_minutes(mut self, minutes: f64) -> Step {
        self.timeout_minutes = Some(NumberOrExpression::Number(minutes));
        self
    }
}

/// A job spec with the given steps and a plausible `github` context.
pub(crate) fn job(steps: Vec<Step>) -> JobSpec {
    let mut contexts = IndexMap::new();
    contexts.insert(
        "github".to_string(),
        serde_json::json!({
            "sha": "0123456789abcdef0123456789abcdef01234567",
            "ref": "refs/heads/main",
            "ref_name": "main",
            "ref_type": "branch",
            "event_name": "push",
            "repository": "octo/hello",
            "repository_owner": "octo",
            "actor": "mona",
            "run_id": "42",
            "run_number": 7,
            "run_attempt": 1,
            "workflow": "CI",
            "server_url": "http://localhost:8080",
        }),
    );
    JobSpec {
        run_id: "42".to_string(),
        run: Default::default(),
        job_key: "build".to_string(),
        job_id: "build".to_string(),
        display_name: "build".to_string(),
        workflow_file: ".github/workflows/ci.yml".to_string(),
        steps,
        env: IndexMap::new(),
        default_shell: None,
        default_working_directory: None,
        timeout_minutes: 360.0,
        contexts,
        secrets: IndexMap::new(),
        outputs: IndexMap::new(),
        checkout: None,
        runs_on: vec!["self-hosted".to_string()],
        runs_on_group: None,
        environment: None,
        deployment: None,
        deployment_block: None,
        actions: IndexMap::new(),
        container: None,
        services: Default::default(),
        event_payload: serde_json::json!({"ref": "refs/heads/main", "head_commit": {"message": "hello"}}),
    }
}

pub(crate) fn options(work_dir: &std::path::Path) -> ExecutorOptions {
    ExecutorOptions {
        kill_grace: Duration::from_secs(2),
        ..ExecutorOptions::new(work_dir)
    }
}

/// What a job run produced.
pub(crate) struct Ran {
    pub result: JobResult,
    pub events: Vec<JobEvent>,
}

impl Ran {
    /// The log lines of step `index`.
    pub(crate) fn logs(&self, index: usize) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|event| match event {
                JobEvent::Log {
                    step: Some(step),
                    line,
                } if *step == index => Some(line.clone()),
                _ => None,
            })
            .collect()
    }

    /// Every log line of the job.
    pub(crate) fn all_logs(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|event| match event {
                JobEvent::Log { line, .. } => Some(line.clone()),
                _ => None,
            })
            .collect()
    }

    pub(crate) fn outcome(&self, index: usize) -> (&'static str, &'static str) {
        let step = &self.result.steps[index];
        (step.outcome.as_str(), step.conclusion.as_str())
    }

    pub(crate) fn output(&self, index: usize, name: &str) -> Option<&str> {
        self.result.steps[index]
            .outputs
            .get(name)
            .map(String::as_str)
    }
}

/// Runs the job to its end, with a generous bound so a hang fails the test instead of blocking it.
pub(crate) async fn run_spec(spec: JobSpec, options: &ExecutorOptions) -> Ran {
    run_with_cancel(spec, options, CancellationToken::new()).await
}

pub(crate) async fn run_with_cancel(
    spec: JobSpec,
    options: &ExecutorOptions,
    cancel: CancellationToken,
) -> Ran {
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    let result = tokio::time::timeout(
        Duration::from_secs(120),
        run_job(spec, options, sender, cancel),
    )
    .await
    .expect("the job finished within two minutes");
    let mut events = Vec::new();
    while let Ok(event) = receiver.try_recv() {
        events.push(event);
    }
    Ran { result, events }
}
