//! End to end through the binary: several `slipway serve` replicas on one PostgreSQL database
//! (a private cluster of this test binary, see `engine/tests/it/pg_cluster.rs`) and one data
//! directory, each on its own port, with no embedded runners (`--runners 0`):
//!
//! - three replicas and two standalone runners given every replica's URL
//!   (`slipway runner --engine URL1,URL2,URL3`) run a 50-job DAG while two of the replicas are
//!   killed (`kill -9`) one after the other: the one driving runs (it says so on stderr), then
//!   the one that took over from it, which must happen within 5 s; the run succeeds, every job
//!   ran once, and `slipway logs RUN` at the survivor shows every numbered line of every job;
//! - the database goes away for 10 s under two replicas: an API call fails at once with 503
//!   naming the database (and the CLI says so too), `/healthz` says so, and once the database is
//!   back a new run completes without restarting anything;
//! - a cron schedule watched by three replicas fires once per firing, not once per replica.
//!
//! Every replica is given the same `--data` path; its stdout and stderr go to files of its own
//! (`data.replica-N.stdout.1`).
//!
//! Skipped loudly when PostgreSQL cannot be started, failed under `CI=true`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::pg_cluster;
use crate::support::engine::{BIN, Process, TestEngine};
use crate::support::{SERIAL, job, lines, repo_with, user_env};

/// A replica's lease period: long enough that a job whose runner is busy failing over to
/// another replica keeps its lease (a re-queued job would run twice).
const LEASE_SECONDS: u32 = 10;

/// `n` replicas of `slipway serve --store url --runners 0` on the data dir `temp/data`, started
/// one after the other (the first creates the schema and the admin token).
async fn replicas(temp: &Path, url: &str, n: usize) -> Vec<TestEngine> {
    let data = temp.join("data");
    let mut replicas = Vec::new();
    for index in 0..n {
        let replica = TestEngine::builder(&data)
            .output_name(&format!("replica-{}", index + 1))
            .runners(0)
            .lease_seconds(LEASE_SECONDS)
            .arg("--store")
            .arg(url)
            .start()
            .await;
        replica.wait_output("store: postgres://").await;
        replicas.push(replica);
    }
    replicas
}

/// Every replica's URL, comma-separated: what runners and the CLI are given to fail over.
fn all_urls(replicas: &[TestEngine]) -> String {
    replicas
        .iter()
        .map(|replica| replica.url.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// A standalone runner in `dir`: registered at `registrar` with a fresh one-time token, then
/// started as `slipway runner --engine ENGINES` (one URL, or several comma-separated). Its
/// stdout and stderr go to `dir/runner.out` and `dir/runner.err`.
async fn standalone_runner(registrar: &TestEngine, engines: &str, dir: &Path) -> Process {
    std::fs::create_dir_all(dir).expect("runner dir");
    let (status, answer) = registrar
        .post_admin(
            "/api/v1/admin/registration-tokens",
            json!({"protocol_version": protocol::PROTOCOL_VERSION}),
        )
        .await;
    assert_eq!(status, 200, "token answered {answer}");
    let token = answer["token"].as_str().expect("token");
    let config = dir.join("runner.toml");
    let registered = Command::new(BIN)
        .envs(user_env())
        .args(["runner", "register", "--engine", &registrar.url])
        .args(["--token", token])
        .arg("--config")
        .arg(&config)
        .output()
        .expect("run slipway runner register");
    assert!(registered.status.success(), "{}", text(&registered));
    let child = Command::new(BIN)
        .envs(user_env())
        .args(["runner", "--engine", engines])
        .arg("--config")
        .arg(&config)
        .arg("--work-dir")
        .arg(dir.join("work"))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("runner.out")).expect("runner stdout"))
        .stderr(std::fs::File::create(dir.join("runner.err")).expect("runner stderr"))
        .spawn()
        .expect("start slipway runner");
    Process(child)
}

/// Waits (bounded) until every runner of `dirs` has called the engine (its `last_seen_at_us`,
/// as `replica` lists runners): a runner that cannot use its `--engine` fails here, with what
/// it said.
async fn wait_runners_seen(replica: &TestEngine, dirs: &[PathBuf]) {
    let ids: Vec<String> = dirs
        .iter()
        .map(|dir| {
            let config = std::fs::read_to_string(dir.join("runner.toml")).expect("runner config");
            config
                .lines()
                .find_map(|line| line.strip_prefix("runner_id = "))
                .expect("runner_id in the config")
                .trim_matches('"')
                .to_string()
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let runners = replica.get("/api/v1/runners").await;
        let listed = runners
            .as_array()
            .or_else(|| runners["runners"].as_array())
            .cloned()
            .unwrap_or_default();
        let seen = ids.iter().all(|id| {
            listed.iter().any(|runner| {
                runner["runner_id"] == id.as_str() && runner["last_seen_at_us"].is_u64()
            })
        });
        if seen {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the runners never called the engine: {runners:#}\n{}",
            runner_errors(dirs)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How soon after the driving replica is killed another must say it drives runs: the lead's
/// "within ~2 s", with room for a loaded 2-core machine.
const TAKE_OVER: Duration = Duration::from_secs(5);

/// Whether any replica ever said (on stderr) that it drives runs: engines that say nothing
/// about it are killed in order instead.
fn said_drives(replicas: &[TestEngine]) -> bool {
    replicas
        .iter()
        .any(|replica| replica.errors().contains("now drives runs"))
}

/// The replica among `alive` that drives runs now: the last of its stderr lines about driving
/// says it does.
fn driver(replicas: &[TestEngine], alive: &[usize]) -> Option<usize> {
    alive.iter().copied().find(|index| {
        replicas[*index]
            .errors()
            .lines()
            .rev()
            .find(|line| line.contains("drives runs"))
            .is_some_and(|line| line.contains("now drives runs"))
    })
}

/// Waits (bounded) until `marks` has `count` lines; a timeout shows the run at `replica` and
/// what the replicas and runners said.
async fn wait_marks(
    replicas: &[TestEngine],
    replica: usize,
    run_id: &str,
    marks: &Path,
    runner_dirs: &[PathBuf],
    count: usize,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while lines(marks).len() < count {
        if Instant::now() >= deadline {
            let run = replicas[replica]
                .get(&format!("/api/v1/runs/{run_id}"))
                .await;
            let states: Vec<String> = run["jobs"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|job| format!("{} {}", job["job_key"], job["status"]))
                .collect();
            panic!(
                "timed out waiting for {count} jobs to start: {} started\nrun: {} {:?}\n{}\n{}",
                lines(marks).len(),
                run["run"]["status"],
                states,
                replica_errors(replicas),
                runner_errors(runner_dirs)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What the runners in `dirs` wrote to stderr, for failure messages.
fn runner_errors(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|dir| {
            let errors = std::fs::read_to_string(dir.join("runner.err")).unwrap_or_default();
            let tail: Vec<&str> = errors.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            format!("--- runner {}:\n{}", dir.display(), tail.join("\n"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What every replica wrote to stderr since its latest start, for failure messages: each
/// distinct message once (without its time stamp), with how often it came, the last 30.
fn replica_errors(replicas: &[TestEngine]) -> String {
    replicas
        .iter()
        .enumerate()
        .map(|(index, replica)| {
            let errors = replica.errors();
            let mut seen: Vec<(String, usize)> = Vec::new();
            for line in errors.lines() {
                let message = line
                    .split_once(' ')
                    .filter(|(stamp, _)| stamp.ends_with('Z'))
                    .map_or(line, |(_, rest)| rest);
                match seen.iter_mut().find(|(known, _)| known == message) {
                    Some((_, count)) => *count += 1,
                    None => seen.push((message.to_string(), 1)),
                }
            }
            let start = seen.len().saturating_sub(30);
            let tail: Vec<String> = seen[start..]
                .iter()
                .map(|(message, count)| match count {
                    1 => message.clone(),
                    _ => format!("{message} (x{count})"),
                })
                .collect();
            format!(
                "--- replica {} ({}):\n{}",
                index + 1,
                replica.url,
                tail.join("\n")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Whether an error message says the database is what failed (in words, or by its URL).
fn names_the_database(message: &str) -> bool {
    let message = message.to_lowercase();
    message.contains("database") || message.contains("postgres://")
}

/// Runs `command`, killing it when it has not ended within `limit`: its output (`None` when it
/// was killed) and how long it took.
fn output_within(mut command: Command, limit: Duration) -> (Option<Output>, Duration) {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start slipway");
    while started.elapsed() < limit {
        if matches!(child.try_wait(), Ok(Some(_))) {
            let output = child.wait_with_output().expect("read its output");
            return (Some(output), started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    (None, started.elapsed())
}

/// The shell of one job: appends `name` to `marks` as it starts, prints `name line 1` to
/// `name line 4` with `sleep` (a shell word: seconds) between lines 3 and 4.
fn step(name: &str, sleep: &str, marks: &Path) -> String {
    format!(
        "echo \"{name}\" >> \"{marks}\"; for i in 1 2 3; do echo \"{name} line $i\"; done; sleep {sleep}; echo \"{name} line 4\"",
        marks = marks.display()
    )
}

/// The layers of the 50-job DAG: `start → fan1 (16 legs) → join1 → fan2 (16) → join2 →
/// fan3 (14) → end`; (job, matrix legs, 0 for a plain job).
const LAYERS: &[(&str, u32)] = &[
    ("start", 0),
    ("fan1", 16),
    ("join1", 0),
    ("fan2", 16),
    ("join2", 0),
    ("fan3", 14),
    ("end", 0),
];

/// The 50-job workflow: every job marks `marks` once per start and logs four numbered lines;
/// the odd matrix legs sleep 1 s (so the run lasts well over 10 s on two runners).
fn fifty_job_workflow(marks: &Path) -> String {
    let mut workflow = String::from("on: workflow_dispatch\njobs:\n");
    let mut previous: Option<&str> = None;
    for (name, legs) in LAYERS {
        workflow.push_str(&format!("  {name}:\n    runs-on: ubuntu-latest\n"));
        if let Some(previous) = previous {
            workflow.push_str(&format!("    needs: {previous}\n"));
        }
        let script = if *legs == 0 {
            step(name, "0", marks)
        } else {
            let list: Vec<String> = (1..=*legs).map(|leg| leg.to_string()).collect();
            workflow.push_str(&format!(
                "    strategy:\n      matrix:\n        leg: [{}]\n",
                list.join(", ")
            ));
            step(
                &format!("{name}-${{{{ matrix.leg }}}}"),
                "$(( ${{ matrix.leg }} % 2 ))",
                marks,
            )
        };
        workflow.push_str(&format!("    steps:\n      - run: '{script}'\n"));
        previous = Some(name);
    }
    workflow
}

/// Every job of the 50-job workflow: (job key as the API shows it, the name its step marks and
/// logs with).
fn fifty_jobs() -> Vec<(String, String)> {
    let mut jobs = Vec::new();
    for (name, legs) in LAYERS {
        if *legs == 0 {
            jobs.push((name.to_string(), name.to_string()));
        } else {
            for leg in 1..=*legs {
                jobs.push((format!("{name} ({leg})"), format!("{name}-{leg}")));
            }
        }
    }
    jobs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_jobs_run_once_each_while_two_of_three_replicas_are_killed() {
    let _serial = SERIAL.lock().await;
    let test = "fifty_jobs_run_once_each_while_two_of_three_replicas_are_killed";
    let Some(cluster) = pg_cluster::cluster(test) else {
        return;
    };
    let url = cluster.new_database("replicas");
    let temp = tempfile::tempdir().unwrap();
    let marks = temp.path().join("marks");
    let repo = repo_with(temp.path(), &[("fifty.yml", &fifty_job_workflow(&marks))]);
    let jobs = fifty_jobs();
    assert_eq!(jobs.len(), 50);

    let mut replicas = replicas(temp.path(), &url, 3).await;
    let urls = all_urls(&replicas);
    let runner_dirs = [temp.path().join("runner-1"), temp.path().join("runner-2")];
    let mut runners = Vec::new();
    for dir in &runner_dirs {
        runners.push(standalone_runner(&replicas[0], &urls, dir).await);
    }
    wait_runners_seen(&replicas[0], &runner_dirs).await;

    // The replica driving runs is killed first, then the one that took over from it; the third
    // sees the run through. (When no replica says it drives runs, the first and the second.)
    let run_id = replicas[0].dispatch(&repo, "fifty.yml").await;
    let mut alive: Vec<usize> = (0..replicas.len()).collect();
    for (kill, marked) in [(1, 12), (2, 30)] {
        wait_marks(&replicas, alive[0], &run_id, &marks, &runner_dirs, marked).await;
        let victim = driver(&replicas, &alive).unwrap_or(alive[0]);
        replicas[victim].kill_engine();
        alive.retain(|index| *index != victim);
        let killed = Instant::now();
        if said_drives(&replicas) {
            let deadline = killed + TAKE_OVER;
            while driver(&replicas, &alive).is_none() {
                assert!(
                    Instant::now() < deadline,
                    "no replica took over driving runs within {TAKE_OVER:?} of kill {kill} \
                     (replica {} killed)\n{}",
                    victim + 1,
                    replica_errors(&replicas)
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            eprintln!(
                "kill {kill}: replica {} (driving) killed at {marked} jobs started; replica {} \
                 took over in {:?}",
                victim + 1,
                driver(&replicas, &alive).map_or(0, |index| index + 1),
                killed.elapsed()
            );
        }
    }
    let survivor = alive[0];
    let deadline = Instant::now() + Duration::from_secs(75);
    let run = loop {
        let run = replicas[survivor]
            .get(&format!("/api/v1/runs/{run_id}"))
            .await;
        if run["run"]["status"] == "completed" {
            break run;
        }
        assert!(
            Instant::now() < deadline,
            "the run did not complete on the surviving replica: {} of 50 jobs started\n{run:#}\n{}\n{}",
            lines(&marks).len(),
            replica_errors(&replicas),
            runner_errors(&runner_dirs),
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        run["run"]["conclusion"],
        "success",
        "{run:#}\n{}\n{}",
        replica_errors(&replicas),
        runner_errors(&runner_dirs)
    );
    assert_eq!(run["jobs"].as_array().map(Vec::len), Some(50), "{run:#}");
    for (key, _) in &jobs {
        assert_eq!(job(&run, key)["conclusion"], "success", "{key}: {run:#}");
    }
    // Every job's step started exactly once.
    let marked = lines(&marks);
    for (_, name) in &jobs {
        let started = marked.iter().filter(|line| *line == name).count();
        assert_eq!(started, 1, "{name} started {started} times: {marked:?}");
    }
    assert_eq!(marked.len(), 50, "{marked:?}");

    // No log line lost: `slipway logs RUN` at the survivor has every numbered line of every
    // job, once.
    let logs = replicas[survivor]
        .cli()
        .args(["logs", &run_id, "--json"])
        .output()
        .unwrap();
    assert!(logs.status.success(), "{}", text(&logs));
    let records: Vec<Value> = String::from_utf8_lossy(&logs.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let mut missing = Vec::new();
    for (key, name) in &jobs {
        for i in 1..=4 {
            let wanted = format!("{name} line {i}");
            let found = records
                .iter()
                .filter(|record| record["job"] == key.as_str())
                .filter(|record| {
                    record["line"]
                        .as_str()
                        .is_some_and(|l| l.ends_with(&wanted))
                })
                .count();
            if found != 1 {
                missing.push(format!("{key}: {wanted:?} {found} times"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "log lines lost or repeated: {missing:#?}\n{}",
        text(&logs)
    );
    drop(runners);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_answer_503_while_the_database_is_down_and_run_again_after() {
    let _serial = SERIAL.lock().await;
    let test = "replicas_answer_503_while_the_database_is_down_and_run_again_after";
    let Some(cluster) = pg_cluster::cluster(test) else {
        return;
    };
    let url = cluster.new_database("outage");
    let temp = tempfile::tempdir().unwrap();
    let marks = temp.path().join("marks");
    let repo = repo_with(
        temp.path(),
        &[(
            "mark.yml",
            &format!(
                "on: workflow_dispatch\njobs:\n  mark:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo \"run ${{{{ github.run_number }}}}\" >> \"{}\"\n",
                marks.display()
            ),
        )],
    );
    let replicas = replicas(temp.path(), &url, 2).await;
    // One URL: the runner's own failover is the first test's business, not this one's.
    let runner_dir = temp.path().join("runner");
    let _runner = standalone_runner(&replicas[0], &replicas[0].url, &runner_dir).await;
    let first = replicas[0].dispatch(&repo, "mark.yml").await;
    let run = replicas[1].wait_completed(&first).await;
    assert_eq!(run["run"]["conclusion"], "success", "{run:#}");

    let stopped = cluster.stop();
    let down = Instant::now();
    // What the outage got wrong; all of it is reported once the database is back (the recovery
    // is worth checking even when the outage was answered badly).
    let mut problems = Vec::new();
    // An API call fails at once, with 503, and says why.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    for (index, replica) in replicas.iter().enumerate() {
        let asked = Instant::now();
        let answer = client
            .get(format!("{}/api/v1/runs", replica.url))
            .bearer_auth(replica.admin_token())
            .send()
            .await;
        let took = asked.elapsed();
        let (status, body) = match answer {
            Ok(response) => (
                response.status().as_u16(),
                response.text().await.unwrap_or_default(),
            ),
            Err(error) => (0, error.to_string()),
        };
        if took > Duration::from_secs(5) || status != 503 || !names_the_database(&body) {
            problems.push(format!(
                "GET /api/v1/runs at replica {} with the database down: {status} after {took:?} \
                 (want 503 within 5 s naming the database): {body}",
                index + 1
            ));
        }
    }
    let mut runs = replicas[1].cli();
    runs.args(["runs"]);
    let (output, took) = output_within(runs, Duration::from_secs(15));
    match output {
        None => problems.push(format!("slipway runs hung for {took:?}")),
        Some(output) => {
            if took > Duration::from_secs(5)
                || output.status.success()
                || !names_the_database(&text(&output))
            {
                problems.push(format!(
                    "slipway runs with the database down: {} after {took:?} (want a failure \
                     within 5 s naming the database): {}",
                    output.status,
                    text(&output)
                ));
            }
        }
    }
    // The health check says so too (the watchdog looks every 2 s).
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        let (status, body) = replicas[0].get_raw("/healthz").await;
        let body = String::from_utf8_lossy(&body).to_string();
        if status == 503 && names_the_database(&body) {
            break;
        }
        if Instant::now() >= deadline {
            problems.push(format!(
                "/healthz 8 s into the outage: {status} (want 503 naming the database): {body}"
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Back after 10 s, on the same port; the replicas are not restarted.
    if let Some(rest) = Duration::from_secs(10).checked_sub(down.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    stopped.start();
    let deadline = Instant::now() + Duration::from_secs(20);
    for (index, replica) in replicas.iter().enumerate() {
        loop {
            let (status, body) = replica.get_raw("/api/v1/runs").await;
            if status == 200 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "replica {} still answers {status} {} 20 s after the database came back\n\
                 during the outage: {problems:#?}\n{}",
                index + 1,
                String::from_utf8_lossy(&body),
                replica_errors(&replicas)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // Dispatched at the runner's replica, watched at the other: this is about the database
    // coming back, not about replicas handing runs to each other (the first test's business).
    let second = replicas[0].dispatch(&repo, "mark.yml").await;
    let run = replicas[1]
        .wait_run_within(
            &second,
            "the run after the outage",
            Duration::from_secs(45),
            |run| run["run"]["status"] == "completed",
        )
        .await;
    assert_eq!(
        run["run"]["conclusion"],
        "success",
        "{run:#}\n{}\n{}",
        replica_errors(&replicas),
        runner_errors(std::slice::from_ref(&runner_dir))
    );
    assert_eq!(lines(&marks), ["run 1", "run 2"]);
    assert!(
        problems.is_empty(),
        "the recovery worked, but the outage was answered badly:\n{}\n{}",
        problems.join("\n"),
        replica_errors(&replicas)
    );
}

/// How many scheduled workflows the cron test's repository holds: every replica's tick starts
/// the due ones one after the other, which keeps the window in which two replicas could both
/// see one firing as due open for a while.
const SCHEDULED_WORKFLOWS: usize = 8;

/// The `schedule` runs of each scheduled workflow as `GET /api/v1/runs` at `replica` lists
/// them: how many of each, in workflow order.
async fn schedule_runs(replica: &TestEngine) -> Vec<usize> {
    let runs = replica.get("/api/v1/runs").await;
    let runs = runs
        .as_array()
        .or_else(|| runs["runs"].as_array())
        .cloned()
        .unwrap_or_default();
    (1..=SCHEDULED_WORKFLOWS)
        .map(|n| {
            let workflow = format!(".github/workflows/cron-{n}.yml");
            runs.iter()
                .filter(|run| run["details"]["event"] == "schedule")
                .filter(|run| run["workflow"] == workflow.as_str())
                .count()
        })
        .collect()
}

/// The instant in an RFC 3339 field of `value`.
fn instant(value: &Value) -> Option<jiff::Timestamp> {
    value.as_str().and_then(|text| text.parse().ok())
}

/// How long until `at` (zero when it is past).
fn until(at: jiff::Timestamp) -> Duration {
    let left = at.duration_since(jiff::Timestamp::now());
    Duration::try_from(left).unwrap_or(Duration::ZERO)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_watched_by_three_replicas_fires_once_per_firing() {
    let _serial = SERIAL.lock().await;
    let test = "a_schedule_watched_by_three_replicas_fires_once_per_firing";
    let Some(cluster) = pg_cluster::cluster(test) else {
        return;
    };
    let began = Instant::now();
    // Schedules fire on the wall clock at minute boundaries. The first look at a schedule marks
    // it seen (its `last_fire`) and it fires first at the next boundary: start where that look
    // (by any replica) falls inside one minute.
    let second = jiff::Timestamp::now().as_second().rem_euclid(60);
    if second >= 45 {
        tokio::time::sleep(Duration::from_secs((61 - second) as u64)).await;
    }
    let url = cluster.new_database("cron");
    let temp = tempfile::tempdir().unwrap();
    let workflow = "on:\n  schedule:\n    - cron: '* * * * *'\njobs:\n  tick:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo tick\n";
    let names: Vec<String> = (1..=SCHEDULED_WORKFLOWS)
        .map(|n| format!("cron-{n}.yml"))
        .collect();
    let files: Vec<(&str, &str)> = names.iter().map(|name| (name.as_str(), workflow)).collect();
    let repo = repo_with(temp.path(), &files);
    let replicas = replicas(temp.path(), &url, 3).await;
    replicas[0].watch(&repo).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let seen = loop {
        let schedules = replicas[0].get("/api/v1/schedules").await;
        let seen: Vec<jiff::Timestamp> = schedules
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|schedule| instant(&schedule["last_fire"]))
            .collect();
        if seen.len() == SCHEDULED_WORKFLOWS {
            break seen;
        }
        assert!(
            Instant::now() < deadline,
            "the schedules were never all seen: {schedules:#}\n{}",
            replica_errors(&replicas)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let minutes: Vec<i64> = seen
        .iter()
        .map(|at| at.as_second().div_euclid(60))
        .collect();
    assert!(
        minutes.iter().all(|minute| *minute == minutes[0]),
        "the schedules were first seen across a minute boundary (a slow start): {seen:?}"
    );
    let first_fire =
        jiff::Timestamp::from_second((minutes[0] + 1) * 60).expect("a minute boundary");
    assert_eq!(
        schedule_runs(&replicas[0]).await,
        vec![0; SCHEDULED_WORKFLOWS],
        "nothing fires before the first boundary"
    );

    // The first firing always; the second when it comes within the test's time budget.
    let settle = Duration::from_secs(8);
    let mut firings = 0;
    for k in 0..2 {
        let fire = first_fire + jiff::SignedDuration::from_secs(60 * k);
        if k > 0 && began.elapsed() + until(fire) + settle > Duration::from_secs(85) {
            break;
        }
        firings += 1;
        // Every replica's tick has seen the boundary (each looks every second) and stored the
        // runs it started; the first replica lists at least this firing's runs.
        tokio::time::sleep(until(fire) + settle).await;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let runs = schedule_runs(&replicas[0]).await;
            if runs.iter().all(|count| *count >= firings) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "firing {firings} did not start every workflow: {runs:?}\n{}",
                replica_errors(&replicas)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        for (index, replica) in replicas.iter().enumerate() {
            let runs = schedule_runs(replica).await;
            assert_eq!(
                runs,
                vec![firings; SCHEDULED_WORKFLOWS],
                "replica {} lists these schedule runs per workflow after {firings} firing(s)\n{}",
                index + 1,
                replica_errors(&replicas)
            );
        }
    }
    eprintln!("{test}: {firings} firing(s) checked");
}
