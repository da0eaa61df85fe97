//! What a step's output lines do: workflow commands acted upon (masks added, legacy outputs and
//! unsecure env/path commands collected) and each line rendered as it appears in the log.
//!
//! It does not send anything; the job loop masks and sends the rendered lines.

use indexmap::IndexMap;

use super::masking::Masker;
use super::workflow_commands::{CommandReader, WorkflowCommand};

/// The state of one step's output while it runs.
pub(super) struct StepOutput {
    reader: CommandReader,
    /// `ACTIONS_ALLOW_UNSECURE_COMMANDS=true` in the step's env: `set-env` and `add-path` work.
    allow_unsecure: bool,
    /// Outputs set with the legacy `::set-output` command.
    pub outputs: IndexMap<String, String>,
    pub unsecure_env: Vec<(String, String)>,
    pub unsecure_paths: Vec<String>,
    /// State saved with the legacy `::save-state` command (for the action's post step).
    pub state: IndexMap<String, String>,
}

impl StepOutput {
    pub(super) fn new(allow_unsecure: bool) -> StepOutput {
        StepOutput {
            reader: CommandReader::new(),
            allow_unsecure,
            outputs: IndexMap::new(),
            unsecure_env: Vec::new(),
            unsecure_paths: Vec::new(),
            state: IndexMap::new(),
        }
    }

    /// Acts on `line` and returns what the log shows for it (not masked yet), if anything.
    pub(super) fn handle(&mut self, masker: &mut Masker, line: String) -> Option<String> {
        let command = match self.reader.read(&line) {
            None => return Some(line),
            Some(command) => command,
        };
        match command {
            WorkflowCommand::AddMask(value) => {
                masker.add(&value);
                Some(line)
            }
            WorkflowCommand::Group(title) => Some(format!("##[group]{title}")),
            WorkflowCommand::EndGroup => Some("##[endgroup]".to_string()),
            WorkflowCommand::Annotation {
                level,
                properties,
                message,
            } => {
                let place: String = ["file", "line", "col"]
                    .iter()
                    .filter_map(|key| properties.get(*key))
                    .map(|value| format!("{value}:"))
                    .collect();
                let place = if place.is_empty() {
                    place
                } else {
                    format!("{place} ")
                };
                let title = properties
                    .get("title")
                    .map(|title| format!("{title}: "))
                    .unwrap_or_default();
                Some(format!("##[{}]{place}{title}{message}", level.as_str()))
            }
            WorkflowCommand::Debug(message) => Some(format!("##[debug]{message}")),
            WorkflowCommand::SetOutput { name, value } => {
                self.outputs.insert(name, value);
                Some(
                    "##[warning]the `set-output` command is deprecated; write to $GITHUB_OUTPUT"
                        .to_string(),
                )
            }
            WorkflowCommand::SaveState { name, value } => {
                self.state.insert(name, value);
                None
            }
            WorkflowCommand::Ignored => None,
            WorkflowCommand::SetEnv { name, value } if self.allow_unsecure => {
                self.unsecure_env.push((name, value));
                None
            }
            WorkflowCommand::AddPath(dir) if self.allow_unsecure => {
                self.unsecure_paths.push(dir);
                None
            }
            WorkflowCommand::SetEnv { .. } => Some(disabled_command("set-env")),
            WorkflowCommand::AddPath(_) => Some(disabled_command("add-path")),
        }
    }
}

fn disabled_command(name: &str) -> String {
    format!(
        "##[warning]the `{name}` command is disabled; write to $GITHUB_ENV or $GITHUB_PATH instead \
         (or set ACTIONS_ALLOW_UNSECURE_COMMANDS=true)"
    )
}
