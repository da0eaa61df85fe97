//! Composite actions (and local JavaScript actions, handed to `node_action`), local (`uses: ./path`) or remote (a mirrored repository's): the
//! `action.yml` read through `workflows::action`, inputs resolved (`with:` or the defaults) into
//! the `inputs` context, the inner steps run as a nested level of steps, and the declared outputs
//! mapped from the inner `steps` context. A `./path` inside a remote composite action is looked
//! up in the action's own folder first, then in the workspace.
//!
//! YAML is never parsed here; reading the metadata file is the only I/O of its own.

use std::path::{Component, Path, PathBuf};

use indexmap::IndexMap;
use protocol::Conclusion;
use serde_json::{Map, Value};
use workflows::action::{Action, parse_action};
use workflows::model::Step;

use super::job::{Frame, JobRun, PreparedStep, StepBody};

/// Composite actions calling composite actions: deeper than this is taken for a loop.
const MAX_NESTING: usize = 9;

impl JobRun<'_> {
    /// Runs the composite action at `path` (relative to the workspace) for the step `prepared`.
    pub(super) async fn run_composite(
        &mut self,
        frame: &mut Frame,
        path: &str,
        with: IndexMap<String, String>,
        prepared: &PreparedStep,
    ) -> StepBody {
        match self.composite(frame, path, with, prepared).await {
            Ok(body) => body,
            Err(error) => {
                self.log(frame, &format!("##[error]local action `{path}`: {error}"));
                StepBody::failure()
            }
        }
    }

    async fn composite(
        &mut self,
        frame: &mut Frame,
        path: &str,
        with: IndexMap<String, String>,
        prepared: &PreparedStep,
    ) -> Result<StepBody, String> {
        if frame.label.matches('_').count() > MAX_NESTING * 2 {
            return Err(
                "composite actions are nested too deeply (is one calling itself?)".to_string(),
            );
        }
        let relative = Path::new(path.trim());
        if relative
            .components()
            .any(|part| matches!(part, Component::ParentDir))
        {
            return Err("the path must stay inside the workspace".to_string());
        }
        // Inside a remote composite action, `./path` is the action's own folder first.
        let own = frame
            .action_path
            .as_ref()
            .filter(|dir| !dir.starts_with(&self.dirs.workspace))
            .map(|dir| dir.join(relative))
            .filter(|dir| dir.join("action.yml").is_file() || dir.join("action.yaml").is_file());
        let action_dir = own.unwrap_or_else(|| self.dirs.workspace.join(relative));
        let action = self.read_action(frame, &action_dir, path.trim())?;
        if action.runs.node_version().is_some() {
            // A local JavaScript action: no repository or ref of its own (as on GitHub).
            let located = super::remote_actions::LocatedAction {
                dir: action_dir,
                repository: String::new(),
                git_ref: String::new(),
                sha: None,
                cached: true,
            };
            let title = format!("Run {}", path.trim());
            return Ok(self
                .run_node_action(frame, &located, &action, &with, prepared, &title)
                .await);
        }
        if action.runs.docker.is_some() {
            return Ok(self
                .run_docker_action(frame, &action, &action_dir, with, prepared)
                .await);
        }
        if !action.runs.is_composite() {
            return Err(format!(
                "only composite actions can run here; this one uses `{}`",
                action.runs.using.value
            ));
        }
        self.composite_steps(frame, action_dir, &action, with, prepared)
            .await
    }

    /// Reads and checks the metadata file in `action_dir`; `shown` names it in diagnostics.
    pub(super) fn read_action(
        &self,
        frame: &Frame,
        action_dir: &Path,
        shown: &str,
    ) -> Result<Action, String> {
        let (file, source) = ["action.yml", "action.yaml"]
            .iter()
            .find_map(|name| {
                let file = action_dir.join(name);
                std::fs::read_to_string(&file)
                    .ok()
                    .map(|source| (file, source))
            })
            .ok_or_else(|| {
                format!(
                    "no action.yml or action.yaml in {} (did a checkout step run first?)",
                    action_dir.display()
                )
            })?;
        let label = Path::new(shown).join(file.file_name().unwrap_or_default());
        let (action, diagnostics) = parse_action(&label.to_string_lossy(), &source);
        for diagnostic in &diagnostics {
            self.log(
                frame,
                &format!(
                    "##[{}]{diagnostic}",
                    if diagnostic.is_error() {
                        "error"
                    } else {
                        "warning"
                    }
                ),
            );
        }
        match action {
            Some(action) if !diagnostics.iter().any(|diagnostic| diagnostic.is_error()) => {
                Ok(action)
            }
            _ => Err("the action metadata is invalid".to_string()),
        }
    }

    /// Runs the steps of the composite action `action` kept in `action_dir`.
    pub(super) async fn composite_steps(
        &mut self,
        frame: &mut Frame,
        action_dir: PathBuf,
        action: &Action,
        with: IndexMap<String, String>,
        prepared: &PreparedStep,
    ) -> Result<StepBody, String> {
        if frame.label.matches('_').count() > MAX_NESTING * 2 {
            return Err(
                "composite actions are nested too deeply (is one calling itself?)".to_string(),
            );
        }

        let caller_env = self.layered_env(frame, &prepared.env);
        let caller_scope = self.scope(frame, &caller_env);
        let mut inputs = Map::new();
        for (name, input) in &action.inputs {
            let given = with.get(&name.to_ascii_lowercase()).cloned();
            let value = match (given, &input.default) {
                (Some(value), _) => value,
                (None, Some(default)) => caller_scope.render(&default.value)?,
                (None, None) => {
                    if input.required {
                        self.log(
                            frame,
                            &format!("##[warning]input `{name}` is required but was not given"),
                        );
                    }
                    String::new()
                }
            };
            inputs.insert(name.clone(), Value::String(value));
        }
        for name in with.keys() {
            if !action
                .inputs
                .keys()
                .any(|declared| declared.eq_ignore_ascii_case(name))
            {
                self.log(
                    frame,
                    &format!("##[warning]unexpected input `{name}` for this action"),
                );
            }
        }

        let mut env = frame.env.clone();
        env.extend(
            prepared
                .env
                .iter()
                .map(|(name, value)| (name.clone(), value.clone())),
        );
        let mut inner = Frame {
            steps: Map::new(),
            inputs: Some(inputs),
            action_path: Some(action_dir.clone()),
            env,
            status: frame.status,
            label: format!(
                "{}_{}",
                frame.label,
                super::workspace::sanitise(&prepared.id)
            ),
            event_index: frame.event_index,
            composite: true,
        };
        let steps: Vec<Step> = action.runs.steps.clone();
        let (mut failed, mut cancelled) = (false, false);
        for (index, step) in steps.iter().enumerate() {
            let name = self.step_name(&inner, step, index);
            self.log(&inner, &format!("##[group]{name}"));
            let result = Box::pin(self.run_step(&mut inner, step, index, name)).await;
            self.log(&inner, "##[endgroup]");
            failed |= result.conclusion == Conclusion::Failure;
            cancelled |= result.conclusion == Conclusion::Cancelled;
        }

        let inner_env = self.layered_env(&inner, &IndexMap::new());
        let inner_scope = self.scope(&inner, &inner_env);
        let mut outputs = IndexMap::new();
        for (name, output) in &action.outputs {
            let value = match &output.value {
                Some(template) => inner_scope.render(&template.value).unwrap_or_else(|error| {
                    self.log(&inner, &format!("##[warning]output `{name}`: {error}"));
                    String::new()
                }),
                None => String::new(),
            };
            outputs.insert(name.clone(), value);
        }
        let outcome = if cancelled {
            Conclusion::Cancelled
        } else if failed {
            Conclusion::Failure
        } else {
            Conclusion::Success
        };
        Ok(StepBody { outcome, outputs })
    }
}
