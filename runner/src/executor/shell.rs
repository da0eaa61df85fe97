//! Choosing how a `run:` script is executed: the `shell:` keyword (or the job default) turned into a
//! program, its arguments and the script file's extension, as GitHub does on Linux.
//!
//! It looks programs up on the step's `PATH` but runs nothing and writes nothing.

use std::path::{Path, PathBuf};

/// A resolved shell: run `program` with `args`, where the script path has replaced `{0}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellInvocation {
    pub program: String,
    pub args: Vec<String>,
}

/// A shell template before the script path is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellTemplate {
    /// The words of the command line; one of them holds `{0}`.
    pub words: Vec<String>,
    /// The script file's extension (`.sh`, `.py`, or "" for custom shells).
    pub extension: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShellError {
    #[error("shell `{0}` is not installed on this runner")]
    NotInstalled(String),
    #[error("shell `{0}` is neither a known shell nor a command template containing `{{0}}`")]
    Unknown(String),
}

/// The template for `shell` (None: no `shell:` anywhere). `path_var` is the step's `PATH`.
pub(super) fn shell_template(
    shell: Option<&str>,
    path_var: &str,
) -> Result<ShellTemplate, ShellError> {
    let installed = |program: &str| find_program(program, path_var).is_some();
    let words = |text: &str| {
        text.split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let shell = shell.map(str::trim).filter(|shell| !shell.is_empty());
    let template = match shell {
        None if installed("bash") => ShellTemplate {
            words: words("bash -e {0}"),
            extension: ".sh",
        },
        None => ShellTemplate {
            words: words("sh -e {0}"),
            extension: ".sh",
        },
        Some("bash") => ShellTemplate {
            words: words("bash --noprofile --norc -eo pipefail {0}"),
            extension: ".sh",
        },
        Some("sh") => ShellTemplate {
            words: words("sh -e {0}"),
            extension: ".sh",
        },
        Some("python") => {
            let program = if installed("python") {
                "python"
            } else {
                "python3"
            };
            ShellTemplate {
                words: vec![program.to_string(), "{0}".to_string()],
                extension: ".py",
            }
        }
        Some(name @ ("pwsh" | "powershell")) => ShellTemplate {
            words: vec![
                name.to_string(),
                "-command".to_string(),
                ". '{0}'".to_string(),
            ],
            extension: ".ps1",
        },
        Some("cmd") => return Err(ShellError::NotInstalled("cmd".to_string())),
        Some(custom) if custom.contains("{0}") => {
            let words = words(custom);
            let program = words.first().map(String::as_str).unwrap_or_default();
            let base = Path::new(program)
                .file_name()
                .and_then(|name| name.to_str())
                .unwrap_or(program);
            let extension = match base {
                "bash" | "sh" | "zsh" | "dash" => ".sh",
                name if name.starts_with("python") => ".py",
                "pwsh" | "powershell" => ".ps1",
                _ => "",
            };
            ShellTemplate { words, extension }
        }
        Some(other) => return Err(ShellError::Unknown(other.to_string())),
    };
    let program = template.words.first().cloned().unwrap_or_default();
    if !installed(&program) {
        return Err(ShellError::NotInstalled(
            shell.map_or(program, str::to_string),
        ));
    }
    Ok(template)
}

impl ShellTemplate {
    /// The command line with `{0}` replaced by the script's path.
    pub fn invocation(&self, script: &Path) -> ShellInvocation {
        let script = script.to_string_lossy();
        let mut words = self.words.iter().map(|word| word.replace("{0}", &script));
        let program = words.next().unwrap_or_default();
        ShellInvocation {
            program,
            args: words.collect(),
        }
    }
}

/// Where `program` is: itself when it holds a `/`, else the first match on `path_var`.
pub(super) fn find_program(program: &str, path_var: &str) -> Option<PathBuf> {
    if program.is_empty() {
        return None;
    }
    if program.contains('/') {
        let path = PathBuf::from(program);
        return is_executable(&path).then_some(path);
    }
    std::env::split_paths(path_var)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system_path() -> String {
        std::env::var("PATH").unwrap_or_default()
    }

    #[test]
    fn known_shells() {
        let path = system_path();
        let bash = shell_template(Some("bash"), &path).unwrap();
        assert_eq!(
            bash.words.join(" "),
            "bash --noprofile --norc -eo pipefail {0}"
        );
        assert_eq!(
            shell_template(None, &path).unwrap().words.join(" "),
            "bash -e {0}"
        );
        assert_eq!(
            shell_template(Some("sh"), &path).unwrap().words.join(" "),
            "sh -e {0}"
        );
        let custom = shell_template(Some("bash -x {0}"), &path).unwrap();
        assert_eq!(custom.extension, ".sh");
        let invocation = custom.invocation(Path::new("/tmp/s.sh"));
        assert_eq!(invocation.program, "bash");
        assert_eq!(
            invocation.args,
            vec!["-x".to_string(), "/tmp/s.sh".to_string()]
        );
    }

    #[test]
    fn falls_back_to_sh_without_bash() {
        let dir = tempfile::tempdir().unwrap();
        let sh = dir.path().join("sh");
        std::fs::write(&sh, "#!/bin/true\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&sh, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.path().to_string_lossy().to_string();
        assert_eq!(
            shell_template(None, &path).unwrap().words.join(" "),
            "sh -e {0}"
        );
        assert_eq!(
            shell_template(Some("bash"), &path),
            Err(ShellError::NotInstalled("bash".into()))
        );
    }

    #[test]
    fn unavailable_and_unknown_shells() {
        let path = system_path();
        assert_eq!(
            shell_template(Some("cmd"), &path),
            Err(ShellError::NotInstalled("cmd".into()))
        );
        assert_eq!(
            shell_template(Some("fish-like"), &path),
            Err(ShellError::Unknown("fish-like".into()))
        );
        assert!(matches!(
            shell_template(Some("no-such-program {0}"), &path),
            Err(ShellError::NotInstalled(_))
        ));
    }
}
