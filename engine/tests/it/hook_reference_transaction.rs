//! The `reference-transaction` hook with real `git push`es into a bare repository: it announces
//! a push once, on `committed`, never on `prepared` or `aborted`, and never fails a push itself.
//! Requests go to a small loopback listener started here; waits are bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use engine::repos::triggers::hook::{
    HookKind, REFERENCE_TRANSACTION_CHAINED_HOOK, hook_script, hook_script_of_kind, install_hook,
    install_hook_of_kind,
};

/// How long to wait for a request the hook must send.
const PATIENCE: Duration = Duration::from_secs(20);
/// How long to keep listening for a request the hook must not send.
const QUIET: Duration = Duration::from_millis(1500);

fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("git")
        .args([
            "-c",
            "user.name=Alice",
            "-c",
            "user.email=alice@example.org",
        ])
        .args(["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .unwrap()
}

fn git_ok(dir: &Path, args: &[&str]) -> String {
    let output = git(dir, args);
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn repos(root: &Path) -> (PathBuf, PathBuf) {
    let origin = root.join("origin.git");
    git_ok(root, &["init", "-q", "--bare", "-b", "main", "origin.git"]);
    let work = root.join("work");
    git_ok(root, &["init", "-q", "-b", "main", "work"]);
    git_ok(
        &work,
        &["remote", "add", "origin", origin.to_str().unwrap()],
    );
    std::fs::write(work.join("README.md"), "hello\n").unwrap();
    git_ok(&work, &["add", "-A"]);
    git_ok(&work, &["commit", "-q", "-m", "first"]);
    (origin, work)
}

/// Answers every request with 200 and hands each body over.
fn listen() -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        while let Ok((stream, _)) = listener.accept() {
            let mut reader = BufReader::new(stream);
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let _ = reader
                .into_inner()
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if send
                .send(String::from_utf8_lossy(&body).into_owned())
                .is_err()
            {
                return;
            }
        }
    });
    (url, receive)
}

fn refs_in(body: &str) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_str(body).unwrap();
    let mut refs: Vec<String> = value["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|update| update["ref"].as_str().unwrap().to_string())
        .collect();
    refs.sort();
    refs
}

#[test]
fn an_atomic_push_is_announced_once_when_committed_and_the_post_receive_hook_goes() {
    let root = tempfile::tempdir().unwrap();
    let (origin, work) = repos(root.path());
    let (url, received) = listen();
    install_hook(&origin, &hook_script(&url, "acme", "t")).unwrap();
    let script = hook_script_of_kind(HookKind::ReferenceTransaction, &url, "acme", "t");
    let installed = install_hook_of_kind(&origin, HookKind::ReferenceTransaction, &script).unwrap();
    assert_eq!(
        installed,
        origin.join("hooks").join("reference-transaction")
    );
    assert!(
        !origin.join("hooks").join("post-receive").exists(),
        "our post-receive hook is replaced, not kept beside"
    );

    git_ok(&work, &["tag", "v1"]);
    git_ok(&work, &["push", "-q", "--atomic", "origin", "main", "v1"]);
    let body = received
        .recv_timeout(PATIENCE)
        .expect("the hook posted nothing");
    assert_eq!(refs_in(&body), ["refs/heads/main", "refs/tags/v1"]);
    assert!(
        received.recv_timeout(QUIET).is_err(),
        "announced more than once (prepared too?)"
    );
}

#[test]
fn an_aborted_transaction_announces_nothing_and_a_down_engine_fails_no_push() {
    let root = tempfile::tempdir().unwrap();
    let (origin, work) = repos(root.path());
    // The user's own reference-transaction hook refuses every transaction while `deny` exists.
    let hooks = origin.join("hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    let deny = root.path().join("deny");
    let theirs = hooks.join("reference-transaction");
    std::fs::write(
        &theirs,
        format!(
            "#!/bin/sh\ncat >/dev/null\n[ \"$1\" = prepared ] && [ -e '{}' ] && exit 1\nexit 0\n",
            deny.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&theirs, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (url, received) = listen();
    let script = hook_script_of_kind(HookKind::ReferenceTransaction, &url, "acme", "t");
    install_hook_of_kind(&origin, HookKind::ReferenceTransaction, &script).unwrap();
    assert!(hooks.join(REFERENCE_TRANSACTION_CHAINED_HOOK).exists());

    std::fs::write(&deny, "").unwrap();
    assert!(
        !git(&work, &["push", "-q", "origin", "main"])
            .status
            .success()
    );
    assert!(
        received.recv_timeout(QUIET).is_err(),
        "an aborted transaction was announced"
    );

    std::fs::remove_file(&deny).unwrap();
    git_ok(&work, &["push", "-q", "origin", "main"]);
    let body = received
        .recv_timeout(PATIENCE)
        .expect("the hook posted nothing");
    assert_eq!(refs_in(&body), ["refs/heads/main"]);

    // Nothing listens on the engine's port any more: the push still lands.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = hook_script_of_kind(
        HookKind::ReferenceTransaction,
        &format!("http://127.0.0.1:{port}"),
        "acme",
        "t",
    );
    install_hook_of_kind(&origin, HookKind::ReferenceTransaction, &script).unwrap();
    std::fs::write(work.join("README.md"), "again\n").unwrap();
    git_ok(&work, &["commit", "-qam", "second"]);
    git_ok(&work, &["push", "-q", "origin", "main"]);
    assert_eq!(
        git_ok(&origin, &["rev-parse", "refs/heads/main"]),
        git_ok(&work, &["rev-parse", "HEAD"])
    );
}
