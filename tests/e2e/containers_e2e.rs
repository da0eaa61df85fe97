//! Jobs in containers on the real Docker engine, through the binary: `slipway run` and an engine
//! with a runner process. The images are built here from Debian's `busybox-static` (no registry
//! is reachable): a root filesystem of busybox and its applets, imported with `docker import` and
//! tagged by the hash of what went in, so a second test run finds it already there.
//!
//! Without a Docker engine (or busybox) the tests print `SKIPPED: …` and return; with `CI=true`
//! they fail instead.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::engine::TestEngine;
use crate::support::repo_with;

const BIN: &str = env!("CARGO_BIN_EXE_slipway");
const BUSYBOX: &str = "/bin/busybox";

/// The test image's tag, built once per process.
static IMAGE: Mutex<Option<String>> = Mutex::new(None);

/// Whether the tests can run here; prints the loud skip line (or panics under `CI=true`).
fn docker_ready(test: &str) -> bool {
    let engine = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .map(|output| output.status.success())
        .unwrap_or(false);
    let missing = if !engine {
        Some("no Docker engine answers (`docker info` failed)")
    } else if !Path::new(BUSYBOX).exists() {
        Some("busybox-static is not installed (apt-get install busybox-static)")
    } else {
        None
    };
    match missing {
        None => true,
        Some(reason) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{test}: {reason} (CI=true: Docker tests must run)")
        }
        Some(reason) => {
            eprintln!("SKIPPED: {test}: {reason}");
            false
        }
    }
}

/// `slipway-test-busybox:<hash>`: busybox with every applet on `/bin`, a user 1234, a `/www`
/// whose `ping` file says `pong`, and `httpd` on port 80 as its command (the service image).
fn image() -> String {
    let mut cached = IMAGE.lock().unwrap();
    if let Some(tag) = cached.as_ref() {
        return tag.clone();
    }
    let busybox = std::fs::read(BUSYBOX).unwrap();
    let recipe = "v1 passwd www-ping cmd-httpd-80 path-bin";
    let hash = busybox
        .iter()
        .chain(recipe.as_bytes())
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
        });
    let tag = format!("slipway-test-busybox:{hash:016x}");
    let present = Command::new("docker")
        .args(["image", "inspect", &tag])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success();
    if !present {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path();
        for sub in ["bin", "tmp", "etc", "www", "root"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::copy(BUSYBOX, dir.join("bin/busybox")).unwrap();
        let list = Command::new(BUSYBOX).arg("--list").output().unwrap();
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            if applet != "busybox" {
                std::os::unix::fs::symlink("busybox", dir.join("bin").join(applet)).unwrap();
            }
        }
        std::fs::write(
            dir.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nbuilder:x:1234:1234:builder:/tmp:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(dir.join("etc/group"), "root:x:0:\nbuilder:x:1234:\n").unwrap();
        std::fs::write(dir.join("www/ping"), "pong\n").unwrap();
        let archive = root.path().with_extension("tar");
        let packed = Command::new("tar")
            .arg("-C")
            .arg(dir)
            .arg("-cf")
            .arg(&archive)
            .arg(".")
            .status()
            .unwrap();
        assert!(packed.success(), "tar failed");
        let status = Command::new("docker")
            .args([
                "import",
                "--change",
                "ENV PATH=/bin",
                "--change",
                r#"CMD ["httpd", "-f", "-p", "80", "-h", "/www"]"#,
            ])
            .arg(&archive)
            .arg(&tag)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        let _ = std::fs::remove_file(&archive);
        assert!(status.success(), "docker import failed");
    }
    *cached = Some(tag.clone());
    tag
}

/// Containers and networks labelled with `label=value`, as `docker` lists them.
fn leftovers(label: &str, value: &str) -> (Vec<String>, Vec<String>) {
    let filter = format!("label={label}={value}");
    let list = |args: &[&str]| -> Vec<String> {
        let output = Command::new("docker").args(args).output().unwrap();
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_string)
            .filter(|line| !line.is_empty())
            .collect()
    };
    (
        list(&["ps", "-aq", "--filter", &filter]),
        list(&["network", "ls", "-q", "--filter", &filter]),
    )
}

/// `slipway run --json` on `dir` with its temp dir (where the work dirs go) under `dir/tmp`.
fn slipway_run(dir: &Path, args: &[&str]) -> (Output, Value) {
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let output = Command::new(BIN)
        .envs(crate::support::user_env())
        .arg("run")
        .arg("-C")
        .arg(dir)
        .arg("--json")
        .args(args)
        .env("TMPDIR", &tmp)
        // Local runs keep their work dirs in the user's cache dir: this test's own.
        .env("XDG_CACHE_HOME", &tmp)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "not JSON ({error}):\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output, report)
}

/// A directory (outside git) with one workflow file, `flow.yml`.
fn project(workflow: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("flow.yml"), workflow).unwrap();
    std::fs::write(dir.path().join("committed.txt"), "from the repository\n").unwrap();
    dir
}

/// Every job log of a `slipway run` report, concatenated.
fn all_logs(report: &Value) -> String {
    let mut text = String::new();
    for workflow in report["workflows"].as_array().into_iter().flatten() {
        let dir = PathBuf::from(workflow["logs"].as_str().unwrap_or_default());
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
            }
        }
    }
    text
}

fn find_file(root: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(root).ok()?.flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|file| file == name) {
            return Some(path);
        }
        if path.is_dir()
            && !path.is_symlink()
            && let Some(found) = find_file(&path, name)
        {
            return Some(found);
        }
    }
    None
}

#[test]
fn without_a_docker_engine_a_container_job_fails_clearly() {
    let dir = project(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    container: busybox\n    steps:\n      - run: echo never\n",
    );
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let output = Command::new(BIN)
        .envs(crate::support::user_env())
        .arg("run")
        .arg("-C")
        .arg(dir.path())
        .args(["--json", "--workflow", "flow.yml"])
        .env("TMPDIR", &tmp)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["result"], "failure", "{report:#}");
    let reason = report["workflows"][0]["jobs"][0]["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.starts_with("Docker engine not reachable at unix:///nonexistent/docker.sock: "),
        "{report:#}"
    );
}

#[test]
fn steps_in_a_job_container_see_the_workspace_and_env_files_and_files_come_back_owned() {
    if !docker_ready("steps_in_a_job_container_see_the_workspace_and_env_files") {
        return;
    }
    let image = image();
    let dir = project(&format!(
        r#"on: push
jobs:
  inside:
    runs-on: ubuntu-latest
    container:
      image: {image}
      env:
        FROM_CONTAINER: "yes"
    env:
      FROM_JOB: job-level
    steps:
      - uses: actions/checkout@v4
      - id: one
        run: |
          test "$GITHUB_WORKSPACE" = /__w/workspace
          test "$(pwd)" = /__w/workspace
          test "$(cat committed.txt)" = "from the repository"
          test "$FROM_CONTAINER" = yes
          test "$FROM_JOB" = job-level
          test "$HOME" = /github/home
          test "$RUNNER_TEMP" = /__w/_temp
          test -f "$GITHUB_EVENT_PATH"
          test -f /etc/passwd && grep -q builder /etc/passwd
          echo "GREETING=hello from the container" >> "$GITHUB_ENV"
          echo "answer=42" >> "$GITHUB_OUTPUT"
          mkdir -p "$RUNNER_TEMP/tools"
          printf '#!/bin/sh\necho tool-ran\n' > "$RUNNER_TEMP/tools/mytool"
          chmod +x "$RUNNER_TEMP/tools/mytool"
          echo "$RUNNER_TEMP/tools" >> "$GITHUB_PATH"
          echo "summary: written in the container" >> "$GITHUB_STEP_SUMMARY"
          mkdir -p made/deeper
          echo made > made/deeper/by-container.txt
          chown -R 1234:1234 made
      - run: |
          test "$GREETING" = "hello from the container"
          test "${{{{ steps.one.outputs.answer }}}}" = 42
          test "$(mytool)" = tool-ran
          echo "shell is $0"
        shell: sh
      - run: echo "host-side workspace ${{{{ github.workspace }}}}"
"#
    ));
    let started = Instant::now();
    let (output, report) = slipway_run(dir.path(), &["--workflow", "flow.yml"]);
    let logs = all_logs(&report);
    assert_eq!(
        report["result"],
        "success",
        "{report:#}\n{logs}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("container job took {:?}", started.elapsed());
    assert!(logs.contains("containers ready in"), "{logs}");
    // The file the container wrote as uid 1234 belongs to the runner's user again.
    let made = find_file(&dir.path().join("tmp"), "by-container.txt")
        .expect("the file is in the workspace");
    // The test's own temp dir tells the runner's user (the test started it).
    let me = std::fs::metadata(dir.path()).unwrap().uid();
    let meta = std::fs::metadata(&made).unwrap();
    assert_eq!(meta.uid(), me, "{}", made.display());
    assert_eq!(std::fs::metadata(made.parent().unwrap()).unwrap().uid(), me);
    let run_id = report["workflows"][0]["run_id"].as_str().unwrap();
    assert_eq!(leftovers("slipway.run", run_id), (vec![], vec![]));
}

#[test]
fn services_are_reachable_by_alias_and_by_their_host_port() {
    if !docker_ready("services_are_reachable_by_alias_and_by_their_host_port") {
        return;
    }
    let image = image();
    let dir = project(&format!(
        r#"on: push
jobs:
  in-container:
    runs-on: ubuntu-latest
    container: {image}
    services:
      web:
        image: {image}
        options: --health-cmd "wget -q -O /dev/null http://127.0.0.1/ping" --health-interval 1s --health-retries 20
    steps:
      - run: test "$(wget -q -O - http://web/ping)" = pong
  on-host:
    runs-on: ubuntu-latest
    services:
      db:
        image: {image}
        ports:
          - 5432
        entrypoint: sh
        command: -c "echo service says hello; httpd -f -p 5432 -h /www"
        options: --health-cmd "wget -q -O /dev/null http://127.0.0.1:5432/ping" --health-interval 1s
    steps:
      - run: |
          test -n "${{{{ job.services.db.ports['5432'] }}}}"
          test "$(busybox wget -q -O - http://127.0.0.1:${{{{ job.services.db.ports['5432'] }}}}/ping)" = pong
"#
    ));
    let (output, report) = slipway_run(dir.path(), &["--workflow", "flow.yml"]);
    let logs = all_logs(&report);
    assert_eq!(
        report["result"],
        "success",
        "{report:#}\n{logs}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(logs.contains("service `web` is healthy"), "{logs}");
    // The service's own output is kept with the job's log.
    assert!(logs.contains("db | service says hello"), "{logs}");
    let run_id = report["workflows"][0]["run_id"].as_str().unwrap();
    assert_eq!(leftovers("slipway.run", run_id), (vec![], vec![]));
}

#[test]
fn an_unhealthy_service_fails_the_job_naming_it_and_bad_options_are_named() {
    if !docker_ready("an_unhealthy_service_fails_the_job_naming_it") {
        return;
    }
    let image = image();
    let dir = project(&format!(
        r#"on: push
jobs:
  sick:
    runs-on: ubuntu-latest
    services:
      db:
        image: {image}
        options: --health-cmd "exit 1" --health-interval 1s --health-timeout 1s --health-retries 2
    steps:
      - run: echo never
  odd:
    runs-on: ubuntu-latest
    container:
      image: {image}
      options: --rm --user 1
    steps:
      - run: echo never
"#
    ));
    let started = Instant::now();
    let (_, report) = slipway_run(dir.path(), &["--workflow", "flow.yml"]);
    assert_eq!(report["result"], "failure", "{report:#}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    let jobs = report["workflows"][0]["jobs"].as_array().unwrap();
    let reason = |key: &str| {
        jobs.iter()
            .find(|job| job["job"] == key)
            .map(|job| job["reason"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    };
    let sick = reason("sick");
    assert!(sick.contains("service `db` is unhealthy"), "{report:#}");
    let odd = reason("odd");
    assert!(
        odd.contains("`container.options`: unsupported option `--rm`"),
        "{report:#}"
    );
    let run_id = report["workflows"][0]["run_id"].as_str().unwrap();
    assert_eq!(leftovers("slipway.run", run_id), (vec![], vec![]));
}

#[test]
fn a_step_timeout_in_a_container_kills_its_processes() {
    if !docker_ready("a_step_timeout_in_a_container_kills_its_processes") {
        return;
    }
    let image = image();
    let dir = project(&format!(
        r#"on: push
jobs:
  slow:
    runs-on: ubuntu-latest
    container: {image}
    steps:
      - run: |
          sleep 300 &
          echo started
          sleep 300
        timeout-minutes: 0.05
      - if: always()
        run: |
          sleep 301 &
          sleep 1
          ps -o pid,args > /__w/workspace/ps.txt
          cat /__w/workspace/ps.txt
"#
    ));
    let started = Instant::now();
    let (_, report) = slipway_run(dir.path(), &["--workflow", "flow.yml"]);
    assert_eq!(report["result"], "failure", "{report:#}");
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "{:?}",
        started.elapsed()
    );
    let logs = all_logs(&report);
    assert!(logs.contains("timed out"), "{logs}");
    // The cleanup step's own `sleep 301` shows `ps` sees the container's processes; the timed
    // out step's `sleep 300` (and its background twin) are gone.
    let ps = find_file(&dir.path().join("tmp"), "ps.txt").expect("ps.txt written");
    let ps = std::fs::read_to_string(ps).unwrap();
    assert!(ps.contains("sleep 301"), "{ps}");
    assert!(!ps.contains("sleep 300"), "{ps}\n{logs}");
}

#[test]
fn docker_actions_from_a_dockerfile_and_docker_images_run_as_steps() {
    if !docker_ready("docker_actions_from_a_dockerfile_and_docker_images_run_as_steps") {
        return;
    }
    let image = image();
    let dir = project(&format!(
        r#"on: push
jobs:
  act:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - id: greet
        uses: ./greet
        with:
          who: octocat
      - run: |
          test "${{{{ steps.greet.outputs.greeting }}}}" = "hello octocat"
          test "$FROM_DOCKER_ACTION" = 1
          test -f pre-ran
          test "$(cat post-ran)" = "post ran"
      - uses: docker://{image}
        with:
          entrypoint: /bin/sh
          args: -c "test \"$INPUT_COLOR\" = blue && echo docker-uses-ok"
          color: blue
"#
    ));
    let action = dir.path().join("greet");
    std::fs::create_dir_all(&action).unwrap();
    std::fs::write(
        action.join("action.yml"),
        r#"name: greet
inputs:
  who:
    default: world
runs:
  using: docker
  image: Dockerfile
  args: ["${{ inputs.who }}", "second"]
  pre-entrypoint: /pre.sh
  post-entrypoint: /post.sh
  env:
    FROM_ACTION: "yes"
"#,
    )
    .unwrap();
    std::fs::write(
        action.join("Dockerfile"),
        format!("FROM {image}\nCOPY *.sh /\nRUN chmod +x /entrypoint.sh /pre.sh /post.sh\nENTRYPOINT [\"/entrypoint.sh\"]\n"),
    )
    .unwrap();
    std::fs::write(
        action.join("entrypoint.sh"),
        r#"#!/bin/sh
set -e
test "$1" = octocat
test "$2" = second
test "$INPUT_WHO" = octocat
test "$FROM_ACTION" = yes
test "$GITHUB_WORKSPACE" = /github/workspace
test "$(pwd)" = /github/workspace
test -f committed.txt
test -f "$GITHUB_EVENT_PATH"
test -f pre-ran
echo "greeting=hello $1" >> "$GITHUB_OUTPUT"
echo "FROM_DOCKER_ACTION=1" >> "$GITHUB_ENV"
echo "main ran"
"#,
    )
    .unwrap();
    std::fs::write(
        action.join("pre.sh"),
        "#!/bin/sh\ntouch /github/workspace/pre-ran\n",
    )
    .unwrap();
    std::fs::write(
        action.join("post.sh"),
        "#!/bin/sh\necho post ran > /github/workspace/post-ran\n",
    )
    .unwrap();
    let (output, report) = slipway_run(dir.path(), &["--workflow", "flow.yml"]);
    let logs = all_logs(&report);
    assert_eq!(
        report["result"],
        "success",
        "{report:#}\n{logs}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(logs.contains("main ran"), "{logs}");
    assert!(logs.contains("docker-uses-ok"), "{logs}");
    // A second run finds the image built by the first.
    let (_, report) = slipway_run(dir.path(), &["--workflow", "flow.yml"]);
    assert_eq!(report["result"], "success", "{report:#}");
    assert!(all_logs(&report).contains("(built before)"));
}

#[test]
fn ctrl_c_while_a_service_is_starting_cancels_and_removes_it() {
    if !docker_ready("ctrl_c_while_a_service_is_starting_cancels_and_removes_it") {
        return;
    }
    let image = image();
    let dir = project(&format!(
        r#"on: push
jobs:
  waits:
    runs-on: ubuntu-latest
    services:
      slow:
        image: {image}
        options: --health-cmd "sleep 100" --health-timeout 100s --health-interval 1s
    steps:
      - run: echo never
"#
    ));
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let child = Command::new(BIN)
        .envs(crate::support::user_env())
        .arg("run")
        .arg("-C")
        .arg(dir.path())
        .args(["--json", "--workflow", "flow.yml"])
        .env("TMPDIR", &tmp)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    // The service container exists: the job is waiting for its health.
    let deadline = Instant::now() + Duration::from_secs(60);
    let container = loop {
        let output = Command::new("docker")
            .args(["ps", "-q", "--filter", "label=slipway.job=waits"])
            .output()
            .unwrap();
        let ids = String::from_utf8_lossy(&output.stdout).trim().to_string();
        if !ids.is_empty() {
            break ids;
        }
        assert!(Instant::now() < deadline, "the service never started");
        std::thread::sleep(Duration::from_millis(100));
    };
    std::thread::sleep(Duration::from_millis(500));
    let interrupted = Instant::now();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        interrupted.elapsed() < Duration::from_secs(20),
        "{:?}",
        interrupted.elapsed()
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report["workflows"][0]["jobs"][0]["result"], "cancelled",
        "{report:#}"
    );
    let gone = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("id={container}")])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&gone.stdout).trim().is_empty());
    let run_id = report["workflows"][0]["run_id"].as_str().unwrap();
    assert_eq!(leftovers("slipway.run", run_id), (vec![], vec![]));
}

/// Through an engine and a runner process: the job goes to the runner (it carries `docker`),
/// a cancel removes its containers, and so does starting a runner again after `kill -9`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_jobs_run_in_containers_and_nothing_leaks_after_cancel_or_kill() {
    if !docker_ready("engine_jobs_run_in_containers_and_nothing_leaks") {
        return;
    }
    let image = image();
    let dir = tempfile::tempdir().unwrap();
    let workflow = |name: &str, body: &str| {
        format!(
            "name: {name}\non: workflow_dispatch\njobs:\n  box:\n    runs-on: ubuntu-latest\n    container: {image}\n    services:\n      web:\n        image: {image}\n    steps:\n      - run: |\n{body}\n"
        )
    };
    let repo = repo_with(
        dir.path(),
        &[
            (
                "quick.yml",
                &workflow(
                    "quick",
                    "          test \"$(wget -q -O - http://web/ping)\" = pong\n          echo inside > in-container.txt",
                ),
            ),
            (
                "slow.yml",
                &workflow("slow", "          echo sleeping\n          sleep 600"),
            ),
        ],
    );
    let engine = TestEngine::builder(&dir.path().join("data"))
        .runners(0)
        .start()
        .await;
    let runner_dir = dir.path().join("runner");
    let (mut runner, runner_id) = engine.start_runner(&runner_dir, None).await;
    let runners = engine.get("/api/v1/runners").await;
    assert!(runners.to_string().contains("docker"), "{runners:#}");
    engine.watch(&repo).await;

    let run_id = engine.dispatch(&repo, "quick.yml").await;
    let run = engine.wait_completed(&run_id).await;
    assert_eq!(run["run"]["conclusion"], "success", "{run:#}");
    assert_eq!(leftovers("slipway.run", &run_id), (vec![], vec![]));

    // Cancel while the step sleeps: the containers go with the job.
    let run_id = engine.dispatch(&repo, "slow.yml").await;
    wait_for_containers(&run_id).await;
    let output = engine.cli().args(["cancel", &run_id]).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let run = engine.wait_completed(&run_id).await;
    assert_eq!(run["run"]["conclusion"], "cancelled", "{run:#}");
    wait_no_leftovers("slipway.run", &run_id).await;

    // `kill -9` of the runner mid-job leaves the containers; its next start removes them.
    let run_id = engine.dispatch(&repo, "slow.yml").await;
    wait_for_containers(&run_id).await;
    runner.kill();
    let before = leftovers("slipway.runner", &runner_id);
    assert!(!before.0.is_empty() && !before.1.is_empty(), "{before:?}");
    let restarted = Command::new(BIN)
        .envs(crate::support::user_env())
        .args(["runner", "--engine", &engine.url, "--config"])
        .arg(runner_dir.join("runner.toml"))
        .arg("--work-dir")
        .arg(runner_dir.join("work"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut restarted = crate::support::engine::Process(restarted);
    // The re-queued job may start again on the restarted runner: only the old objects count.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = leftovers("slipway.runner", &runner_id);
        let old_left: Vec<&String> = before
            .0
            .iter()
            .chain(before.1.iter())
            .filter(|id| now.0.contains(id) || now.1.contains(id))
            .collect();
        if old_left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "leftovers stay: {old_left:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = engine.cli().args(["cancel", &run_id]).output();
    engine.wait_completed(&run_id).await;
    wait_no_leftovers("slipway.runner", &runner_id).await;
    restarted.kill();
}

/// Waits (bounded) until nothing labelled `label=value` is left.
async fn wait_no_leftovers(label: &str, value: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = leftovers(label, value);
        if left.0.is_empty() && left.1.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "left behind ({label}={value}): {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits (bounded) until the run's job container and service are up.
async fn wait_for_containers(run_id: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (containers, _) = leftovers("slipway.run", run_id);
        if containers.len() >= 2 {
            // Give the step a moment to start inside.
            tokio::time::sleep(Duration::from_millis(500)).await;
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the job's containers never started"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
