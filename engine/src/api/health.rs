//! The engine's watchdog and `GET /healthz`: an OS thread (not a runtime task, so it keeps
//! looking when every runtime worker is stuck) probes the store's writer (a durable no-op that
//! must be flushed in time), the async runtime (a spawned task that must run in time) and the
//! free space of the data dir's disk (`Store::space_shortage`) every `PERIOD`, logs an error when
//! one fails and again when it recovers, and keeps the verdict `/healthz` answers with (200
//! `ok`, or 503 with the reason).
//!
//! This file must not repair anything, restart anything or hold a lock across a probe: it
//! notices and reports.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use crate::store::Store;

/// How often the watchdog looks.
const PERIOD: Duration = Duration::from_secs(2);
/// A probe not answered within this is a stall.
const LIMIT: Duration = Duration::from_secs(10);

/// The watchdog's verdict, shared with the `/healthz` handler.
#[derive(Default)]
pub(super) struct Health {
    /// `None` while healthy, else why not.
    problem: Mutex<Option<String>>,
    /// Set when the server stops: the watchdog thread ends.
    stopped: AtomicBool,
}

impl Health {
    /// `Ok` while healthy, else the reason.
    pub(super) fn verdict(&self) -> Result<(), String> {
        match &*self.problem.lock().unwrap_or_else(PoisonError::into_inner) {
            None => Ok(()),
            Some(reason) => Err(reason.clone()),
        }
    }

    /// Ends the watchdog thread (at its next look).
    pub(super) fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
    }

    fn set(&self, problem: Option<String>) {
        let mut current = self.problem.lock().unwrap_or_else(PoisonError::into_inner);
        match (&*current, &problem) {
            (None, Some(reason)) => tracing::error!("engine unhealthy: {reason}"),
            (Some(_), None) => tracing::info!("engine healthy again"),
            (Some(old), Some(new)) if old != new => tracing::error!("engine unhealthy: {new}"),
            _ => {}
        }
        *current = problem;
    }
}

/// Starts the watchdog over `store` and the runtime behind `runtime`. The thread ends when the
/// store is gone or `Health::stop` is called.
pub(super) fn start(store: &Arc<Store>, runtime: tokio::runtime::Handle) -> Arc<Health> {
    let health = Arc::new(Health::default());
    let watched = health.clone();
    let store = Arc::downgrade(store);
    let spawned = std::thread::Builder::new()
        .name("watchdog".to_string())
        .spawn(move || watch(&store, &runtime, &watched));
    if let Err(error) = spawned {
        health.set(Some(format!("the watchdog could not start: {error}")));
    }
    health
}

fn watch(store: &Weak<Store>, runtime: &tokio::runtime::Handle, health: &Health) {
    // The runtime probe in flight: when it was spawned and whether it has run.
    let mut runtime_probe: Option<(Instant, Arc<AtomicBool>)> = None;
    while !health.stopped.load(Ordering::SeqCst) {
        let mut problems = Vec::new();
        match &runtime_probe {
            Some((since, ran)) if !ran.load(Ordering::SeqCst) => {
                if since.elapsed() > LIMIT {
                    problems.push(format!(
                        "the async runtime has not run a task for {} s",
                        since.elapsed().as_secs()
                    ));
                }
            }
            _ => {
                let ran = Arc::new(AtomicBool::new(false));
                let flag = ran.clone();
                runtime.spawn(async move { flag.store(true, Ordering::SeqCst) });
                runtime_probe = Some((Instant::now(), ran));
            }
        }
        {
            let Some(store) = store.upgrade() else {
                return;
            };
            if let Err(reason) = store.probe(LIMIT) {
                problems.push(reason);
            }
            // A shared store's writes are the database's: ask it (a write through the writer
            // thread does not reach it when there is nothing to write).
            if let Err(reason) = store.ping() {
                problems.push(reason);
            }
            if let Some(reason) = store.space_shortage() {
                problems.push(reason);
            }
        }
        health.set((!problems.is_empty()).then(|| problems.join("; ")));
        std::thread::sleep(PERIOD);
    }
}

/// `GET /healthz` (no authentication): 200 `ok`, or 503 with the reason.
pub(super) fn answer(health: &Health) -> (StatusCode, String) {
    match health.verdict() {
        Ok(()) => (StatusCode::OK, "ok\n".to_string()),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("unhealthy: {reason}\n"),
        ),
    }
}
