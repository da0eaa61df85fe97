//! A closed output pipe ends the command quietly, as GNU tools end (`slipway runs | head -1`,
//! `slipway logs -f RUN | head`, `slipway run … 2>&1 | head -1`): exit code 141 (128 + SIGPIPE,
//! what a shell reports for a tool killed by SIGPIPE), no panic message.
//!
//! Two ways notice it: a failed write (`println!`'s panic, caught by the panic hook) and, so that
//! a command that prints nothing for a while still ends promptly, a thread that watches stdout
//! and stderr when they are pipes (`poll` reports `POLLERR` on a pipe whose reader has gone).
//! A command that owns child processes (`slipway run`) registers a cancel: its steps are
//! cancelled (SIGTERM, then SIGKILL) before the process exits.
//!
//! This module must not print: its output has nowhere to go.

use std::os::fd::AsFd;
use std::os::unix::fs::FileTypeExt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use tokio_util::sync::CancellationToken;

/// The exit code of a command whose output pipe closed (128 + SIGPIPE).
pub(crate) const CLOSED: i32 = 141;

/// How long a registered cancel may take before the process exits anyway.
const CANCEL_GRACE: Duration = Duration::from_secs(15);

static CANCEL: Mutex<Option<CancellationToken>> = Mutex::new(None);
static FINISHED: AtomicBool = AtomicBool::new(false);

/// Installs the panic hook and the watcher thread. Called once, first thing in `main`.
pub(crate) fn end_quietly_when_output_closes() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if is_closed_pipe_message(message) {
            let waits_for_work =
                CANCEL.lock().is_ok_and(|slot| slot.is_some()) && !FINISHED.load(Ordering::SeqCst);
            if !waits_for_work || std::thread::current().name() == Some("main") {
                end();
            }
            // Not here: this thread may be one the cancel needs. The panic unwinds it quietly.
            end_soon();
            return;
        }
        default_hook(info);
    }));
    let watched: Vec<bool> = vec![is_pipe(&std::io::stdout()), is_pipe(&std::io::stderr())];
    if watched.iter().any(|pipe| *pipe) {
        let _ = std::thread::Builder::new()
            .name("closed-pipe-watch".into())
            .spawn(move || watch(watched[0], watched[1]));
    }
}

/// `slipway run`: a closed output cancels the run (its steps get SIGTERM, then SIGKILL) and
/// the process exits once [`finished`] is called, or after a grace period.
pub(crate) fn on_close_cancel(cancel: CancellationToken) {
    if let Ok(mut slot) = CANCEL.lock() {
        *slot = Some(cancel);
    }
}

/// The registered work has ended (its processes are gone): a closed output may exit now.
pub(crate) fn finished() {
    FINISHED.store(true, Ordering::SeqCst);
}

/// A write failed because the output's reader has gone: end as [`end_quietly_when_output_closes`]
/// does, from another thread.
pub(crate) fn output_closed() {
    end_soon();
}

/// Whether a panic message is `println!`/`eprintln!` failing on a closed pipe.
fn is_closed_pipe_message(message: &str) -> bool {
    (message.contains("failed printing to stdout") || message.contains("failed printing to stderr"))
        && message.contains("Broken pipe")
}

fn is_pipe(stream: &impl AsFd) -> bool {
    stream
        .as_fd()
        .try_clone_to_owned()
        .ok()
        .map(std::fs::File::from)
        .and_then(|file| file.metadata().ok())
        .is_some_and(|metadata| metadata.file_type().is_fifo())
}

/// Blocks until a watched pipe's reader has gone, then ends the process.
fn watch(stdout: bool, stderr: bool) {
    let out = std::io::stdout();
    let err = std::io::stderr();
    let mut fds = Vec::new();
    if stdout {
        fds.push(PollFd::new(out.as_fd(), PollFlags::empty()));
    }
    if stderr {
        fds.push(PollFd::new(err.as_fd(), PollFlags::empty()));
    }
    loop {
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {
                let closed = fds.iter().any(|fd| {
                    fd.revents().is_some_and(|events| {
                        events.intersects(PollFlags::POLLERR | PollFlags::POLLHUP)
                    })
                });
                if closed {
                    end();
                }
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return,
        }
    }
}

/// [`end`] on a thread of its own (once).
fn end_soon() {
    static ENDING: AtomicBool = AtomicBool::new(false);
    if ENDING.swap(true, Ordering::SeqCst) {
        return;
    }
    if std::thread::Builder::new()
        .name("closed-pipe-end".into())
        .spawn(|| end())
        .is_err()
    {
        std::process::exit(CLOSED);
    }
}

/// Cancels the registered work (and waits for it, bounded), then exits with [`CLOSED`].
fn end() -> ! {
    let cancel = CANCEL.lock().ok().and_then(|slot| slot.clone());
    if let Some(cancel) = cancel {
        cancel.cancel();
        let deadline = Instant::now() + CANCEL_GRACE;
        while !FINISHED.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    std::process::exit(CLOSED);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_pipe_panics_are_told_apart() {
        assert!(is_closed_pipe_message(
            "failed printing to stdout: Broken pipe (os error 32)"
        ));
        assert!(is_closed_pipe_message(
            "failed printing to stderr: Broken pipe (os error 32)"
        ));
        assert!(!is_closed_pipe_message(
            "failed printing to stdout: No space left on device"
        ));
        assert!(!is_closed_pipe_message("index out of bounds"));
    }
}
