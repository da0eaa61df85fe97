//! The `slipway` binary: arguments → library call → documented exit code (see `exit.rs`).

mod check;
mod exit;
mod expr;
mod render;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "slipway", version, about = "A CI/CD engine that runs GitHub Actions workflows on your machines", after_help = exit::HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

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
    };
    std::process::exit(code);
}
