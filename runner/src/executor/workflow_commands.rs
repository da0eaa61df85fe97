//! Workflow commands: the `::name key=value,…::message` lines a step prints to talk to the runner
//! (`::add-mask::`, `::group::`, `::error …::`, `::stop-commands::TOKEN`, the legacy `::set-output`…).
//!
//! This module only recognises and decodes commands, tracking `::stop-commands::`; acting on them
//! (masking, outputs, log rendering) is the step runner's business.

use indexmap::IndexMap;

/// One recognised command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum WorkflowCommand {
    AddMask(String),
    Group(String),
    EndGroup,
    /// `::error`, `::warning`, `::notice` with their `file`, `line`, `col`, `title`… properties.
    Annotation {
        level: AnnotationLevel,
        properties: IndexMap<String, String>,
        message: String,
    },
    Debug(String),
    /// Legacy `::set-output name=x::value` (deprecated by GitHub but still honoured).
    SetOutput {
        name: String,
        value: String,
    },
    /// Legacy `::save-state name=x::value`.
    SaveState {
        name: String,
        value: String,
    },
    /// `::set-env name=x::value`: disabled on GitHub unless the step's env has
    /// `ACTIONS_ALLOW_UNSECURE_COMMANDS=true`; the step runner decides.
    SetEnv {
        name: String,
        value: String,
    },
    /// `::add-path::dir`: disabled like `set-env`.
    AddPath(String),
    /// `::echo::on|off` and other commands with no effect here.
    Ignored,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AnnotationLevel {
    Error,
    Warning,
    Notice,
}

impl AnnotationLevel {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            AnnotationLevel::Error => "error",
            AnnotationLevel::Warning => "warning",
            AnnotationLevel::Notice => "notice",
        }
    }
}

/// Reads commands from a step's output, line by line, honouring `::stop-commands::TOKEN`.
#[derive(Debug, Default)]
pub(super) struct CommandReader {
    stop_token: Option<String>,
}

impl CommandReader {
    pub(super) fn new() -> CommandReader {
        CommandReader::default()
    }

    /// The command on this line, if any. While commands are stopped, only `::TOKEN::` (which
    /// resumes them) is recognised; every other line is plain output.
    pub(super) fn read(&mut self, line: &str) -> Option<WorkflowCommand> {
        let (name, properties, message) = split_command(line)?;
        if let Some(token) = &self.stop_token {
            if name == *token && properties.is_empty() {
                self.stop_token = None;
                return Some(WorkflowCommand::Ignored);
            }
            return None;
        }
        let command = match name.as_str() {
            "add-mask" => WorkflowCommand::AddMask(message),
            "group" => WorkflowCommand::Group(message),
            "endgroup" => WorkflowCommand::EndGroup,
            "error" | "warning" | "notice" => {
                let level = match name.as_str() {
                    "error" => AnnotationLevel::Error,
                    "warning" => AnnotationLevel::Warning,
                    _ => AnnotationLevel::Notice,
                };
                WorkflowCommand::Annotation {
                    level,
                    properties,
                    message,
                }
            }
            "debug" => WorkflowCommand::Debug(message),
            "set-output" => WorkflowCommand::SetOutput {
                name: properties.get("name").cloned()?,
                value: message,
            },
            "save-state" => WorkflowCommand::SaveState {
                name: properties.get("name").cloned()?,
                value: message,
            },
            "stop-commands" if !message.trim().is_empty() => {
                self.stop_token = Some(message.trim().to_string());
                WorkflowCommand::Ignored
            }
            "set-env" => WorkflowCommand::SetEnv {
                name: properties.get("name").cloned()?,
                value: message,
            },
            "add-path" => WorkflowCommand::AddPath(message),
            "echo" | "add-matcher" | "remove-matcher" => WorkflowCommand::Ignored,
            _ => return None,
        };
        Some(command)
    }
}

/// `::name key=v,k2=v2::message` → (name, properties, message), values and message unescaped.
fn split_command(line: &str) -> Option<(String, IndexMap<String, String>, String)> {
    let rest = line.trim_start().strip_prefix("::")?;
    let (head, message) = rest.split_once("::")?;
    let (name, property_text) = match head.split_once(' ') {
        Some((name, properties)) => (name, properties),
        None => (head, ""),
    };
    if name.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    let mut properties = IndexMap::new();
    for pair in property_text
        .split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
    {
        if let Some((key, value)) = pair.split_once('=') {
            properties.insert(key.trim().to_string(), unescape_property(value));
        }
    }
    Some((
        name.to_string(),
        properties,
        unescape_message(message.trim_end_matches('\r')),
    ))
}

fn unescape_message(text: &str) -> String {
    text.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%25", "%")
}

fn unescape_property(text: &str) -> String {
    text.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_commands() {
        let mut reader = CommandReader::new();
        assert_eq!(
            reader.read("::add-mask::s3cret"),
            Some(WorkflowCommand::AddMask("s3cret".into()))
        );
        assert_eq!(
            reader.read("::group::Build it"),
            Some(WorkflowCommand::Group("Build it".into()))
        );
        assert_eq!(reader.read("::endgroup::"), Some(WorkflowCommand::EndGroup));
        assert_eq!(
            reader.read("::debug::a%0Ab"),
            Some(WorkflowCommand::Debug("a\nb".into()))
        );
        assert_eq!(
            reader.read("::set-output name=x::1 2"),
            Some(WorkflowCommand::SetOutput {
                name: "x".into(),
                value: "1 2".into()
            })
        );
        let Some(WorkflowCommand::Annotation {
            level,
            properties,
            message,
        }) = reader.read("::error file=a.rs,line=3,title=x%3Ay%2Cz::broken")
        else {
            panic!("annotation expected");
        };
        assert_eq!(level, AnnotationLevel::Error);
        assert_eq!(properties.get("file").map(String::as_str), Some("a.rs"));
        assert_eq!(properties.get("line").map(String::as_str), Some("3"));
        assert_eq!(properties.get("title").map(String::as_str), Some("x:y,z"));
        assert_eq!(message, "broken");
        assert_eq!(
            reader.read("::set-env name=A::1"),
            Some(WorkflowCommand::SetEnv {
                name: "A".into(),
                value: "1".into()
            })
        );
        assert_eq!(
            reader.read("::add-path::/opt/x"),
            Some(WorkflowCommand::AddPath("/opt/x".into()))
        );
        assert_eq!(reader.read("plain ::text::"), None);
        assert_eq!(reader.read("::unknown::x"), None);
        assert_eq!(reader.read(":: spaced::x"), None);
    }

    #[test]
    fn stop_commands_until_token() {
        let mut reader = CommandReader::new();
        assert_eq!(
            reader.read("::stop-commands::pause-1 "),
            Some(WorkflowCommand::Ignored)
        );
        assert_eq!(reader.read("::add-mask::not-a-mask"), None);
        assert_eq!(reader.read("::pause-1::"), Some(WorkflowCommand::Ignored));
        assert_eq!(
            reader.read("::add-mask::now-a-mask"),
            Some(WorkflowCommand::AddMask("now-a-mask".into()))
        );
    }
}
