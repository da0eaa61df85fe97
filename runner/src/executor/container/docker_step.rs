//! A Docker action as a step of the job: its inputs (`with:` or the declared defaults) as
//! `INPUT_*`, its `args` and `env` evaluated with the `inputs` context, the image built or pulled,
//! then `pre-entrypoint`, the entrypoint and `post-entrypoint` run in turn, each one container
//! whose output and `$GITHUB_*` files are handled like a `run:` step's.
//!
//! `JobRun::run_docker_action` is the entry for an action whose `action.yml` says
//! `using: docker` (local, or a mirrored remote action's directory); `run_docker_uses` is
//! `uses: docker://image`.

use std::collections::HashMap;
use std::path::Path;

use indexmap::IndexMap;
use protocol::Conclusion;
use serde_json::{Map, Value};
use workflows::action::Action;

use super::super::job::{Frame, JobRun, PreparedStep, StepBody};
use super::docker_action::{DockerActionRun, action_image, docker_action_paths};
use super::{LABEL_JOB, LABEL_RUN, LABEL_RUNNER};

/// What one Docker action step runs, its templates not yet evaluated.
struct DockerStep<'a> {
    image: String,
    action_dir: Option<&'a Path>,
    entrypoint: Option<String>,
    pre_entrypoint: Option<String>,
    post_entrypoint: Option<String>,
    args: Vec<String>,
    env: IndexMap<String, String>,
    inputs: Map<String, Value>,
}

impl JobRun<'_> {
    /// Runs the Docker action `action` whose files are in `action_dir`, with the step's `with`
    /// (names lower-cased) as inputs.
    pub(crate) async fn run_docker_action(
        &mut self,
        frame: &Frame,
        action: &Action,
        action_dir: &Path,
        with: IndexMap<String, String>,
        prepared: &PreparedStep,
    ) -> StepBody {
        let Some(runs) = &action.runs.docker else {
            self.log(frame, "##[error]the action does not say which image to run");
            return StepBody::failure();
        };
        let caller_env = self.layered_env(frame, &prepared.env);
        let caller_scope = self.scope(frame, &caller_env);
        let mut inputs = Map::new();
        for (name, input) in &action.inputs {
            let value = match (with.get(&name.to_ascii_lowercase()), &input.default) {
                (Some(value), _) => value.clone(),
                (None, Some(default)) => match caller_scope.render(&default.value) {
                    Ok(value) => value,
                    Err(error) => {
                        self.log(frame, &format!("##[error]input `{name}`: {error}"));
                        return StepBody::failure();
                    }
                },
                (None, None) => String::new(),
            };
            inputs.insert(name.clone(), Value::String(value));
        }
        for (name, value) in &with {
            if !inputs.keys().any(|known| known.eq_ignore_ascii_case(name)) {
                self.log(
                    frame,
                    &format!("##[warning]unexpected input `{name}` for this action"),
                );
                inputs.insert(name.clone(), Value::String(value.clone()));
            }
        }
        let text = |value: &Option<workflows::span::Spanned<String>>| {
            value.as_ref().map(|value| value.value.clone())
        };
        let step = DockerStep {
            image: runs.image.value.clone(),
            action_dir: Some(action_dir),
            entrypoint: text(&runs.entrypoint),
            pre_entrypoint: text(&runs.pre_entrypoint),
            post_entrypoint: text(&runs.post_entrypoint),
            args: runs.args.iter().map(|arg| arg.value.clone()).collect(),
            env: runs
                .env
                .iter()
                .map(|(name, value)| (name.clone(), value.value.clone()))
                .collect(),
            inputs,
        };
        self.docker_step(frame, step, prepared).await
    }

    /// `uses: docker://image`: `with.args` (split like a shell) and `with.entrypoint` start it,
    /// every other input is passed as `INPUT_*`.
    pub(crate) async fn run_docker_uses(
        &mut self,
        frame: &Frame,
        image: &str,
        with: IndexMap<String, String>,
        prepared: &PreparedStep,
    ) -> StepBody {
        let args = match with.get("args") {
            Some(args) => match super::options::split_words(args) {
                Ok(words) => words,
                Err(error) => {
                    self.log(frame, &format!("##[error]input `args`: {error}"));
                    return StepBody::failure();
                }
            },
            None => Vec::new(),
        };
        let step = DockerStep {
            image: format!("docker://{image}"),
            action_dir: None,
            entrypoint: with.get("entrypoint").cloned(),
            pre_entrypoint: None,
            post_entrypoint: None,
            args,
            env: IndexMap::new(),
            inputs: with
                .iter()
                .filter(|(name, _)| !matches!(name.as_str(), "args" | "entrypoint"))
                .map(|(name, value)| (name.clone(), Value::String(value.clone())))
                .collect(),
        };
        self.docker_step(frame, step, prepared).await
    }

    async fn docker_step(
        &mut self,
        frame: &Frame,
        step: DockerStep<'_>,
        prepared: &PreparedStep,
    ) -> StepBody {
        match self.docker_runs(frame, &step, prepared).await {
            Ok(runs) => {
                let mut outputs = IndexMap::new();
                let mut outcome = Conclusion::Success;
                let count = runs.len();
                for (stage, run) in runs {
                    let is_post = stage == "post-entrypoint";
                    if outcome != Conclusion::Success && !is_post {
                        continue;
                    }
                    if count > 1 {
                        self.log(frame, &format!("running the action's {stage}"));
                    }
                    let body = self
                        .run_launch(
                            frame,
                            String::new(),
                            Vec::new(),
                            Vec::new(),
                            prepared,
                            Some(run),
                        )
                        .await;
                    outputs.extend(body.outputs);
                    if outcome == Conclusion::Success {
                        outcome = body.outcome;
                    }
                }
                StepBody { outcome, outputs }
            }
            Err(error) => {
                self.log(frame, &format!("##[error]{error}"));
                StepBody::failure()
            }
        }
    }

    /// The containers to run, in order: (stage name, run).
    async fn docker_runs(
        &self,
        frame: &Frame,
        step: &DockerStep<'_>,
        prepared: &PreparedStep,
    ) -> Result<Vec<(&'static str, DockerActionRun)>, String> {
        let docker = match &self.containers {
            Some(containers) => containers.docker.clone(),
            None => super::connect().await?,
        };
        let network = self
            .containers
            .as_ref()
            .and_then(|containers| containers.network().map(str::to_string));
        let log = self.job_logger();
        let image = action_image(&docker, &step.image, step.action_dir, &log).await?;

        let env = self.layered_env(frame, &prepared.env);
        let mut scope = self.scope(frame, &env);
        scope
            .values
            .insert("inputs".to_string(), Value::Object(step.inputs.clone()));
        let args = step
            .args
            .iter()
            .map(|arg| {
                scope
                    .render(arg)
                    .map_err(|error| format!("`args`: {error}"))
            })
            .collect::<Result<Vec<_>, _>>()?;

        let temp = &self.dirs.temp;
        for dir in ["_github_home", "_github_workflow", "_runner_file_commands"] {
            std::fs::create_dir_all(temp.join(dir)).map_err(|error| {
                format!("failed to create {}: {error}", temp.join(dir).display())
            })?;
        }
        let event = temp.join("_github_workflow").join("event.json");
        if !event.exists() {
            std::fs::copy(&self.dirs.event_path, &event)
                .map_err(|error| format!("failed to copy the event payload: {error}"))?;
        }
        let paths = docker_action_paths(&self.dirs.workspace, temp);
        let mut vars: IndexMap<String, String> = self
            .action_env(frame, prepared)
            .into_iter()
            .map(|(name, value)| {
                let value = paths.rewrite(&value);
                (name, value)
            })
            .collect();
        for (name, value) in &step.env {
            let value = scope
                .render(value)
                .map_err(|error| format!("`env.{name}`: {error}"))?;
            vars.insert(name.clone(), value);
        }
        for (name, value) in &step.inputs {
            let key = format!("INPUT_{}", name.replace(' ', "_").to_ascii_uppercase());
            let value = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            vars.insert(key, value);
        }
        vars.insert("HOME".to_string(), super::paths::HOME.to_string());
        vars.insert(
            "GITHUB_EVENT_PATH".to_string(),
            format!("{}/event.json", super::paths::WORKFLOW),
        );
        vars.shift_remove("PATH");
        let labels = HashMap::from([
            (LABEL_RUN.to_string(), self.spec.run_id.clone()),
            (LABEL_JOB.to_string(), self.spec.job_key.clone()),
            (LABEL_RUNNER.to_string(), self.options.runner_id.clone()),
        ]);
        let base = DockerActionRun {
            docker,
            image,
            entrypoint: step.entrypoint.clone(),
            args,
            env: vars.into_iter().collect(),
            binds: paths.binds(),
            network,
            labels,
        };
        let mut runs = Vec::new();
        if let Some(pre) = &step.pre_entrypoint {
            runs.push((
                "pre-entrypoint",
                DockerActionRun {
                    entrypoint: Some(pre.clone()),
                    args: Vec::new(),
                    ..base.clone()
                },
            ));
        }
        let post = step.post_entrypoint.as_ref().map(|post| DockerActionRun {
            entrypoint: Some(post.clone()),
            args: Vec::new(),
            ..base.clone()
        });
        runs.push(("entrypoint", base));
        if let Some(post) = post {
            runs.push(("post-entrypoint", post));
        }
        Ok(runs)
    }
}
