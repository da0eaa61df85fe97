//! `slipway completions SHELL` and `slipway man`: shell completion scripts and man pages, made
//! from the same clap definition the binary parses its arguments with, so they never drift.
//!
//! This file only renders the command tree; it knows no command's meaning.

use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::exit;

/// `slipway completions SHELL`.
#[derive(Debug, clap::Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to print a completion script for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `slipway man [--dir DIR]`.
#[derive(Debug, clap::Args)]
pub(crate) struct ManArgs {
    /// Write `slipway.1` and one `slipway-COMMAND.1` per command into this folder instead of
    /// printing the main page
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Prints the completion script of `shell` for the whole command tree.
pub(crate) fn completions<C: CommandFactory>(args: &CompletionsArgs) -> i32 {
    let mut command = C::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "slipway", &mut script);
    print(&script)
}

/// Prints the man page, or writes every page into `--dir`.
pub(crate) fn man<C: CommandFactory>(args: &ManArgs) -> i32 {
    let command = C::command();
    let Some(dir) = &args.dir else {
        let mut page = Vec::new();
        if let Err(error) = clap_mangen::Man::new(command).render(&mut page) {
            eprintln!("error: failed to render the man page: {error}");
            return exit::FAILURE;
        }
        return print(&page);
    };
    match write_pages(command, dir) {
        Ok(pages) => {
            eprintln!("wrote {pages} man pages into {}", dir.display());
            exit::SUCCESS
        }
        Err(message) => {
            eprintln!("error: failed to {message}");
            exit::FAILURE
        }
    }
}

/// Writes `text` to stdout; a reader that closed the pipe early (`| head`) ends it quietly.
fn print(text: &[u8]) -> i32 {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text).and_then(|()| out.flush()) {
        Ok(()) => exit::SUCCESS,
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => exit::SUCCESS,
        Err(error) => {
            eprintln!("error: failed to write to stdout: {error}");
            exit::FAILURE
        }
    }
}

/// Writes `slipway.1` and a page per subcommand (nested ones as `slipway-env-create.1`);
/// returns how many pages the folder holds.
fn write_pages(command: clap::Command, dir: &Path) -> Result<usize, String> {
    std::fs::create_dir_all(dir).map_err(|error| format!("create {}: {error}", dir.display()))?;
    clap_mangen::generate_to(command, dir)
        .map_err(|error| format!("write the man pages into {}: {error}", dir.display()))?;
    let pages = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|entry| entry.file_name().to_string_lossy().ends_with(".1"))
                .count()
        })
        .unwrap_or(0);
    Ok(pages)
}
