//! The `slipway` binary: arguments → library call → documented exit code (see `exit.rs`).

mod check;
mod client;
mod exit;
mod expr;
mod local;
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
    /// List runs on the engine, newest first
    #[command(after_help = exit::HELP)]
    Runs(client::runs::RunsArgs),
    /// Show a run and its jobs (status, runner, attempts, times)
    #[command(after_help = exit::HELP)]
    RunStatus(client::runs::RunStatusArgs),
    /// Print a run's job logs (`-f` follows them live)
    #[command(after_help = exit::HELP)]
    Logs(client::logs::LogsArgs),
    /// Cancel a run (admin)
    #[command(after_help = exit::HELP)]
    Cancel(client::runs::CancelArgs),
    /// List the engine's runners (labels, capacity, last seen, current jobs)
    // The orchestrator branch adds `runners token`; on merge keep one `Runners` variant whose
    // list form calls `client::runners_list`.
    #[command(after_help = exit::HELP)]
    Runners {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        engine: client::EngineArgs,
    },
    /// Repository secrets on the engine (set and rm are admin)
    #[command(after_help = exit::HELP)]
    Secret(client::settings::SecretArgs),
    /// Repository configuration variables on the engine (set and rm are admin)
    #[command(after_help = exit::HELP)]
    Var(client::settings::VarArgs),
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
        Command::Runs(args) => client::runs::runs(&args),
        Command::RunStatus(args) => client::runs::run_status(&args),
        Command::Logs(args) => client::logs::logs(&args),
        Command::Cancel(args) => client::runs::cancel(&args),
        Command::Runners { json, engine } => client::runners_list(&engine, json),
        Command::Secret(args) => client::settings::secret(&args),
        Command::Var(args) => client::settings::var(&args),
    };
    std::process::exit(code);
}
