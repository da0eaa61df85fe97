//! One flag vocabulary, held by a test: every subcommand and flag of `slipway` has help text,
//! the flags every engine-talking command shares (`--engine`, `--token`, `--data`) are spelled,
//! named and described the same way everywhere, old spellings are hidden aliases only, and the
//! exit-code block is shown only where those codes mean something.
//!
//! Test-only: it walks the clap `Command` tree the binary parses with.

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// The shared flags: long name → (value name, how its help text begins).
    const SHARED: &[(&str, &str, &str)] = &[
        ("engine", "URL", "The engine's URL"),
        ("token", "TOKEN", "Your API token"),
        ("data", "DIR", "The engine's data dir"),
    ];

    /// Where a shared flag's name means something else, and why.
    const EXCEPTIONS: &[(&str, &str)] = &[
        // A one-time registration token: the runner never holds the admin token.
        ("slipway runner register", "token"),
    ];

    /// Spellings that must never be a visible flag (they may stay as hidden aliases).
    const RETIRED: &[&str] = &["data-dir", "engine-token", "engine-url", "token-file"];

    /// Commands whose exit codes are not the table's (they run until stopped, or only print).
    const NO_EXIT_TABLE: &[&str] = &["serve", "runner", "completions", "man"];

    fn walk(command: &clap::Command, path: &str, visit: &mut dyn FnMut(&str, &clap::Command)) {
        visit(path, command);
        for sub in command.get_subcommands() {
            if sub.is_hide_set() || sub.get_name() == "help" {
                continue;
            }
            walk(sub, &format!("{path} {}", sub.get_name()), visit);
        }
    }

    fn tree() -> clap::Command {
        let mut command = crate::Cli::command();
        command.build();
        command
    }

    fn help_of(arg: &clap::Arg) -> String {
        arg.get_help().map(ToString::to_string).unwrap_or_default()
    }

    #[test]
    fn every_command_and_flag_has_help_text() {
        let mut missing = Vec::new();
        walk(&tree(), "slipway", &mut |path, command| {
            if path != "slipway" && command.get_about().is_none() {
                missing.push(format!("`{path}` has no about text"));
            }
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if arg.is_hide_set() || id == "help" || id == "version" {
                    continue;
                }
                if help_of(arg).trim().is_empty() {
                    missing.push(format!("`{path}` argument `{id}` has no help text"));
                }
            }
        });
        assert!(missing.is_empty(), "{}", missing.join("\n"));
    }

    #[test]
    fn shared_flags_are_spelled_and_described_the_same_everywhere() {
        let mut wrong = Vec::new();
        walk(&tree(), "slipway", &mut |path, command| {
            for arg in command.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                if arg.is_hide_set() {
                    continue;
                }
                if RETIRED.contains(&long) {
                    wrong.push(format!("`{path}` shows the retired spelling --{long}"));
                }
                if long == "json" && !help_of(arg).contains("JSON") {
                    wrong.push(format!("`{path} --json` does not say JSON in its help"));
                }
                let Some((_, value, help)) = SHARED.iter().find(|(name, ..)| *name == long) else {
                    continue;
                };
                if EXCEPTIONS.contains(&(path, long)) {
                    continue;
                }
                let names: Vec<String> = arg
                    .get_value_names()
                    .unwrap_or_default()
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                if names != [value.to_string()] {
                    wrong.push(format!("`{path} --{long}` takes {names:?}, not {value}"));
                }
                if !help_of(arg).starts_with(help) {
                    wrong.push(format!(
                        "`{path} --{long}` is described as {:?}, not starting {help:?}",
                        help_of(arg)
                    ));
                }
            }
        });
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn the_exit_code_block_is_only_where_it_applies() {
        let command = tree();
        for sub in command.get_subcommands() {
            let has_table = sub
                .get_after_help()
                .is_some_and(|text| text.to_string().contains("Exit codes"));
            if NO_EXIT_TABLE.contains(&sub.get_name()) {
                assert!(
                    !has_table,
                    "`slipway {}` shows the exit codes",
                    sub.get_name()
                );
            } else if sub.get_name() != "help" {
                assert!(
                    has_table,
                    "`slipway {}` lacks the exit codes",
                    sub.get_name()
                );
            }
        }
    }
}
