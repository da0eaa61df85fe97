//! JavaScript actions (`runs.using: node12|node16|node20|node24`): `pre` (under `pre-if`), `main`
//! and `post` (under `post-if`, run at the end of the job in reverse order), inputs as `INPUT_*`
//! (GitHub's mangling: upper-cased, spaces to `_`, `-` kept) with `action.yml` defaults
//! evaluated in the caller's contexts, outputs through `$GITHUB_OUTPUT` and `::set-output`,
//! state through `$GITHUB_STATE` and `::save-state` given back to `post` as `STATE_*`, and the
//! node executable picked from the runner's configuration.
//!
//! At the start of the job every remote action of the job's steps is fetched and the `pre`
//! scripts run (in step order, with `with:` evaluated at that moment, output in the job log), as
//! on GitHub; inside a composite action `pre` runs right before `main`. The process work itself is
//! the job loop's `run_command`, so masking, groups and workflow commands behave as in `run:` steps.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use indexmap::IndexMap;
use protocol::Conclusion;
use workflows::action::{Action, BuiltIn, RemoteAction};
use workflows::model::Step;

use super::job::{Frame, JobRun, PostAction, PreparedStep, StepBody};
use super::remote_actions::LocatedAction;
use super::workspace::sanitise;

/// A `post` script waiting for the end of the job.
#[derive(Debug, Clone)]
pub(super) struct NodePost {
    /// The step's display name (the log says `Post <title>`).
    pub title: String,
    pub node: PathBuf,
    pub script: PathBuf,
    /// `post-if` as written (default `always()`).
    pub condition: String,
    /// `INPUT_*` and the `GITHUB_ACTION_*` variables the main step had.
    pub action_env: IndexMap<String, String>,
    /// What `main` saved (`$GITHUB_STATE`, `::save-state`), given as `STATE_*`.
    pub state: IndexMap<String, String>,
    /// The step's own `env:` (evaluated when it ran), which its post script sees too.
    pub step_env: IndexMap<String, String>,
    /// The step's id, for file names.
    pub label: String,
    /// The job-level step index of the step that registered it.
    pub event_index: usize,
}

/// `node --version` of executables found on `PATH`, asked once per process.
static PATH_NODE_VERSIONS: Mutex<Option<HashMap<PathBuf, Option<u32>>>> = Mutex::new(None);

impl JobRun<'_> {
    /// Runs the JavaScript action `action` found at `located` for the step `prepared`.
    pub(super) async fn run_node_action(
        &mut self,
        frame: &mut Frame,
        located: &LocatedAction,
        action: &Action,
        with: &IndexMap<String, String>,
        prepared: &PreparedStep,
        title: &str,
    ) -> StepBody {
        match self
            .node_action(frame, located, action, with, prepared, title)
            .await
        {
            Ok(body) => body,
            Err(error) => {
                self.log(frame, &format!("##[error]{error}"));
                StepBody::failure()
            }
        }
    }

    async fn node_action(
        &mut self,
        frame: &mut Frame,
        located: &LocatedAction,
        action: &Action,
        with: &IndexMap<String, String>,
        prepared: &PreparedStep,
        title: &str,
    ) -> Result<StepBody, String> {
        let runs = &action.runs;
        let version = runs.node_version().unwrap_or(20);
        let path_var = self
            .process_env(frame, &prepared.env, prepared)
            .into_iter()
            .find(|(name, _)| name == "PATH")
            .map(|(_, value)| value)
            .unwrap_or_default();
        let node = self.node_for(frame, version, &path_var).await?;
        let mut action_env = self.action_inputs(frame, action, with, prepared)?;
        action_env.insert(
            "GITHUB_ACTION_PATH".to_string(),
            located.dir.to_string_lossy().to_string(),
        );
        action_env.insert(
            "GITHUB_ACTION_REPOSITORY".to_string(),
            located.repository.clone(),
        );
        action_env.insert("GITHUB_ACTION_REF".to_string(), located.git_ref.clone());

        let pre_ran_at_start = !frame.composite && self.pre_ran.contains(&frame.event_index);
        if let Some(pre) = runs.pre.as_ref().filter(|_| !pre_ran_at_start) {
            let condition = runs
                .pre_if
                .clone()
                .unwrap_or_else(|| "always()".to_string());
            let env = self.layered_env(frame, &prepared.env);
            let run_pre = self.scope(frame, &env).condition(Some(&condition))?;
            if run_pre {
                let script = script_path(&located.dir, pre)?;
                let env = self.node_env(frame, prepared, &action_env, &IndexMap::new());
                self.log(frame, &format!("Pre {title}"));
                let body = self
                    .run_command(
                        frame,
                        node.to_string_lossy().to_string(),
                        vec![script.to_string_lossy().to_string()],
                        env,
                        prepared,
                    )
                    .await;
                if body.outcome != Conclusion::Success {
                    return Ok(body);
                }
            } else {
                self.log(
                    frame,
                    &format!("skipping the pre step: `{condition}` is false"),
                );
            }
        }

        let main = runs
            .main
            .as_deref()
            .ok_or_else(|| "the action has no `runs.main`".to_string())?;
        let script = script_path(&located.dir, main)?;
        let env = self.node_env(frame, prepared, &action_env, &IndexMap::new());
        self.saved_state.clear();
        let body = self
            .run_command(
                frame,
                node.to_string_lossy().to_string(),
                vec![script.to_string_lossy().to_string()],
                env,
                prepared,
            )
            .await;

        if let Some(post) = &runs.post {
            let mut state = std::mem::take(&mut self.saved_state);
            let written = std::fs::read_to_string(&prepared.files.state).unwrap_or_default();
            if let Ok(pairs) = super::env_files::parse_key_values("GITHUB_STATE", &written) {
                state.extend(pairs);
            }
            self.post_actions.push(PostAction::Node(Box::new(NodePost {
                title: title.to_string(),
                node: node.clone(),
                script: script_path(&located.dir, post)?,
                condition: runs
                    .post_if
                    .clone()
                    .unwrap_or_else(|| "always()".to_string()),
                action_env,
                state,
                step_env: prepared.env.clone(),
                label: format!("{}_{}", frame.label, sanitise(&prepared.id)),
                event_index: frame.event_index,
            })));
        }
        Ok(body)
    }

    /// At the start of the job: fetches every remote action the steps use (a failure is left for
    /// its step to report) and runs the `pre` scripts of the JavaScript ones, in step order.
    pub(super) async fn run_pre_scripts(&mut self, frame: &mut Frame, steps: &[Step]) {
        for (index, step) in steps.iter().enumerate() {
            let Some(uses) = step.uses.as_ref().map(|uses| uses.value.trim().to_string()) else {
                continue;
            };
            let Some(action) = RemoteAction::parse(&uses) else {
                continue;
            };
            let runs_remote = match action.built_in() {
                BuiltIn::Always => false,
                BuiltIn::UnlessMirrored => self.has_real_action(&action, &uses),
                BuiltIn::No => true,
            };
            if !runs_remote {
                continue;
            }
            let previous = std::mem::replace(&mut self.job_level_output, true);
            let started = std::time::Instant::now();
            let located = self.locate_remote(&action, &uses).await;
            if let Ok(located) = &located
                && !located.cached
            {
                self.log_job(&format!(
                    "fetched {} at {} ({} ms)",
                    located.repository,
                    located.sha.as_deref().unwrap_or("?"),
                    started.elapsed().as_millis()
                ));
            }
            let metadata = located
                .as_ref()
                .ok()
                .and_then(|located| self.read_action(frame, &located.dir, &uses).ok());
            self.job_level_output = previous;
            let (Ok(located), Some(metadata)) = (located, metadata) else {
                continue;
            };
            if metadata.runs.node_version().is_none() || metadata.runs.pre.is_none() {
                continue;
            }
            self.pre_ran.insert(index);
            frame.event_index = index;
            frame.label = format!("pre{index}");
            let outcome = self
                .pre_at_start(frame, step, &located, &metadata, &uses)
                .await;
            if let Err(error) = outcome {
                self.log_job(&format!("##[error]Pre {uses}: {error}"));
                frame.status.failed = true;
            }
        }
    }

    async fn pre_at_start(
        &mut self,
        frame: &mut Frame,
        step: &Step,
        located: &LocatedAction,
        action: &Action,
        uses: &str,
    ) -> Result<(), String> {
        let runs = &action.runs;
        let job_env = self.layered_env(frame, &IndexMap::new());
        let scope = self.scope(frame, &job_env);
        let condition = runs
            .pre_if
            .clone()
            .unwrap_or_else(|| "always()".to_string());
        if !scope.condition(Some(&condition))? {
            self.log_job(&format!("skipping Pre {uses}: `{condition}` is false"));
            return Ok(());
        }
        let mut step_env = IndexMap::new();
        for (name, value) in &step.env {
            step_env.insert(name.clone(), scope.render(&value.value)?);
        }
        let mut with = IndexMap::new();
        for (name, value) in &step.with {
            with.insert(name.to_ascii_lowercase(), scope.render(&value.value)?);
        }
        let files = self
            .dirs
            .step_files(&format!("pre_{}", frame.event_index))
            .map_err(|error| format!("failed to create the pre step's command files: {error}"))?;
        let prepared = PreparedStep {
            id: format!("pre_{}", frame.event_index),
            env: step_env,
            timeout: None,
            working_directory: self.dirs.workspace.clone(),
            files,
        };
        let path_var = self
            .process_env(frame, &prepared.env, &prepared)
            .into_iter()
            .find(|(name, _)| name == "PATH")
            .map(|(_, value)| value)
            .unwrap_or_default();
        let previous = std::mem::replace(&mut self.job_level_output, true);
        let node = self
            .node_for(frame, runs.node_version().unwrap_or(20), &path_var)
            .await;
        let mut action_env = match self.action_inputs(frame, action, &with, &prepared) {
            Ok(env) => env,
            Err(error) => {
                self.job_level_output = previous;
                return Err(error);
            }
        };
        action_env.insert(
            "GITHUB_ACTION_PATH".to_string(),
            located.dir.to_string_lossy().to_string(),
        );
        action_env.insert(
            "GITHUB_ACTION_REPOSITORY".to_string(),
            located.repository.clone(),
        );
        action_env.insert("GITHUB_ACTION_REF".to_string(), located.git_ref.clone());
        let script = runs
            .pre
            .as_deref()
            .ok_or_else(|| "the action has no `runs.pre`".to_string())
            .and_then(|pre| script_path(&located.dir, pre));
        let (node, script) = match (node, script) {
            (Ok(node), Ok(script)) => (node, script),
            (Err(error), _) | (_, Err(error)) => {
                self.job_level_output = previous;
                return Err(error);
            }
        };
        let env = self.node_env(frame, &prepared, &action_env, &IndexMap::new());
        self.log_job(&format!("Pre Run {uses}"));
        let mut body = self
            .run_command(
                frame,
                node.to_string_lossy().to_string(),
                vec![script.to_string_lossy().to_string()],
                env,
                &prepared,
            )
            .await;
        self.collect_step_files(frame, &prepared, &mut body);
        self.job_level_output = previous;
        if body.outcome != Conclusion::Success {
            return Err("the pre script failed".to_string());
        }
        Ok(())
    }

    /// Runs a registered `post` script at the end of the job (its output goes to the job log); a
    /// failing post step fails the job.
    pub(super) async fn run_node_post(&mut self, frame: &mut Frame, post: NodePost) {
        let env = self.layered_env(frame, &IndexMap::new());
        match self.scope(frame, &env).condition(Some(&post.condition)) {
            Ok(true) => {}
            Ok(false) => {
                self.log_job(&format!(
                    "skipping Post {}: `{}` is false",
                    post.title, post.condition
                ));
                return;
            }
            Err(error) => {
                self.log_job(&format!("##[error]Post {}: {error}", post.title));
                frame.status.failed = true;
                return;
            }
        }
        let files = match self.dirs.step_files(&format!("post_{}", post.label)) {
            Ok(files) => files,
            Err(error) => {
                self.log_job(&format!(
                    "##[error]failed to create the post step's command files: {error}"
                ));
                frame.status.failed = true;
                return;
            }
        };
        let prepared = PreparedStep {
            id: format!("post_{}", post.label),
            env: post.step_env.clone(),
            timeout: None,
            working_directory: self.dirs.workspace.clone(),
            files,
        };
        let state: IndexMap<String, String> = post
            .state
            .iter()
            .map(|(name, value)| (format!("STATE_{name}"), value.clone()))
            .collect();
        let env = self.node_env(frame, &prepared, &post.action_env, &state);
        let previous = std::mem::replace(&mut self.job_level_output, true);
        frame.event_index = post.event_index;
        self.log_job(&format!("Post {}", post.title));
        let mut body = self
            .run_command(
                frame,
                post.node.to_string_lossy().to_string(),
                vec![post.script.to_string_lossy().to_string()],
                env,
                &prepared,
            )
            .await;
        self.collect_step_files(frame, &prepared, &mut body);
        self.job_level_output = previous;
        if body.outcome == Conclusion::Failure {
            frame.status.failed = true;
        }
    }

    /// Declared inputs (given, or their default evaluated in the caller's contexts) and any
    /// other `with:` values, as `INPUT_*` variables.
    fn action_inputs(
        &self,
        frame: &Frame,
        action: &Action,
        with: &IndexMap<String, String>,
        prepared: &PreparedStep,
    ) -> Result<IndexMap<String, String>, String> {
        let env = self.layered_env(frame, &prepared.env);
        let scope = self.scope(frame, &env);
        let mut inputs = IndexMap::new();
        for (name, input) in &action.inputs {
            let value = match (with.get(&name.to_ascii_lowercase()), &input.default) {
                (Some(value), _) => value.clone(),
                (None, Some(default)) => scope
                    .render(&default.value)
                    .map_err(|error| format!("the default of input `{name}`: {error}"))?,
                (None, None) => String::new(),
            };
            inputs.insert(input_variable(name), value);
        }
        let mut unexpected = Vec::new();
        for (name, value) in with {
            if !action
                .inputs
                .keys()
                .any(|declared| declared.eq_ignore_ascii_case(name))
            {
                unexpected.push(name.clone());
                inputs.insert(input_variable(name), value.clone());
            }
        }
        if !unexpected.is_empty() {
            let valid: Vec<&str> = action.inputs.keys().map(String::as_str).collect();
            self.log(
                frame,
                &format!(
                    "##[warning]unexpected input(s) {}; valid inputs are {}",
                    unexpected.join(", "),
                    valid.join(", ")
                ),
            );
        }
        Ok(inputs)
    }

    /// The process environment of a node script: the step's, the action's variables, `state`,
    /// and the job's service variables.
    fn node_env(
        &self,
        frame: &Frame,
        prepared: &PreparedStep,
        action_env: &IndexMap<String, String>,
        state: &IndexMap<String, String>,
    ) -> Vec<(String, String)> {
        let mut env: IndexMap<String, String> = self
            .process_env(frame, &prepared.env, prepared)
            .into_iter()
            .collect();
        env.extend(action_env.iter().map(|(k, v)| (k.clone(), v.clone())));
        env.extend(state.iter().map(|(k, v)| (k.clone(), v.clone())));
        // Actions (not `run:` steps) reach the engine's services for the official actions:
        // ACTIONS_RUNTIME_TOKEN, ACTIONS_CACHE_URL, ACTIONS_RESULTS_URL of this job.
        if let Some(access) = &self.options.toolkit {
            env.extend(super::toolkit::toolkit_env(access));
        }
        env.into_iter().collect()
    }

    /// The node executable for an action written for node `wanted`: the configured one, another
    /// configured version (a warning, or an error with `node_strict`), or `node` on `PATH`.
    async fn node_for(
        &self,
        frame: &Frame,
        wanted: u32,
        path_var: &str,
    ) -> Result<PathBuf, String> {
        let runtimes = &self.options.node_runtimes;
        if let Some(path) = runtimes.get(&wanted) {
            return Ok(path.clone());
        }
        let (node, found) = if runtimes.is_empty() {
            let node = find_on_path("node", path_var).ok_or_else(|| {
                format!(
                    "this is a node{wanted} action, but no node is configured for the runner \
                     (node{wanted} = \"/path/to/node\") and there is no `node` on PATH"
                )
            })?;
            let version = path_node_version(&node).await;
            match version {
                Some(version) if version == wanted => return Ok(node),
                Some(version) => (node, version),
                None => return Ok(node),
            }
        } else {
            let newer = runtimes
                .iter()
                .filter(|(v, _)| **v > wanted)
                .min_by_key(|(v, _)| **v);
            let older = runtimes
                .iter()
                .filter(|(v, _)| **v < wanted)
                .max_by_key(|(v, _)| **v);
            match newer.or(older) {
                Some((version, path)) => (path.clone(), *version),
                None => {
                    return Err(format!(
                        "this is a node{wanted} action; no node is configured"
                    ));
                }
            }
        };
        if self.options.node_strict {
            return Err(format!(
                "this is a node{wanted} action, but this runner has node{found} ({}) and is \
                 configured not to run actions on another node version",
                node.display()
            ));
        }
        self.log(
            frame,
            &format!(
                "##[warning]this action is written for node{wanted}; running it on node{found} ({})",
                node.display()
            ),
        );
        Ok(node)
    }
}

/// `INPUT_<NAME>`: upper-cased, spaces replaced by `_` (GitHub's mangling; `-` is kept).
pub(super) fn input_variable(name: &str) -> String {
    format!("INPUT_{}", name.replace(' ', "_").to_ascii_uppercase())
}

/// `relative` inside the action's folder (never outside it).
fn script_path(dir: &Path, relative: &str) -> Result<PathBuf, String> {
    let relative = Path::new(relative.trim());
    if relative.is_absolute()
        || relative
            .components()
            .any(|part| matches!(part, std::path::Component::ParentDir))
    {
        return Err(format!(
            "the action's script {} must stay inside the action",
            relative.display()
        ));
    }
    let script = dir.join(relative);
    if !script.is_file() {
        return Err(format!(
            "the action's script {} does not exist",
            script.display()
        ));
    }
    Ok(script)
}

fn find_on_path(program: &str, path_var: &str) -> Option<PathBuf> {
    path_var
        .split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| Path::new(dir).join(program))
        .find(|candidate| candidate.is_file())
}

/// The major version `node --version` reports (`v20.11.1` → 20), asked once per executable.
async fn path_node_version(node: &Path) -> Option<u32> {
    if let Some(known) = PATH_NODE_VERSIONS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(HashMap::new)
        .get(node)
    {
        return *known;
    }
    let output = tokio::process::Command::new(node)
        .arg("--version")
        .output()
        .await
        .ok();
    let version = output.and_then(|output| {
        let text = String::from_utf8_lossy(&output.stdout).to_string();
        text.trim()
            .trim_start_matches('v')
            .split('.')
            .next()?
            .parse()
            .ok()
    });
    PATH_NODE_VERSIONS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(HashMap::new)
        .insert(node.to_path_buf(), version);
    version
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mangles_input_names_as_github_does() {
        for (name, expected) in [
            ("script", "INPUT_SCRIPT"),
            ("github-token", "INPUT_GITHUB-TOKEN"),
            ("my input", "INPUT_MY_INPUT"),
            ("Node-Version", "INPUT_NODE-VERSION"),
        ] {
            assert_eq!(input_variable(name), expected);
        }
    }

    #[test]
    fn scripts_stay_inside_the_action() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.js"), "").unwrap();
        assert!(script_path(dir.path(), "main.js").is_ok());
        assert!(script_path(dir.path(), "../main.js").is_err());
        assert!(script_path(dir.path(), "/etc/passwd").is_err());
        assert!(script_path(dir.path(), "missing.js").is_err());
    }
}
