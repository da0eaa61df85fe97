//! Running one step's process: spawned in its own process group, its stdout and stderr read line by
//! line, and the whole group killed (SIGTERM, then SIGKILL after a grace period) on timeout or cancel.
//!
//! It knows nothing of workflow commands, masking or results: lines go to a callback, and the
//! caller is told how the process ended.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// After the process exits, how long to keep reading output still in the pipes. A background
/// process the step started may hold them open for ever; its later output is not waited for.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(500);

/// How often the group is checked for survivors while waiting out the kill grace.
const GROUP_POLL: Duration = Duration::from_millis(50);

/// What to run.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    pub program: String,
    pub args: Vec<String>,
    /// The complete environment (nothing else is inherited).
    pub env: Vec<(String, String)>,
    pub working_directory: PathBuf,
    /// Where the step's process group is recorded while it may run (see `groups`), so that
    /// it is killed when the runner stops, however it stops; `None` records nothing.
    pub group_records: Option<PathBuf>,
    /// Stop the group with SIGINT first (then SIGTERM, then SIGKILL, a grace period apart), as
    /// GitHub stops a background step; otherwise SIGTERM, then SIGKILL.
    pub interrupt_first: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputStream {
    Stdout,
    Stderr,
}

/// How the process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessEnd {
    /// Exited with this code (a signal death is reported as `128 + signal`).
    Exited(i32),
    /// The deadline passed; the process group was killed.
    TimedOut,
    /// The cancel token fired; the process group was killed.
    Cancelled,
    /// It could not be started.
    SpawnFailed(String),
}

/// The process group a step ran in (its leader's pid), so leftovers can be killed at job end,
/// and the file recording it (removed once the group is killed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ProcessGroup {
    pub pgid: i32,
    pub record: Option<PathBuf>,
}

impl ProcessGroup {
    /// SIGKILL to every process left in the group (background processes a step started); the
    /// group's record goes with it.
    pub(super) fn kill_remaining(self) {
        let _ = killpg(Pid::from_raw(self.pgid), Signal::SIGKILL);
        if let Some(record) = &self.record {
            let _ = std::fs::remove_file(record);
        }
    }
}

/// Runs `spec` to its end, the deadline, or cancellation, calling `on_line` for every output line
/// in the order lines arrive (order is kept within each stream).
pub(super) async fn run_process(
    spec: &ProcessSpec,
    deadline: Option<Instant>,
    cancel: &CancellationToken,
    kill_grace: Duration,
    mut on_line: impl FnMut(OutputStream, String),
) -> (ProcessEnd, Option<ProcessGroup>) {
    let mut command = tokio::process::Command::new(&spec.program);
    command
        .args(&spec.args)
        .env_clear()
        .envs(spec.env.iter().map(|(name, value)| (name, value)))
        .current_dir(&spec.working_directory)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => {
            return (
                ProcessEnd::SpawnFailed(format!("failed to start `{}`: {error}", spec.program)),
                None,
            );
        }
    };
    let group = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(|pgid| ProcessGroup {
            pgid,
            record: spec.group_records.as_deref().and_then(|dir| {
                super::groups::record(dir, pgid)
                    .inspect_err(|error| {
                        tracing::warn!(%error, pgid, "failed to record a step's process group");
                    })
                    .ok()
            }),
        });

    let (line_sender, mut lines) = mpsc::unbounded_channel();
    let mut readers = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        readers.push(tokio::spawn(forward_lines(
            stdout,
            OutputStream::Stdout,
            line_sender.clone(),
        )));
    }
    if let Some(stderr) = child.stderr.take() {
        readers.push(tokio::spawn(forward_lines(
            stderr,
            OutputStream::Stderr,
            line_sender.clone(),
        )));
    }
    drop(line_sender);

    let far_future = Instant::now() + Duration::from_secs(60 * 60 * 24 * 365);
    let deadline = deadline.unwrap_or(far_future);
    let end = loop {
        tokio::select! {
            biased;
            Some((stream, line)) = lines.recv() => on_line(stream, line),
            status = child.wait() => {
                break match status {
                    Ok(status) => ProcessEnd::Exited(exit_code(status)),
                    Err(error) => ProcessEnd::SpawnFailed(format!("failed to wait for `{}`: {error}", spec.program)),
                };
            }
            _ = tokio::time::sleep_until(deadline) => {
                kill_group(&mut child, group.as_ref(), kill_grace, spec.interrupt_first).await;
                break ProcessEnd::TimedOut;
            }
            _ = cancel.cancelled() => {
                kill_group(&mut child, group.as_ref(), kill_grace, spec.interrupt_first).await;
                break ProcessEnd::Cancelled;
            }
        }
    };

    let drain_until = Instant::now() + DRAIN_AFTER_EXIT;
    loop {
        tokio::select! {
            line = lines.recv() => match line {
                Some((stream, line)) => on_line(stream, line),
                None => break,
            },
            _ = tokio::time::sleep_until(drain_until) => break,
        }
    }
    // The readers are left running: a background process the step started may still write, and
    // closing the pipe under it would kill it with SIGPIPE. They end when the pipes close (at the
    // latest when the job kills the step's process group).
    drop(readers);
    (end, group)
}

/// SIGTERM to the whole group (SIGINT first when `interrupt_first`), then SIGKILL once `grace`
/// has passed after the last signal with anything still alive.
async fn kill_group(
    child: &mut tokio::process::Child,
    group: Option<&ProcessGroup>,
    grace: Duration,
    interrupt_first: bool,
) {
    let Some(&ProcessGroup { pgid: leader, .. }) = group else {
        let _ = child.start_kill();
        let _ = child.wait().await;
        return;
    };
    let pgid = Pid::from_raw(leader);
    let signals: &[Signal] = if interrupt_first {
        &[Signal::SIGINT, Signal::SIGTERM]
    } else {
        &[Signal::SIGTERM]
    };
    for signal in signals {
        let _ = killpg(pgid, *signal);
        if group_gone_within(child, pgid, grace).await {
            return;
        }
    }
    let _ = killpg(pgid, Signal::SIGKILL);
    let _ = child.wait().await;
}

/// Whether the leader has exited and no member of the group is left before `grace` passes.
async fn group_gone_within(child: &mut tokio::process::Child, pgid: Pid, grace: Duration) -> bool {
    let give_up = Instant::now() + grace;
    let mut leader_done = false;
    while Instant::now() < give_up {
        if !leader_done {
            leader_done = matches!(child.try_wait(), Ok(Some(_)));
        }
        // Signal 0 only checks whether any member of the group is left.
        if leader_done && killpg(pgid, None).is_err() {
            return true;
        }
        tokio::time::sleep(GROUP_POLL).await;
    }
    false
}

async fn forward_lines(
    stream: impl AsyncRead + Unpin,
    kind: OutputStream,
    sender: mpsc::UnboundedSender<(OutputStream, String)>,
) {
    let mut reader = BufReader::new(stream);
    let mut buffer = Vec::new();
    let mut forwarding = true;
    loop {
        buffer.clear();
        match reader.read_until(b'\n', &mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&buffer);
                let line = text.strip_suffix('\n').unwrap_or(&text);
                let line = line.strip_suffix('\r').unwrap_or(line);
                // Once nobody listens, keep draining so that the writer is not blocked or killed.
                if forwarding && sender.send((kind, line.to_string())).is_err() {
                    forwarding = false;
                }
            }
        }
    }
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}
