//! One step's process inside the job container (`docker exec`): its output streamed line by line,
//! its exit code, and on timeout or cancel its whole process tree killed inside the container
//! (SIGTERM, then SIGKILL after the grace period).
//!
//! The step is started through `sh -c`, which records its pid in a file under the job's temp
//! directory before `exec`-ing the real program, so the tree can be found from the container's
//! `/proc` when it has to be killed.

use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use futures_util::StreamExt;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::super::process::{OutputStream, ProcessEnd};

/// After the process exited, how long to keep reading output a background process still writes.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(500);
/// How often the exec is asked whether its process is still running.
const EXIT_POLL: Duration = Duration::from_millis(250);

/// What to run in the container.
#[derive(Debug, Clone)]
pub struct ExecRequest {
    /// The id of the container to run in (the job container).
    pub container: String,
    /// The program to run, as the container's `PATH` finds it (e.g. `bash`).
    pub program: String,
    /// The program's arguments; paths in them are already the container's.
    pub args: Vec<String>,
    /// Added to the container's own environment.
    pub env: Vec<(String, String)>,
    /// The directory the program starts in, as seen inside the container.
    pub working_dir: String,
    /// Where the step's pid is written, as seen inside the container.
    pub pid_file: String,
}

/// Runs `request` to its end, the deadline or cancellation; lines go to `on_line` as they arrive.
pub async fn run_exec(
    docker: &Docker,
    request: &ExecRequest,
    deadline: Option<Instant>,
    cancel: &CancellationToken,
    kill_grace: Duration,
    mut on_line: impl FnMut(OutputStream, String),
) -> ProcessEnd {
    let mut cmd = vec![
        "sh".to_string(),
        "-c".to_string(),
        "echo $$ > \"$0\"; exec \"$@\"".to_string(),
        request.pid_file.clone(),
        request.program.clone(),
    ];
    cmd.extend(request.args.iter().cloned());
    let config = ExecConfig {
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        env: Some(
            request
                .env
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect(),
        ),
        cmd: Some(cmd),
        working_dir: Some(request.working_dir.clone()),
        ..Default::default()
    };
    let exec = match docker.create_exec(&request.container, config).await {
        Ok(exec) => exec,
        Err(error) => {
            return ProcessEnd::SpawnFailed(format!(
                "failed to start `{}` in the job container: {error}",
                request.program
            ));
        }
    };
    let options = StartExecOptions {
        detach: false,
        tty: false,
        output_capacity: Some(64 * 1024),
    };
    let mut output = match docker.start_exec(&exec.id, Some(options)).await {
        Ok(StartExecResults::Attached { output, .. }) => output,
        Ok(StartExecResults::Detached) => {
            return ProcessEnd::SpawnFailed("the exec started detached".to_string());
        }
        Err(error) => {
            return ProcessEnd::SpawnFailed(format!(
                "failed to start `{}` in the job container: {error}",
                request.program
            ));
        }
    };

    let mut stdout = LineBuffer::default();
    let mut stderr = LineBuffer::default();
    let mut ended_by: Option<ProcessEnd> = None;
    let mut kill_at: Option<Instant> = None;
    let mut stop_reading_at: Option<Instant> = None;
    let mut doomed: Vec<String> = Vec::new();
    let mut poll = tokio::time::interval(EXIT_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            item = output.next() => match item {
                Some(Ok(LogOutput::StdOut { message } | LogOutput::Console { message })) => {
                    stdout.push(&message, |line| on_line(OutputStream::Stdout, line));
                }
                Some(Ok(LogOutput::StdErr { message })) => {
                    stderr.push(&message, |line| on_line(OutputStream::Stderr, line));
                }
                Some(Ok(LogOutput::StdIn { .. })) => {}
                Some(Err(error)) => {
                    on_line(OutputStream::Stderr, format!("reading the step's output failed: {error}"));
                    break;
                }
                None => break,
            },
            _ = sleep_until_some(deadline), if ended_by.is_none() => {
                ended_by = Some(ProcessEnd::TimedOut);
                doomed = kill_tree(docker, request, "TERM", &[]).await;
                kill_at = Some(Instant::now() + kill_grace);
            }
            _ = cancel.cancelled(), if ended_by.is_none() => {
                ended_by = Some(ProcessEnd::Cancelled);
                doomed = kill_tree(docker, request, "TERM", &[]).await;
                kill_at = Some(Instant::now() + kill_grace);
            }
            _ = sleep_until_some(kill_at) => {
                kill_at = None;
                kill_tree(docker, request, "KILL", &doomed).await;
                stop_reading_at.get_or_insert(Instant::now() + DRAIN_AFTER_EXIT);
            }
            _ = poll.tick(), if stop_reading_at.is_none() => {
                if let Ok(inspect) = docker.inspect_exec(&exec.id).await
                    && inspect.running == Some(false)
                {
                    stop_reading_at = Some(Instant::now() + DRAIN_AFTER_EXIT);
                }
            }
            _ = sleep_until_some(stop_reading_at) => break,
        }
    }
    stdout.finish(|line| on_line(OutputStream::Stdout, line));
    stderr.finish(|line| on_line(OutputStream::Stderr, line));
    if let Some(end) = ended_by {
        // Whatever the step left behind goes too (a SIGTERM it ignored).
        kill_tree(docker, request, "KILL", &doomed).await;
        return end;
    }
    // The process may still be winding down when its output closed.
    for _ in 0..40 {
        match docker.inspect_exec(&exec.id).await {
            Ok(inspect) if inspect.running == Some(true) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(inspect) => {
                let code = inspect.exit_code.unwrap_or(-1);
                return ProcessEnd::Exited(i32::try_from(code).unwrap_or(-1));
            }
            Err(error) => {
                return ProcessEnd::SpawnFailed(format!(
                    "failed to read the step's exit code: {error}"
                ));
            }
        }
    }
    ProcessEnd::SpawnFailed("the step's process did not report its exit".to_string())
}

/// Sends `signal` to the step's process and all its descendants (read from `/proc` inside the
/// container) and to `also` (pids found by an earlier call); returns the pids it found.
async fn kill_tree(
    docker: &Docker,
    request: &ExecRequest,
    signal: &str,
    also: &[String],
) -> Vec<String> {
    let script = "p=$(cat \"$0\" 2>/dev/null); t() { echo \"$1\"; for c in $(cat /proc/\"$1\"/task/*/children 2>/dev/null); do t \"$c\"; done; }; \
                  s=\"$1\"; shift; l=\"$*\"; [ -n \"$p\" ] && l=\"$(t \"$p\") $l\"; echo $l; kill -s \"$s\" $l 2>/dev/null; true";
    let mut cmd = vec![
        "sh".to_string(),
        "-c".to_string(),
        script.to_string(),
        request.pid_file.clone(),
        signal.to_string(),
    ];
    cmd.extend(also.iter().cloned());
    match super::exec_capture(docker, &request.container, cmd, Some("0")).await {
        Ok((_, text)) => text
            .split_whitespace()
            .filter(|pid| pid.chars().all(|c| c.is_ascii_digit()))
            .map(str::to_string)
            .collect(),
        Err(error) => {
            tracing::warn!(%error, "killing a step's processes in its container failed");
            Vec::new()
        }
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Bytes of one stream cut into lines (a line may arrive in several chunks).
#[derive(Default)]
struct LineBuffer {
    pending: Vec<u8>,
}

impl LineBuffer {
    fn push(&mut self, bytes: &[u8], mut emit: impl FnMut(String)) {
        self.pending.extend_from_slice(bytes);
        while let Some(at) = self.pending.iter().position(|&b| b == b'\n') {
            let rest = self.pending.split_off(at + 1);
            let mut line = std::mem::replace(&mut self.pending, rest);
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            emit(String::from_utf8_lossy(&line).into_owned());
        }
    }

    fn finish(&mut self, mut emit: impl FnMut(String)) {
        if !self.pending.is_empty() {
            emit(String::from_utf8_lossy(&std::mem::take(&mut self.pending)).into_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_cut_into_lines() {
        let mut buffer = LineBuffer::default();
        let mut lines = Vec::new();
        buffer.push(b"ab", |line| lines.push(line));
        buffer.push(b"c\r\nd\ne", |line| lines.push(line));
        buffer.finish(|line| lines.push(line));
        assert_eq!(lines, vec!["abc", "d", "e"]);
    }
}
