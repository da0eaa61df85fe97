//! `run:` steps end to end with real processes: shells, env layering, the `$GITHUB_*` files, workflow
//! commands, masking, results and events.

use crate::executor_support;

use executor_support::*;
use protocol::Step;
use protocol::{Conclusion, JobEvent};

#[tokio::test]
async fn default_shell_has_no_pipefail_but_bash_does() {
    let dir = tempfile::tempdir().unwrap();
    let spec = job(vec![
        run("false | true\necho after").id("default"),
        run("false | true\necho after")
            .id("bash")
            .shell("bash")
            .continue_on_error(),
        run("echo $0 ; set -o | grep -E '^(errexit|pipefail)'").shell("bash"),
        run("false\necho not reached")
            .shell("sh")
            .continue_on_error(),
    ]);
    let ran = run_spec(spec, &options(dir.path())).await;
    assert_eq!(ran.outcome(0), ("success", "success"));
    assert!(ran.logs(0).contains(&"after".to_string()));
    assert_eq!(ran.outcome(1), ("failure", "success"));
    assert!(!ran.logs(1).contains(&"after".to_string()));
    let options_lines = ran.logs(2);
    assert!(
        options_lines
            .iter()
            .any(|line| line.starts_with("errexit") && line.ends_with("on")),
        "{options_lines:?}"
    );
    assert!(
        options_lines
            .iter()
            .any(|line| line.starts_with("pipefail") && line.ends_with("on")),
        "{options_lines:?}"
    );
    assert!(
        options_lines
            .first()
            .is_some_and(|line| line.ends_with(".sh")),
        "the script file ends in .sh"
    );
    assert_eq!(ran.outcome(3), ("failure", "success"));
    assert!(!ran.logs(3).contains(&"not reached".to_string()));
    assert_eq!(ran.result.conclusion, Conclusion::Success);
}

#[tokio::test]
async fn job_default_shell_applies_when_the_step_has_none() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = job(vec![run("false | true"), run("echo never")]);
    spec.default_shell = Some("bash".to_string());
    let ran = run_spec(spec, &options(dir.path())).await;
    assert_eq!(ran.outcome(0), ("failure", "failure"));
    assert_eq!(ran.outcome(1), ("skipped", "skipped"));
    assert_eq!(ran.result.conclusion, Conclusion::Failure);
}

#[tokio::test]
async fn python_and_custom_shells() {
    let dir = tempfile::tempdir().unwrap();
    let spec = job(vec![
        run("import os, sys\nprint('python says', os.environ['CI'], sys.argv[0].endswith('.py'))")
            .shell("python"),
        run("echo from a custom template").shell("cat {0}"),
        run("echo x").shell("no-such-shell-here {0}"),
        run("echo x").shell("pwsh-not-a-shell"),
    ]);
    let ran = run_spec(spec, &options(dir.path())).await;
    assert_eq!(ran.logs(0), vec!["python says true True".to_string()]);
    assert_eq!(ran.outcome(1), ("success", "success"));
    assert_eq!(ran.logs(1), vec!["echo from a custom template".to_string()]);
    assert_eq!(ran.outcome(2), ("failure", "failure"));
    assert!(
        ran.logs(2)
            .iter()
            .any(|line| line.contains("not installed")),
        "{:?}",
        ran.logs(2)
    );
    assert_eq!(ran.outcome(3), ("skipped", "skipped"));
}

#[tokio::test]
async fn unknown_shells_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let spec = job(vec![
        run("echo x").shell("cmd").continue_on_error(),
        run("echo x").shell("fishy"),
    ]);
    let ran = run_spec(spec, &options(dir.path())).await;
    assert!(
        ran.logs(0)
            .iter()
            .any(|line| line.contains("shell `cmd` is not installed")),
        "{:?}",
        ran.logs(0)
    );
    assert!(
        ran.logs(1).iter().any(|line| line.contains("`fishy`")),
        "{:?}",
        ran.logs(1)
    );
    assert_eq!(ran.result.conclusion, Conclusion::Failure);
}

#[tokio::test]
async fn env_layers_and_protected_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = job(vec![
        run("echo FROM_FILE=file >> \"$GITHUB_ENV\"\necho LAYER=file >> \"$GITHUB_ENV\"\necho GITHUB_SHA=evil >> \"$GITHUB_ENV\""),
        run(concat!(
            "echo \"layer=$LAYER job=$JOB_ONLY file=$FROM_FILE extra=$EXTRA\"\n",
            "echo \"sha=$GITHUB_SHA os=$RUNNER_OS ci=$CI actions=$GITHUB_ACTIONS ref=$GITHUB_REF_NAME\"\n",
            "echo \"job=$GITHUB_JOB repo=$GITHUB_REPOSITORY run=$GITHUB_RUN_ID number=$GITHUB_RUN_NUMBER\"\n",
            "echo \"secret=${TOKEN:-unset} token=${MY_TOKEN:-unset}\"\n",
            "test \"$GITHUB_WORKSPACE\" = \"$PWD\" && echo workspace-is-cwd\n",
            "test -d \"$RUNNER_TEMP\" && echo temp-exists\n",
            "grep -q head_commit \"$GITHUB_EVENT_PATH\" && echo event-payload\n",
            "case \"$RUNNER_ARCH\" in X64|ARM64|ARM|X86) echo arch-ok;; esac\n",
        ))
        .env("LAYER", "step")
        .env("RUNNER_OS", "Windows")
        .env("MY_TOKEN", "from-step-env"),
        run("echo \"layer=$LAYER\""),
    ]);
    spec.env.insert("LAYER".into(), "job".into());
    spec.env.insert("JOB_ONLY".into(), "job".into());
    spec.env.insert("CI".into(), "false".into());
    spec.secrets
        .insert("TOKEN".into(), "super-secret-token".into());
    let mut options = options(dir.path());
    options.extra_env.insert("EXTRA".into(), "extra".into());
    options
        .extra_env
        .insert("JOB_ONLY".into(), "overridden-by-job".into());
    let ran = run_spec(spec, &options).await;
    let logs = ran.logs(1);
    assert_eq!(logs[0], "layer=step job=job file=file extra=extra");
    assert_eq!(
        logs[1],
        "sha=0123456789abcdef0123456789abcdef01234567 os=Linux ci=true actions=true ref=main"
    );
    assert_eq!(logs[2], "job=build repo=octo/hello run=42 number=7");
    assert_eq!(logs[3], "secret=unset token=from-step-env");
    for expected in [
        "workspace-is-cwd",
        "temp-exists",
        "event-payload",
        "arch-ok",
    ] {
        assert!(
            logs.contains(&expected.to_string()),
            "{expected} missing from {logs:?}"
        );
    }
    assert_eq!(
        ran.logs(2),
        vec!["layer=file".to_string()],
        "GITHUB_ENV beats job env in later steps"
    );
}

#[tokio::test]
async fn without_inherited_env_only_the_layers_are_visible() {
    let dir = tempfile::tempdir().unwrap();
    let spec = job(vec![run(
        "echo \"home=${HOME:-unset} path-set=${PATH:+yes}\"",
    )]);
    let mut options = options(dir.path());
    options.inherit_env = false;
    let ran = run_spec(spec, &options).await;
    assert_eq!(ran.logs(0), vec!["home=unset path-set=yes".to_string()]);
}

#[tokio::test]
async fn env_and_output_files_take_heredocs() {
    let dir = tempfile::tempdir().unwrap();
    let spec = job(vec![
        run(concat!(
            "echo 'simple=one' >> \"$GITHUB_OUTPUT\"\n",
            "{ echo 'multi<<EOF_X'; echo 'line 1'; echo 'line 2'; echo 'EOF_X'; } >> \"$GITHUB_OUTPUT\"\n",
            "{ echo 'BIG<<END'; echo 'a=b'; echo 'c'; echo 'END'; } >> \"$GITHUB_ENV\"\n",
        ))
        .id("produce"),
        run("printf '%s|' \"$BIG\"; echo"),
        run("echo 'broken<<NEVER' >> \"$GITHUB_OUTPUT\"\necho 'value' >> \"$GITHUB_OUTPUT\"").continue_on_error(),
    ]);
    let ran = run_spec(spec, &options(dir.path())).await;
    assert_eq!(ran.output(0, "simple"), Some("one"));
    assert_eq!(ran.output(0, "multi"), Some("line 1\nline 2"));
    assert_eq!(ran.result.steps[0].id, "produce");
    assert_eq!(
        ran.logs(1),
        vec!["a=b".to_string(), "c|".to_string()],
        "the multi-line value arrives whole"
    );
    assert_eq!(ran.outcome(2), ("failure", "success"));
    assert!(
        ran.logs(2)
            .iter()
            .any(|line| line.contains("`NEVER` is never closed")),
        "{:?}",
        ran.logs(2)
    );
    assert_eq!(
        ran.result.steps[1].id, "__1",
        "steps without an id get a generated one"
    );
}

#[tokio::test]
async fn github_path_prepends_for_later_steps() {
    let dir = tempfile::tempdir().unwrap();
    let spec = job(vec![
        run(concat!(
            "mkdir -p tools-a tools-b\n",
            "printf '#!/bin/sh\\necho tool a\\n' > tools-a/mytool; chmod +x tools-a/mytool\n",
            "printf '#!/bin/sh\\necho tool b\\n' > tools-b/mytool; chmod +x tools-b/mytool\n",
            "echo \"$PWD/tools-a\" >> \"$GITHUB_PATH\"\n",
            "command -v mytool || echo not-yet\n",
        )),
        run("mytool"),
        run("echo \"$PWD/tools-b\" >> \"$GITHUB_PATH\""),
        run("mytool"),
    ]);
    let ran = run_spec(spec, &options(dir.path())).await;
    assert_eq!(ran.logs(0), vec!["not-yet".to_string()]);
    assert_eq!(ran.logs(1), vec!["tool a".to_string()]);
    assert_eq!(
        ran.logs(3),
        vec!["tool b".to_string()],
        "the latest addition comes first"
    );
}

#[tokio::test]
async fn continue_on_error_and_skipping_after_failure() {
    let dir = tempfile::tempdir().unwrap();
    let spec = job(vec![
        run("echo failing; exit 3").continue_on_error(),
        run("echo still running"),
        run("exit 1"),
        run("echo skipped"),
    ]);
    let ran = run_spec(spec, &options(dir.path())).await;
    assert_eq!(ran.outcome(0), ("failure", "success"));
    assert!(ran.logs(0).iter().any(|line| line.contains("exit code 3")));
    assert_eq!(ran.outcome(1), ("success", "success"));
    assert_eq!(ran.outcome(2), ("failure", "failure"));
    assert_eq!(ran.outcome(3), ("skipped", "skipped"));
    assert!(!ran.all_logs().contains(&"skipped".to_string()));
    assert_eq!(ran.result.conclusion, Conclusion::Failure);
}

#[tokio::test]
async fn working_directory_from_step_or_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = job(vec![
        run("mkdir -p sub/inner default-dir"),
        run("basename \"$PWD\"").working_directory("sub/inner"),
        run("basename \"$PWD\""),
        run("pwd").working_directory("missing"),
    ]);
    spec.default_working_directory = Some("default-dir".into());
    spec.steps[0].working_directory = Some(".".to_string());
    let ran = run_spec(spec, &options(dir.path())).await;
    assert_eq!(ran.outcome(0), ("success", "success"));
    assert_eq!(ran.logs(1), vec!["inner".to_string()]);
    assert_eq!(ran.logs(2), vec!["default-dir".to_string()]);
    assert_eq!(ran.outcome(3), ("failure", "failure"));
    assert!(
        ran.logs(3)
            .iter()
            .any(|line| line.contains("does not exist"))
    );
}

#[tokio::test]
async fn secrets_and_add_mask_are_masked() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = job(vec![
        run(concat!(
            "echo \"token is $SECRET_ENV\"\n",
            "printf 'first-secret-line\\nsecond-secret-line\\n'\n",
            "echo '::add-mask::dynamic-value-123'\n",
            "echo 'now dynamic-value-123 is hidden' >&2\n",
            "echo 'short ab stays'\n",
            "echo '## summary with super-secret-token' >> \"$GITHUB_STEP_SUMMARY\"\n",
        ))
        .env("SECRET_ENV", "super-secret-token"),
        run("echo 'later: dynamic-value-123'"),
    ]);
    spec.secrets
        .insert("TOKEN".into(), "super-secret-token".into());
    spec.secrets
        .insert("KEY".into(), "first-secret-line\nsecond-secret-line".into());
    spec.secrets.insert("TINY".into(), "ab".into());
    let ran = run_spec(spec, &options(dir.path())).await;
    let logs = ran.logs(0);
    assert_eq!(logs[0], "token is ***");
    assert_eq!(logs[1], "***");
    assert_eq!(logs[2], "***");
    assert!(logs.contains(&"now *** is hidden".to_string()), "{logs:?}");
    assert!(logs.contains(&"short ab stays".to_string()));
    assert_eq!(ran.logs(1), vec!["later: ***".to_string()]);
    for line in ran.all_logs() {
        assert!(
            !line.contains("super-secret")
                && !line.contains("dynamic-value")
                && !line.contains("secret-line"),
            "{line}"
        );
    }
    assert_eq!(ran.result.summary, "## summary with ***\n");
}

#[tokio::test]
async fn workflow_commands_become_log_lines_and_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let spec = job(vec![
        run(concat!(
            "echo '::group::Compile'\n",
            "echo inside\n",
            "echo '::endgroup::'\n",
            "echo '::error file=src/main.rs,line=3,col=7::it broke'\n",
            "echo '::warning::careful'\n",
            "echo '::notice title=Note::fyi'\n",
            "echo '::debug::details'\n",
            "echo '::set-output name=legacy::old style'\n",
            "echo '::set-env name=X::1'\n",
            "echo '::stop-commands::pause-token'\n",
            "echo '::add-mask::not-masked-value'\n",
            "echo '::pause-token::'\n",
            "echo 'not-masked-value visible'\n",
        ))
        .id("commands"),
    ]);
    let ran = run_spec(spec, &options(dir.path())).await;
    let logs = ran.logs(0);
    for expected in [
        "##[group]Compile",
        "inside",
        "##[endgroup]",
        "##[error]src/main.rs:3:7: it broke",
        "##[warning]careful",
        "##[notice]Note: fyi",
        "##[debug]details",
        "::add-mask::not-masked-value",
        "not-masked-value visible",
    ] {
        assert!(
            logs.contains(&expected.to_string()),
            "{expected:?} missing from {logs:?}"
        );
    }
    assert!(
        logs.iter()
            .any(|line| line.contains("`set-env` command is disabled"))
    );
    assert_eq!(ran.output(0, "legacy"), Some("old style"));
    assert_eq!(ran.result.conclusion, Conclusion::Success);
}

#[tokio::test]
async fn events_come_in_order_and_end_with_job_finished() {
    let dir = tempfile::tempdir().unwrap();
    let spec = job(vec![
        run("echo one; echo two >&2; echo three").named("first"),
        run("exit 0"),
    ]);
    let ran = run_spec(spec, &options(dir.path())).await;
    let kinds: Vec<String> = ran
        .events
        .iter()
        .map(|event| match event {
            JobEvent::StepStarted { index, name } => format!("start {index} {name}"),
            JobEvent::Log { step, line } => format!("log {step:?} {line}"),
            JobEvent::StepFinished { index, .. } => format!("finish {index}"),
            JobEvent::JobFinished { .. } => "job".to_string(),
        })
        .collect();
    assert_eq!(kinds.first().map(String::as_str), Some("start 0 first"));
    assert_eq!(kinds.last().map(String::as_str), Some("job"));
    let one = kinds.iter().position(|k| k == "log Some(0) one").unwrap();
    let three = kinds.iter().position(|k| k == "log Some(0) three").unwrap();
    assert!(one < three);
    assert!(kinds.contains(&"log Some(0) two".to_string()));
    let finish0 = kinds.iter().position(|k| k == "finish 0").unwrap();
    assert!(three < finish0);
    assert_eq!(kinds[finish0 + 1], "start 1 Run exit 0");
    let JobEvent::JobFinished { result } = ran.events.last().unwrap() else {
        unreachable!()
    };
    assert_eq!(*result, ran.result);
}

#[tokio::test]
async fn workspace_is_laid_out_per_run_and_job() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = job(vec![run("echo \"$GITHUB_WORKSPACE\"")]);
    spec.job_key = "build (ubuntu, 1)".into();
    let ran = run_spec(spec, &options(dir.path())).await;
    let workspace = std::path::PathBuf::from(&ran.logs(0)[0]);
    assert!(workspace.starts_with(dir.path().join("42")));
    assert_eq!(workspace.file_name().unwrap(), "workspace");
    assert!(workspace.is_dir());
    let job_dir = workspace
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    assert!(job_dir.starts_with("build__ubuntu__1_"), "{job_dir}");
}

#[tokio::test]
async fn unsupported_actions_fail_naming_the_step() {
    let dir = tempfile::tempdir().unwrap();
    let spec = job(vec![uses("actions/setup-node@v4").id("node")]);
    let ran = run_spec(spec, &options(dir.path())).await;
    assert_eq!(ran.outcome(0), ("failure", "failure"));
    assert!(
        ran.logs(0)
            .iter()
            .any(|line| line.contains("step `node`") && line.contains("actions/setup-node@v4"))
    );
}

#[tokio::test]
async fn unsecure_commands_work_only_when_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = job(vec![
        run("echo '::set-env name=FOO::bar'\necho '::add-path::/opt/legacy-bin'"),
        run(
            "echo \"foo=${FOO:-unset}\"; case \":$PATH:\" in *:/opt/legacy-bin:*) echo path-added;; esac",
        ),
        run("echo '::set-env name=OTHER::x'").env("ACTIONS_ALLOW_UNSECURE_COMMANDS", "false"),
        run("echo \"other=${OTHER:-unset}\""),
    ]);
    spec.env
        .insert("ACTIONS_ALLOW_UNSECURE_COMMANDS".into(), "true".into());
    let ran = run_spec(spec, &options(dir.path())).await;
    assert_eq!(
        ran.logs(1),
        vec!["foo=bar".to_string(), "path-added".to_string()]
    );
    assert!(
        ran.logs(2)
            .iter()
            .any(|line| line.contains("`set-env` command is disabled"))
    );
    assert_eq!(ran.logs(3), vec!["other=unset".to_string()]);
}

#[tokio::test]
async fn a_secret_in_a_step_name_is_masked_in_events_and_results() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = job(vec![
        run("echo ok").named("deploy with ${{ secrets.TOKEN }}"),
    ]);
    spec.secrets
        .insert("TOKEN".into(), "super-secret-token".into());
    let ran = run_spec(spec, &options(dir.path())).await;
    let started: Vec<&str> = ran
        .events
        .iter()
        .filter_map(|event| match event {
            JobEvent::StepStarted { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(started, ["deploy with ***"]);
    assert_eq!(ran.result.steps[0].name, "deploy with ***");
}

#[tokio::test]
async fn a_secret_in_a_step_output_is_masked_in_the_reported_result_but_usable_by_later_steps() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut spec = job(vec![
        Step {
            id: Some("write".to_string()),
            ..run(
                "echo \"token=prefix-${{ secrets.TOKEN }}-suffix\" >> \"$GITHUB_OUTPUT\"\necho \"plain=hello\" >> \"$GITHUB_OUTPUT\"",
            )
        },
        run(
            "test \"${{ steps.write.outputs.token }}\" = \"prefix-super-secret-token-suffix\" && echo later-step-saw-it",
        ),
    ]);
    spec.secrets
        .insert("TOKEN".into(), "super-secret-token".into());
    let ran = run_spec(spec, &options(dir.path())).await;
    assert_eq!(
        ran.outcome(1),
        ("success", "success"),
        "{:?}",
        ran.all_logs()
    );
    assert!(ran.logs(1).contains(&"later-step-saw-it".to_string()));
    assert_eq!(ran.output(0, "token"), Some("prefix-***-suffix"));
    assert_eq!(ran.output(0, "plain"), Some("hello"));
    let reported = serde_json::to_string(&ran.result).expect("json");
    assert!(!reported.contains("super-secret-token"), "{reported}");
}
