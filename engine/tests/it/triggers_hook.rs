//! The `post-receive` hook, end to end: a real `git push` into a bare repository runs the
//! installed hook, which POSTs the ref updates to a small loopback listener started here.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use engine::repos::triggers::RefUpdate;
use engine::repos::triggers::hook::{CHAINED_HOOK, hook_script, install_hook};

/// How long to wait for the hook's request before calling the test failed (a bound against
/// hanging, not a timing assertion).
const PATIENCE: Duration = Duration::from_secs(20);

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
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
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A bare `origin.git` and a clone `work` with one commit, not pushed yet.
fn repos(root: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let origin = root.join("origin.git");
    std::fs::create_dir_all(&origin).unwrap();
    git(&origin, &["init", "-q", "--bare", "-b", "main"]);
    let work = root.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    git(
        &work,
        &["remote", "add", "origin", origin.to_str().unwrap()],
    );
    std::fs::write(work.join("README.md"), "hello\n").unwrap();
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "first"]);
    (origin, work)
}

struct Request {
    head: String,
    body: String,
}

/// Accepts one HTTP request, answers 200 and hands the request over.
fn listen_once() -> (String, mpsc::Receiver<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
            head.push_str(&line);
        }
        let mut body = vec![0; length];
        let _ = reader.read_exact(&mut body);
        let mut stream = reader.into_inner();
        let _ =
            stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        let _ = send.send(Request {
            head,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
    });
    (url, receive)
}

fn updates_in(body: &str) -> Vec<RefUpdate> {
    let value: serde_json::Value = serde_json::from_str(body).unwrap();
    value["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            RefUpdate::from_hex(
                u["old"].as_str().unwrap(),
                u["new"].as_str().unwrap(),
                u["ref"].as_str().unwrap(),
            )
            .unwrap()
        })
        .collect()
}

#[test]
fn a_push_runs_the_hook_which_posts_the_updates() {
    let root = tempfile::tempdir().unwrap();
    let (origin, work) = repos(root.path());
    let (url, received) = listen_once();
    let installed = install_hook(&origin, &hook_script(&url, "acme/rocket", "hook-token")).unwrap();
    assert_eq!(installed, origin.join("hooks").join("post-receive"));

    git(&work, &["tag", "v1"]);
    git(&work, &["push", "-q", "origin", "main", "v1"]);
    let head = git(&work, &["rev-parse", "HEAD"]).trim().to_string();

    let request = received
        .recv_timeout(PATIENCE)
        .expect("the hook posted nothing");
    assert!(
        request
            .head
            .starts_with("POST /api/v1/repos/acme%2Frocket/hook HTTP/1.1"),
        "{}",
        request.head
    );
    assert!(
        request.head.contains("Authorization: Bearer hook-token"),
        "{}",
        request.head
    );
    let mut updates = updates_in(&request.body);
    updates.sort_by(|a, b| a.name.cmp(&b.name));
    let head = git2::Oid::from_str(&head).unwrap();
    assert_eq!(
        updates,
        vec![
            RefUpdate::new("refs/heads/main", None, Some(head)),
            RefUpdate::new("refs/tags/v1", None, Some(head)),
        ]
    );
}

#[test]
fn a_push_succeeds_when_the_engine_is_down() {
    let root = tempfile::tempdir().unwrap();
    let (origin, work) = repos(root.path());
    // A port that was free a moment ago: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = hook_script(&format!("http://127.0.0.1:{port}"), "acme", "t");
    install_hook(&origin, &script).unwrap();
    git(&work, &["push", "-q", "origin", "main"]);
    let pushed = git(&origin, &["rev-parse", "refs/heads/main"]);
    assert_eq!(pushed, git(&work, &["rev-parse", "HEAD"]));
}

#[test]
fn an_existing_hook_is_kept_and_chained() {
    let root = tempfile::tempdir().unwrap();
    let (origin, work) = repos(root.path());
    let log = root.path().join("chained.log");
    let existing = format!("#!/bin/sh\ncat >> '{}'\nexit 0\n", log.display());
    let hook = origin.join("hooks").join("post-receive");
    std::fs::write(&hook, existing).unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let (url, received) = listen_once();
    install_hook(&origin, &hook_script(&url, "acme", "t")).unwrap();
    // Installing again replaces ours and keeps the chained one as it is.
    install_hook(&origin, &hook_script(&url, "acme", "t")).unwrap();
    assert!(origin.join("hooks").join(CHAINED_HOOK).exists());

    git(&work, &["push", "-q", "origin", "main"]);
    let request = received
        .recv_timeout(PATIENCE)
        .expect("the hook posted nothing");
    assert_eq!(updates_in(&request.body).len(), 1);
    let chained_saw = std::fs::read_to_string(&log).unwrap();
    assert!(
        chained_saw.trim_end().ends_with(" refs/heads/main"),
        "{chained_saw}"
    );
}
