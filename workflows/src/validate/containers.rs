//! `container:` and `services:` checks `slipway check` can make before anything runs: a flag in
//! `options:` the container executor does not know (it takes the documented subset of
//! `docker create`), or one missing its value, is a warning naming it (GitHub accepts any text
//! there; the job would fail when it starts).

use super::Checker;
use crate::model::{Container, Workflow};

/// `options:` flags that take a value.
pub(super) const VALUE_FLAGS: &[&str] = &[
    "-e",
    "--env",
    "-u",
    "--user",
    "-w",
    "--workdir",
    "-h",
    "--hostname",
    "--entrypoint",
    "-v",
    "--volume",
    "-p",
    "--publish",
    "-l",
    "--label",
    "--network-alias",
    "--cap-add",
    "--cap-drop",
    "--add-host",
    "--security-opt",
    "-m",
    "--memory",
    "--shm-size",
    "--cpus",
    "--tmpfs",
    "--health-cmd",
    "--health-interval",
    "--health-timeout",
    "--health-start-period",
    "--health-retries",
];

/// `options:` flags that take no value.
pub(super) const SWITCH_FLAGS: &[&str] = &["--privileged", "--init", "--no-healthcheck"];

pub(super) fn check(checker: &mut Checker, workflow: &Workflow) {
    for job in workflow.jobs.values() {
        let id = &job.id.value;
        if let Some(container) = &job.container {
            check_container(checker, container, &format!("`jobs.{id}.container`"));
        }
        for (key, service) in &job.services {
            check_container(checker, service, &format!("`jobs.{id}.services.{key}`"));
        }
    }
}

fn check_container(checker: &mut Checker, container: &Container, place: &str) {
    let Some(options) = &container.options else {
        return;
    };
    if options.value.contains("${{") {
        return;
    }
    let Ok(words) = split_words(&options.value) else {
        checker.error(
            options.span,
            format!("`options` of {place} has an unclosed quote"),
        );
        return;
    };
    let mut words = words.into_iter();
    while let Some(word) = words.next() {
        let flag = match word.split_once('=') {
            Some((flag, _)) if flag.starts_with("--") => flag.to_string(),
            _ => word.clone(),
        };
        if SWITCH_FLAGS.contains(&flag.as_str()) {
            continue;
        }
        if VALUE_FLAGS.contains(&flag.as_str()) {
            if flag == word && words.next().is_none() {
                checker.warning(
                    options.span,
                    format!("`{flag}` in `options` of {place} needs a value"),
                );
            }
            continue;
        }
        checker.warning(
            options.span,
            format!(
                "`options` of {place}: `{word}` is not a supported `docker create` option (supported: {}, {})",
                VALUE_FLAGS
                    .iter()
                    .filter(|flag| flag.starts_with("--"))
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", "),
                SWITCH_FLAGS.join(", ")
            ),
        );
        return;
    }
}

/// Splits `text` into words the way a POSIX shell would for plain words and quotes (no
/// expansion): `--health-cmd "pg_isready -U x"` is two words.
pub fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unclosed single quote".to_string()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("unclosed double quote".to_string()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unclosed double quote".to_string()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    word.push(c);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use crate::parse::parse_workflow;

    fn errors(yaml: &str) -> Vec<String> {
        parse_workflow("w.yml", yaml)
            .diagnostics
            .iter()
            .map(|d| d.to_string())
            .collect()
    }

    #[test]
    fn unknown_container_options_are_named_with_their_place() {
        let ok = "on: push\njobs:\n  a:\n    runs-on: x\n    container:\n      image: busybox\n      options: --health-cmd \"pg_isready -U x\" --cpus=1 --init\n    steps:\n      - run: echo\n";
        assert!(errors(ok).is_empty(), "{:?}", errors(ok));
        let bad = "on: push\njobs:\n  a:\n    runs-on: x\n    services:\n      db:\n        image: busybox\n        options: --rm\n    steps:\n      - run: echo\n";
        let found = errors(bad);
        assert!(
            found.iter().any(|e| e.contains("w.yml:8:18")
                && e.contains("`--rm` is not a supported `docker create` option")
                && e.contains("jobs.a.services.db")),
            "{found:?}"
        );
        let missing = "on: push\njobs:\n  a:\n    runs-on: x\n    container:\n      image: busybox\n      options: --user\n    steps:\n      - run: echo\n";
        assert!(
            errors(missing)
                .iter()
                .any(|e| e.contains("`--user` in `options`")),
            "{:?}",
            errors(missing)
        );
    }
}
