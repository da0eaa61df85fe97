//! The `slipway` binary: arguments → library call → documented exit code (see `exit.rs`).

mod check;
mod exit;
mod expr;
mod local;
mod plan;
mod progress;
mod render;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "slipway", version, about = "A CI/CD engine that runs GitHub Actions workflows on your machines", after_help = exit::HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process; boxing the larger variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Validate workflow files (a file, or a repository's .github/workflows)
    #[command(after_help = exit::HELP)]
    Check {
        /// Workflow files or repository directories
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print diagnostics as JSON
        #[arg(long)]
        json: bool,
    },
    /// Evaluate a `${{ }}` expression and print the result as JSON
    #[command(after_help = exit::HELP)]
    Expr {
        /// The expression, with or without `${{ }}`
        expression: String,
        /// A JSON file holding an object of contexts: {"github": {...}, "matrix": {...}}
        #[arg(long)]
        context: Option<PathBuf>,
    },
    /// Run a repository's workflows on this machine, with no server
    #[command(after_help = exit::HELP)]
    Run {
        /// The repository (or directory) to run in
        #[arg(short = 'C', long = "directory", default_value = ".")]
        directory: PathBuf,
        /// The event that starts the workflows
        #[arg(long, default_value = "push")]
        event: String,
        /// A JSON file with the event payload (`github.event`)
        #[arg(long)]
        event_file: Option<PathBuf>,
        /// Run only this workflow file (even if its `on:` filters would not start it)
        #[arg(long, short = 'W')]
        workflow: Option<PathBuf>,
        /// Run only this job (and the jobs it needs)
        #[arg(long)]
        job: Option<String>,
        /// A workflow_dispatch / workflow_call input
        #[arg(long = "input", value_name = "KEY=VALUE", value_parser = local::parse_pair)]
        inputs: Vec<(String, String)>,
        /// A secret, available as `secrets.KEY` and masked in logs
        #[arg(long = "secret", value_name = "KEY=VALUE", value_parser = local::parse_pair)]
        secrets: Vec<(String, String)>,
        /// A dotenv file of secrets (KEY=VALUE lines)
        #[arg(long = "secret-file", value_name = "FILE")]
        secret_files: Vec<PathBuf>,
        /// A configuration variable, available as `vars.KEY`
        #[arg(long = "var", value_name = "KEY=VALUE", value_parser = local::parse_pair)]
        vars: Vec<(String, String)>,
        /// An environment variable added to every step (on top of the inherited environment)
        #[arg(long = "env", value_name = "KEY=VALUE", value_parser = local::parse_pair)]
        env: Vec<(String, String)>,
        /// Run only the matrix legs with this value
        #[arg(long = "matrix", value_name = "KEY=VALUE", value_parser = local::parse_pair)]
        matrix: Vec<(String, String)>,
        /// Print the result as JSON (every job with its result, steps and outputs)
        #[arg(long)]
        json: bool,
    },
    /// Show which workflows an event would start, and which filter decided for each
    #[command(after_help = exit::HELP)]
    Plan {
        /// A local checkout (workflows are read at a commit, not from the working tree); a
        /// directory that is no repository is read as it is
        #[arg(short = 'C', long = "directory", default_value = ".")]
        directory: PathBuf,
        /// A repository the engine watches, read from its mirror under --data-dir
        #[arg(long, conflicts_with = "directory")]
        repo: Option<String>,
        /// The engine's data directory (for --repo)
        #[arg(long, env = "SLIPWAY_DATA_DIR", default_value = ".slipway")]
        data_dir: PathBuf,
        /// The event: push, pull_request, workflow_dispatch, schedule, create, delete, …
        #[arg(long, default_value = "push")]
        event: String,
        /// The activity type (pull_request: opened, synchronize, …)
        #[arg(long)]
        action: Option<String>,
        /// The ref: `main` (a branch), `v1` (a tag, if one exists) or a full `refs/…` name
        #[arg(long = "ref")]
        git_ref: Option<String>,
        /// The commit before the push (all zeros: the ref was created)
        #[arg(long)]
        before: Option<String>,
        /// The commit pushed; workflows are read from it (default: the ref's tip, else HEAD)
        #[arg(long)]
        after: Option<String>,
        /// The changed files, instead of a diff
        #[arg(long, num_args = 1..)]
        paths: Option<Vec<String>>,
        /// Print the decisions as JSON
        #[arg(long)]
        json: bool,
    },
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            std::process::exit(if err.use_stderr() {
                exit::USAGE
            } else {
                exit::SUCCESS
            });
        }
    };
    let code = match cli.command {
        Command::Check { paths, json } => check::run(&paths, json),
        Command::Expr {
            expression,
            context,
        } => expr::run(&expression, context.as_deref()),
        Command::Run {
            directory,
            event,
            event_file,
            workflow,
            job,
            inputs,
            secrets,
            secret_files,
            vars,
            env,
            matrix,
            json,
        } => local::run(local::RunRequest {
            directory,
            event,
            event_file,
            workflow,
            job,
            inputs,
            secrets,
            secret_files,
            vars,
            env,
            matrix,
            json,
        }),
        Command::Plan {
            directory,
            repo,
            data_dir,
            event,
            action,
            git_ref,
            before,
            after,
            paths,
            json,
        } => plan::run(plan::PlanRequest {
            directory,
            repo,
            data_dir,
            event,
            action,
            git_ref,
            before,
            after,
            paths,
            json,
        }),
    };
    std::process::exit(code);
}
