//! A private PostgreSQL cluster for tests, started once per test binary: `initdb` into
//! `target/tmp/pg-<pid>`, `pg_ctl start` on a free 127.0.0.1 port (no Unix socket, trust
//! authentication for the `slipway` superuser), and a fresh database per test (`createdb`).
//! A watcher process stops the cluster and removes its directory when the test binary exits,
//! however it exits.
//!
//! initdb refuses to run as root: as root the cluster's directory is handed to `nobody` and
//! every PostgreSQL program runs as that user (`runuser`).
//!
//! When PostgreSQL cannot be started: under `CI=true` this panics (the test fails); elsewhere it
//! prints loudly that the test is skipped and `database` answers `None`.
//!
//! Shared by the engine's tests and the end-to-end tests (included with `#[path]`): only `std`.

#![allow(dead_code)] // each including binary uses its own part

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// The running cluster of this test binary.
pub(crate) struct Cluster {
    pub port: u16,
    pub dir: PathBuf,
    bin: PathBuf,
    as_nobody: bool,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

fn bin_dir() -> Option<PathBuf> {
    for dir in ["/usr/lib/postgresql/15/bin", "/usr/local/bin", "/usr/bin"] {
        let dir = PathBuf::from(dir);
        if dir.join("initdb").exists() && dir.join("pg_ctl").exists() {
            return Some(dir);
        }
    }
    // Any other installed major version.
    let versions = std::fs::read_dir("/usr/lib/postgresql").ok()?;
    versions
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("bin"))
        .find(|dir| dir.join("initdb").exists())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

impl Cluster {
    fn program(&self, name: &str) -> Command {
        let path = self.bin.join(name);
        if self.as_nobody {
            let mut command = Command::new("runuser");
            command.args(["-u", "nobody", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    fn start() -> Result<Cluster, String> {
        let bin = bin_dir().ok_or("initdb and pg_ctl were not found (install `postgresql`)")?;
        let as_nobody = is_root();
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let dir = base.join(format!("pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        let cluster = Cluster {
            port: free_port()?,
            dir: dir.clone(),
            bin,
            as_nobody,
        };
        if as_nobody {
            let status = Command::new("chown")
                .args(["-R", "nobody"])
                .arg(&dir)
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !status.success() {
                return Err(format!("chown nobody {} failed", dir.display()));
            }
        }
        let data = dir.join("data");
        let out = cluster
            .program("initdb")
            .args([
                "-A",
                "trust",
                "-U",
                "slipway",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&data)
            .output()
            .map_err(|e| format!("run initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let settings = format!(
            "\nlisten_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = ''\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 300\n",
            cluster.port
        );
        append(&data.join("postgresql.conf"), &settings)?;
        cluster.pg_ctl_start()?;
        cluster.stop_when_gone();
        Ok(cluster)
    }

    /// `pg_ctl start` on the cluster's data dir (its port is in `postgresql.conf`), waiting
    /// until it accepts connections.
    fn pg_ctl_start(&self) -> Result<(), String> {
        let out = self
            .program("pg_ctl")
            .args(["start", "-w", "-t", "30", "-D"])
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("run pg_ctl: {e}"))?;
        if !out.status.success() {
            let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
            return Err(format!(
                "pg_ctl start failed: {}{}",
                String::from_utf8_lossy(&out.stderr),
                log
            ));
        }
        Ok(())
    }

    /// Stops the server (`pg_ctl stop -m fast`: open sessions are ended at once, as in an
    /// outage) until the answer is dropped or `Stopped::start` is called, which starts it again
    /// on the same port and data. A test that stops the cluster must hold `support::SERIAL` (or
    /// be alone in its binary): every test of the binary shares the cluster.
    pub(crate) fn stop(&self) -> Stopped<'_> {
        let out = self
            .program("pg_ctl")
            .args(["stop", "-m", "fast", "-w", "-t", "30", "-D"])
            .arg(self.dir.join("data"))
            .stdin(Stdio::null())
            .output()
            .expect("run pg_ctl stop");
        assert!(
            out.status.success(),
            "pg_ctl stop failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Stopped {
            cluster: self,
            started: false,
        }
    }

    /// A detached watcher: once this test process is gone, stop the cluster and remove it.
    fn stop_when_gone(&self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let runner = if self.as_nobody {
            "runuser -u nobody -- "
        } else {
            ""
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; \
             {runner}'{pg_ctl}' stop -m immediate -D '{data}' >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            pg_ctl = pg_ctl.display(),
            data = self.dir.join("data").display(),
            dir = self.dir.display(),
        );
        let _ = Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }

    /// Creates a new, empty database and returns its URL.
    pub(crate) fn new_database(&self, hint: &str) -> String {
        let name = format!(
            "t{}_{}",
            NEXT_DB.fetch_add(1, Ordering::SeqCst),
            hint.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .take(40)
                .collect::<String>()
                .to_lowercase()
        );
        let out = Command::new(self.bin.join("createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "slipway",
            ])
            .arg(&name)
            .output()
            .expect("run createdb");
        assert!(
            out.status.success(),
            "createdb {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.url(&name)
    }

    /// The URL of database `name` on this cluster.
    pub(crate) fn url(&self, name: &str) -> String {
        format!("postgres://slipway@127.0.0.1:{}/{name}", self.port)
    }

    /// Runs SQL on database `name` with `psql`, returning its plain output.
    pub(crate) fn psql(&self, name: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "slipway",
            ])
            .args(["-d", name, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

/// The cluster while it is stopped (`Cluster::stop`); started again when dropped, so a failing
/// test does not leave the other tests of its binary without a database.
pub(crate) struct Stopped<'a> {
    cluster: &'a Cluster,
    started: bool,
}

impl Stopped<'_> {
    /// Starts the server again on the same port and data; waits until it accepts connections.
    pub(crate) fn start(mut self) {
        self.started = true;
        if let Err(why) = self.cluster.pg_ctl_start() {
            panic!("start the cluster again: {why}");
        }
    }
}

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        if !self.started {
            self.started = true;
            if let Err(why) = self.cluster.pg_ctl_start() {
                eprintln!("could not start the cluster again: {why}");
            }
        }
    }
}

fn append(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| format!("open {}: {e}", path.display()))?;
    file.write_all(text.as_bytes())
        .map_err(|e| format!("write {}: {e}", path.display()))
}

/// The cluster of this test binary, started on first use; `None` (after a loud notice) when
/// PostgreSQL cannot be started outside CI. Under `CI=true` a cluster that cannot start fails
/// the test.
pub(crate) fn cluster(test: &str) -> Option<&'static Cluster> {
    match CLUSTER.get_or_init(Cluster::start) {
        Ok(cluster) => Some(cluster),
        Err(why) => {
            if std::env::var("CI").is_ok_and(|value| value == "true") {
                panic!("{test}: PostgreSQL is required under CI=true but could not start: {why}");
            }
            eprintln!(
                "\n=== SKIPPED {test}: PostgreSQL could not be started ({why}) ===\n\
                 === install the `postgresql` package to run it ===\n"
            );
            None
        }
    }
}
