//! The `slipway` binary: arguments → library call → documented exit code (see `exit.rs`).

mod called;
mod check;
mod check_actions;
mod cli_style;
mod client;
mod completions;
mod config;
mod dispatch_cmd;
mod exit;
mod expr;
mod local;
mod local_actions;
mod local_tree;
mod pipe;
mod plan;
mod progress;
mod render;
mod runner_cmd;
mod serve;
mod style;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "slipway", version, about = "A CI/CD engine that runs GitHub Actions workflows on your machines", after_help = exit::HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Show times in the local time zone (with its offset) instead of UTC
    #[arg(long, global = true)]
    local: bool,
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
        /// The engine's URL: also warn about `runs-on` labels none of its runners carries
        #[arg(long, env = "SLIPWAY_ENGINE", value_name = "URL")]
        engine: Option<String>,
        /// The engine's data dir: its action mirrors say which remote actions run, and what
        /// inputs they take
        #[arg(long = "data", alias = "data-dir", env = "SLIPWAY_DATA", value_name = "DIR", default_value = config::DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
    },
    /// Evaluate a `${{ }}` expression and print the result as JSON
    #[command(after_help = exit::HELP)]
    Expr {
        /// The expression, with or without `${{ }}`
        expression: String,
        /// A JSON file holding an object of contexts: {"github": {...}, "matrix": {...}}
        #[arg(long, value_name = "FILE")]
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
        #[arg(long, value_name = "FILE")]
        event_file: Option<PathBuf>,
        /// Run only this workflow (even if its `on:` filters would not start it): a file name
        /// under .github/workflows (`ci.yml`) or a path
        #[arg(long, short = 'W', value_name = "FILE")]
        workflow: Option<PathBuf>,
        /// Run exactly the commit at HEAD (workflow files too), leaving uncommitted changes out;
        /// without it the working tree runs as it is
        #[arg(long)]
        commit: bool,
        /// Run only this job (and the jobs it needs)
        #[arg(long, value_name = "ID")]
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
        /// A folder of plain action checkouts (`owner/repo@ref` or `owner/repo`), looked at
        /// before the mirrors; repeatable
        #[arg(long = "action-dir", value_name = "DIR")]
        action_dirs: Vec<PathBuf>,
        /// The engine's data dir: its action mirrors (`slipway action mirror`) provide remote
        /// actions
        #[arg(long = "data", alias = "data-dir", env = "SLIPWAY_DATA", value_name = "DIR", default_value = config::DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// How many local runs' work dirs and logs to keep in the cache
        /// ($XDG_CACHE_HOME/slipway/runs); older ones are removed when a run starts
        #[arg(long, value_name = "N", default_value_t = 20)]
        keep_runs: usize,
    },
    /// Show which workflows an event would start, and which filter decided for each
    #[command(after_help = exit::HELP)]
    Plan {
        /// A local checkout (workflows are read at a commit, not from the working tree); a
        /// directory that is no repository is read as it is
        #[arg(short = 'C', long = "directory", default_value = ".")]
        directory: PathBuf,
        /// A repository the engine watches, read from its mirror under --data
        #[arg(long, conflicts_with = "directory", value_name = "NAME")]
        repo: Option<String>,
        /// The engine's data dir: watched repositories' mirrors are read from it (for --repo)
        #[arg(long = "data", alias = "data-dir", env = "SLIPWAY_DATA", value_name = "DIR", default_value = config::DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// The event: push, pull_request, workflow_dispatch, schedule, create, delete, …
        #[arg(long, default_value = "push")]
        event: String,
        /// The activity type (pull_request: opened, synchronize, …)
        #[arg(long, value_name = "TYPE")]
        action: Option<String>,
        /// The ref: `main` (a branch), `v1` (a tag, if one exists) or a full `refs/…` name
        #[arg(long = "ref", value_name = "REF")]
        git_ref: Option<String>,
        /// The commit before the push (all zeros: the ref was created)
        #[arg(long, value_name = "SHA")]
        before: Option<String>,
        /// The commit pushed; workflows are read from it (default: the ref's tip, else HEAD)
        #[arg(long, value_name = "SHA")]
        after: Option<String>,
        /// The changed files, instead of a diff
        #[arg(long, num_args = 1.., value_name = "PATH")]
        paths: Option<Vec<String>>,
        /// pull_request: the base branch (default: the repository's default branch)
        #[arg(long)]
        base: Option<String>,
        /// pull_request: the head commit or branch (default: refs/pull/N/head of --ref)
        #[arg(long)]
        head: Option<String>,
        /// Print the decisions as JSON
        #[arg(long)]
        json: bool,
    },
    /// Run the engine: API, orchestrator and N embedded runner processes (data in ./.slipway)
    Serve {
        /// The engine's data dir: store, logs, admin.token, runner configs
        #[arg(long = "data", alias = "data-dir", env = "SLIPWAY_DATA", value_name = "DIR", default_value = config::DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// Where the store's database is: `sled` (default, under the data dir), `sled:DIR`
        /// (sled, and DIR is the data dir) or `postgres://USER@HOST:PORT/DATABASE`; log files stay
        /// under the data dir either way
        #[arg(long, env = "SLIPWAY_STORE", value_name = "STORE")]
        store: Option<String>,
        /// The address the API and web UI listen on
        #[arg(long, default_value = "127.0.0.1:7766", value_name = "ADDR")]
        listen: SocketAddr,
        /// Embedded runner processes to start and supervise
        #[arg(long, default_value_t = 2)]
        runners: usize,
        /// A repository to watch; its `push` workflows run at HEAD on start
        #[arg(long = "repo", value_name = "PATH")]
        repos: Vec<PathBuf>,
        /// How long a job's lease lives without a heartbeat, in seconds
        #[arg(long, default_value_t = 30, value_name = "SECONDS")]
        lease_seconds: u64,
        /// Create <data>/demo-repo from the example workflows (once) and run them
        #[arg(long)]
        demo: bool,
        /// POST a JSON body to this URL when a run completes
        #[arg(long, value_name = "URL")]
        notify_url: Option<String>,
        /// The address people reach the web UI at, for the links in commit statuses (default:
        /// the listen address)
        #[arg(long)]
        public_url: Option<String>,
        /// Read deployment time (wait timers, freeze windows) from this file (an RFC 3339
        /// instant) while it exists: for drills and tests
        #[arg(long, hide = true)]
        clock_file: Option<PathBuf>,
        /// Cap on one job's stored log in bytes (default 1 GiB); past it the job's output is
        /// dropped with a notice in the log, and the job goes on
        #[arg(long, default_value_t = engine::store::DEFAULT_LOG_LIMIT, value_name = "BYTES")]
        max_log_bytes: u64,
        /// Fail a queued job that no registered runner can take (its `runs-on` labels) after
        /// this long, with the reason recorded (`90s`, `30m`, `24h`, `2d`)
        #[arg(long, default_value = "24h", value_parser = serve::parse_duration, value_name = "DURATION")]
        no_runner_timeout: std::time::Duration,
        /// Remove finished runs (their jobs, logs, artifacts and work dirs) older than this
        /// (`30d`, `12h`), checked every hour; running runs are never removed. Default: keep all
        #[arg(long, value_parser = serve::parse_duration, value_name = "DURATION")]
        retain: Option<std::time::Duration>,
        /// Refuse an artifact (upload-artifact, built in or v4) larger than this many bytes;
        /// at most 10 GiB
        #[arg(long, default_value_t = engine::artifacts::MAX_ARTIFACT_BYTES, value_name = "BYTES", env = "SLIPWAY_MAX_ARTIFACT_BYTES")]
        max_artifact_bytes: u64,
    },
    /// Run jobs for an engine (`runner register` first)
    #[command(args_conflicts_with_subcommands = true)]
    Runner {
        #[command(subcommand)]
        register: Option<RunnerCommand>,
        /// The engine's URL, or its replicas' URLs separated by commas (the runner moves to the
        /// next when one is down) [default: the one in --config]
        #[arg(long, value_name = "URL")]
        engine: Option<String>,
        /// Labels (comma-separated); default self-hosted,linux,x64,ubuntu-latest
        #[arg(long, value_delimiter = ',', value_name = "LABELS")]
        labels: Option<Vec<String>>,
        /// How many jobs this runner runs at once [default: the one in --config, else 1]
        #[arg(long, value_name = "N")]
        capacity: Option<u32>,
        /// Where jobs' workspaces live [default: beside --config]
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
        /// The runner's credential file (`runner register` writes it)
        #[arg(long, default_value = ".slipway/runner.toml", value_name = "FILE")]
        config: PathBuf,
        /// Run one job, then exit
        #[arg(long)]
        once: bool,
        /// Where checkouts come from: `auto` (the repository when this machine can open it,
        /// else the engine) or `engine` (always the engine, for runners on other machines)
        #[arg(long, value_parser = ["auto", "engine"], env = "SLIPWAY_CHECKOUT")]
        checkout: Option<String>,
        /// Give `run:` steps the env actions get for the engine's cache service
        /// (ACTIONS_RUNTIME_TOKEN, ACTIONS_CACHE_URL, …), for tools that call it themselves
        #[arg(long, env = "SLIPWAY_TOOLKIT_ENV_IN_RUN_STEPS", value_parser = clap::builder::BoolishValueParser::new())]
        toolkit_env_in_run_steps: bool,
        /// Internal: the step guard a runner starts beside itself (see `runner_cmd`)
        #[arg(long, hide = true)]
        guard_steps_of: Option<PathBuf>,
    },
    /// Runners of the engine (`runners token`: a one-time registration token)
    #[command(after_help = exit::HELP)]
    Runners {
        #[command(subcommand)]
        command: Option<RunnersCommand>,
        /// Print the list as JSON
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: client::EngineArgs,
    },
    /// Start a workflow on the engine (read at the commit of --ref)
    #[command(after_help = exit::HELP)]
    Dispatch {
        /// The workflow file name under .github/workflows
        workflow: String,
        /// The branch, tag or commit whose workflow runs
        #[arg(long = "ref", default_value = "HEAD", value_name = "REF")]
        git_ref: String,
        /// A watched repository: its name (`slipway repo list`) or a path that names it
        #[arg(long, default_value = ".")]
        repo: String,
        /// A workflow_dispatch input
        #[arg(long = "input", value_name = "KEY=VALUE", value_parser = local::parse_pair)]
        inputs: Vec<(String, String)>,
        /// Print the engine's answer as JSON
        #[arg(long)]
        json: bool,
        /// Follow the run's logs until it ends and exit by its conclusion (see Exit codes)
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        target: client::EngineArgs,
    },
    /// Re-run a finished run as a new attempt (all jobs, the failed ones, or one job; each with
    /// its dependents)
    #[command(after_help = exit::HELP)]
    Rerun(client::runs::RerunArgs),
    /// List runs on the engine, newest first
    #[command(after_help = exit::HELP)]
    Runs(client::runs::RunsArgs),
    /// Show a run and its jobs (status, runner, attempts, times)
    #[command(after_help = exit::HELP)]
    RunStatus(client::runs::RunStatusArgs),
    /// Print a run's job logs (`-f` follows them live)
    #[command(after_help = exit::HELP)]
    Logs(client::logs::LogsArgs),
    /// List a run's artifacts, or download one (--download NAME [--dir DIR])
    #[command(after_help = exit::HELP)]
    Artifacts(client::artifacts::ArtifactsArgs),
    /// Cancel a run, or one job of it with --job (deployer)
    #[command(after_help = exit::HELP)]
    Cancel(client::runs::CancelArgs),
    /// Deployment environments: create, edit, list, show, rm, status
    #[command(after_help = exit::HELP)]
    Env(client::environments::EnvArgs),
    /// Approver groups: `@NAME` in an environment's `--approvers` means each member
    #[command(after_help = exit::HELP)]
    Group(client::environments::GroupArgs),
    /// Approve a run waiting for an environment, as the token's user (deployer, named an approver)
    #[command(after_help = exit::HELP)]
    Approve(client::environments::DecideArgs),
    /// Reject a run waiting for an environment: its deployment job fails (deployer, an approver)
    #[command(after_help = exit::HELP)]
    Reject(client::environments::DecideArgs),
    /// Put the version live before the current one back into an environment (deployer)
    #[command(after_help = exit::HELP)]
    Rollback(client::environments::RollbackArgs),
    /// Deployment history: what went where, when, by whom, how it ended
    #[command(after_help = exit::HELP)]
    Deployments(client::environments::DeploymentsArgs),
    /// The audit log of approvals, gates, deployments and releases (`--user U`: also every
    /// change U made through the API)
    #[command(after_help = exit::HELP)]
    Audit(client::environments::AuditArgs),
    /// Users and their roles: add, list, rm (admin)
    #[command(after_help = exit::HELP)]
    User(client::users::UserArgs),
    /// API tokens: create (printed once), list, revoke
    #[command(after_help = exit::HELP)]
    Token(client::users::TokenArgs),
    /// Who the engine takes you for (the token's user, role and scope)
    #[command(after_help = exit::HELP)]
    Whoami(client::users::WhoamiArgs),
    /// Repository secrets on the engine (set and rm are admin)
    #[command(after_help = exit::HELP)]
    Secret(client::settings::SecretArgs),
    /// Repository configuration variables on the engine (set and rm are admin)
    #[command(after_help = exit::HELP)]
    Var(client::settings::VarArgs),
    /// Remote actions: sources (`action source add URL|PATH`) and mirrors (`action mirror
    /// owner/repo[@ref]`)
    #[command(after_help = exit::HELP)]
    Action(client::actions::ActionArgs),
    /// The mirrored action repositories: refs, commits, last fetch
    #[command(after_help = exit::HELP)]
    Actions(client::actions::ActionsArgs),
    /// Watched repositories: add, list, remove, hook install, accept
    #[command(after_help = exit::HELP)]
    Repo(client::repos::RepoArgs),
    /// Each schedule of the watched repositories and its next fire time
    #[command(after_help = exit::HELP)]
    Schedules(client::repos::SchedulesArgs),
    /// The runs at a commit and their state
    #[command(after_help = exit::HELP)]
    Status(client::repos::StatusArgs),
    /// Releases: create, promote to an audience, approve, withdraw, delete, show
    #[command(after_help = exit::HELP)]
    Release(client::releases::ReleaseArgs),
    /// List releases and where each is released
    #[command(after_help = exit::HELP)]
    Releases(client::releases::ReleasesArgs),
    /// Remove finished runs older than a time, with their logs, artifacts and work dirs (admin)
    #[command(after_help = exit::HELP)]
    Gc(client::gc::GcArgs),
    /// Copy a stopped engine's sled store into an empty PostgreSQL database (log files stay in
    /// the data dir: serve with `--store postgres://… --data DIR`)
    #[command(after_help = exit::HELP)]
    Migrate {
        /// The sled store to copy: `sled:DIR`, DIR being the engine's data dir
        #[arg(long, value_name = "sled:DIR")]
        from: String,
        /// The empty PostgreSQL database to copy into: `postgres://USER@HOST:PORT/DATABASE`
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Print a shell completion script: `slipway completions bash > ~/.local/share/bash-completion/completions/slipway`
    Completions(completions::CompletionsArgs),
    /// Print the man page (or write one page per command into --dir)
    Man(completions::ManArgs),
}

#[derive(Subcommand)]
enum RunnerCommand {
    /// Trade a one-time registration token for a runner credential (written to --config)
    Register {
        /// The engine's URL, or its replicas' URLs separated by commas: the first that answers
        /// registers the runner, and --config keeps them all
        #[arg(long, value_name = "URL")]
        engine: String,
        /// The one-time registration token (`slipway runners token`)
        #[arg(long, value_name = "TOKEN")]
        token: String,
        /// The runner's name [default: $HOSTNAME, else slipway-runner]
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// Labels (comma-separated); default self-hosted,linux,x64,ubuntu-latest
        #[arg(long, value_delimiter = ',', value_name = "LABELS")]
        labels: Option<Vec<String>>,
        /// How many jobs this runner runs at once
        #[arg(long, default_value_t = 1, value_name = "N")]
        capacity: u32,
        /// The runner's credential file (`runner register` writes it)
        #[arg(long, default_value = ".slipway/runner.toml", value_name = "FILE")]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum RunnersCommand {
    /// Print a one-time runner registration token
    Token,
}

/// The engine `runners token` and `dispatch` talk to (`config::resolve`).
fn engine_target(args: &client::EngineArgs) -> dispatch_cmd::EngineTarget {
    let target = config::resolve(
        args.engine.as_deref(),
        args.token.as_deref(),
        args.data.as_deref(),
    );
    dispatch_cmd::EngineTarget {
        url: target.url,
        token: target.token,
        data_dir: target
            .data_dir
            .unwrap_or_else(|| PathBuf::from(config::DEFAULT_DATA_DIR)),
    }
}

fn main() {
    // `slipway runs | head` closes our stdout early: end quietly, as other command-line tools
    // do (exit 141), instead of reporting a panic from `println!` or running on unheard.
    pipe::end_quietly_when_output_closes();
    // Engine and runner diagnostics go to stderr; `SLIPWAY_LOG=info` (or `debug`, or a filter
    // such as `engine=debug`) says more.
    let filter = tracing_subscriber::EnvFilter::try_from_env("SLIPWAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
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
    style::use_local_time(cli.local);
    let code = match cli.command {
        Command::Check {
            paths,
            json,
            engine,
            data_dir,
        } => check::run(&paths, json, engine.as_deref(), &data_dir),
        Command::Expr {
            expression,
            context,
        } => expr::run(&expression, context.as_deref()),
        Command::Run {
            directory,
            event,
            event_file,
            workflow,
            commit,
            job,
            inputs,
            secrets,
            secret_files,
            vars,
            env,
            matrix,
            json,
            action_dirs,
            data_dir,
            keep_runs,
        } => local::run(local::RunRequest {
            directory,
            event,
            event_file,
            workflow,
            commit,
            keep_runs,
            job,
            inputs,
            secrets,
            secret_files,
            vars,
            env,
            matrix,
            json,
            action_dirs,
            data_dir,
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
            base,
            head,
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
            base,
            head,
            json,
        }),
        Command::Serve {
            data_dir,
            store,
            listen,
            runners,
            repos,
            lease_seconds,
            demo,
            notify_url,
            public_url,
            clock_file,
            max_log_bytes,
            no_runner_timeout,
            retain,
            max_artifact_bytes,
        } => serve::run(serve::ServeRequest {
            data_dir,
            store,
            listen,
            runners,
            repos,
            lease_seconds,
            demo,
            notify_url,
            public_url,
            clock_file,
            max_log_bytes,
            no_runner_timeout,
            retain,
            max_artifact_bytes,
        }),
        Command::Runner {
            register:
                Some(RunnerCommand::Register {
                    engine,
                    token,
                    name,
                    labels,
                    capacity,
                    config,
                }),
            ..
        } => runner_cmd::register(runner_cmd::RegisterRequest {
            engine,
            token,
            name,
            labels,
            capacity,
            config,
        }),
        Command::Runner {
            register: None,
            guard_steps_of: Some(records),
            ..
        } => runner_cmd::guard_steps(&records),
        Command::Runner {
            register: None,
            engine,
            labels,
            capacity,
            work_dir,
            config,
            once,
            checkout,
            toolkit_env_in_run_steps,
            guard_steps_of: None,
        } => runner_cmd::run(runner_cmd::RunnerRequest {
            engine,
            labels,
            capacity,
            work_dir,
            config,
            once,
            checkout_from_engine: checkout.as_deref() == Some("engine"),
            toolkit_env_in_run_steps,
        }),
        Command::Runners {
            command: Some(RunnersCommand::Token),
            target,
            ..
        } => dispatch_cmd::registration_token(&engine_target(&target)),
        Command::Runners {
            command: None,
            json,
            target,
        } => client::runners_list(&target, json),
        Command::Dispatch {
            workflow,
            git_ref,
            repo,
            inputs,
            json,
            wait,
            target,
        } => dispatch_cmd::dispatch(
            &engine_target(&target),
            &workflow,
            &git_ref,
            &repo,
            &inputs,
            json,
            wait,
        ),
        Command::Rerun(args) => client::runs::rerun(&args),
        Command::Runs(args) => client::runs::runs(&args),
        Command::RunStatus(args) => client::runs::run_status(&args),
        Command::Logs(args) => client::logs::logs(&args),
        Command::Artifacts(args) => client::artifacts::artifacts(&args),
        Command::Cancel(args) => client::runs::cancel(&args),
        Command::Env(args) => client::environments::env(&args),
        Command::Group(args) => client::environments::group(&args),
        Command::Approve(args) => client::environments::approve(&args),
        Command::Reject(args) => client::environments::reject(&args),
        Command::Rollback(args) => client::environments::rollback(&args),
        Command::Deployments(args) => client::environments::deployments(&args),
        Command::Audit(args) => client::environments::audit(&args),
        Command::User(args) => client::users::user(&args),
        Command::Token(args) => client::users::token(&args),
        Command::Whoami(args) => client::users::whoami(&args),
        Command::Secret(args) => client::settings::secret(&args),
        Command::Var(args) => client::settings::var(&args),
        Command::Action(args) => client::actions::action(&args),
        Command::Actions(args) => client::actions::actions(&args),
        Command::Repo(args) => client::repos::repo(&args),
        Command::Schedules(args) => client::repos::schedules(&args),
        Command::Status(args) => client::repos::status(&args),
        Command::Release(args) => client::releases::release(&args),
        Command::Releases(args) => client::releases::releases(&args),
        Command::Gc(args) => client::gc::gc(&args),
        Command::Migrate { from, to } => serve::migrate(&from, &to),
        Command::Completions(args) => completions::completions::<Cli>(&args),
        Command::Man(args) => completions::man::<Cli>(&args),
    };
    std::process::exit(code);
}
