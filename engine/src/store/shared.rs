//! What several engine replicas sharing one store (PostgreSQL) need of it beyond records:
//! wake-ups across processes (`notify`), store-wide locks (`lock`), claims exactly one process
//! wins (`claim`), the coordination stream that says which process drives runs
//! (`coordinate`), and lease heartbeats kept in the store, so that any replica can tell a
//! lease whose runner went quiet from one that beats through another replica.
//!
//! On sled (one process) each of these is free: no notification leaves the process, a lock is
//! the caller's own, a claim is a compare-and-swap, and lease clocks stay in memory
//! (`runs::dispatch`).

use super::kv::Signal;
use super::{JobId, Store, StoreError};

/// The tree of claims (`claim`): one key per thing that must happen once across replicas.
pub(super) const CLAIMS: &str = "claims";

/// The tree of lease heartbeats on a shared store: job id → fencing token and time (µs).
pub(super) const LEASE_BEATS: &str = "lease_beats";

impl Store {
    /// Whether several engine processes may share this store (PostgreSQL).
    pub fn is_shared(&self) -> bool {
        self.backend.shared()
    }

    /// Tells every replica sharing the store about `payload` on `channel` (nothing on sled);
    /// a failure is logged, not returned: every notification has a slower path behind it (the
    /// driver's periodic catch-up, the runners' long-poll timeout).
    pub fn notify(&self, channel: &'static str, payload: &str) {
        if !self.backend.shared() {
            return;
        }
        if let Err(error) = self.backend.notify(channel, payload) {
            tracing::warn!(channel, %error, "failed to notify the other replicas");
        }
    }

    /// Waits for the store-wide lock named `name` and holds it until the answer is dropped
    /// (`None` on sled: the caller's own process-local lock is all there is). Blocks: call it
    /// on a blocking thread.
    pub fn lock(&self, name: &str) -> Result<Option<Box<dyn Send>>, StoreError> {
        if !self.backend.shared() {
            return Ok(None);
        }
        self.backend
            .lock(lock_key(name))
            .map_err(|error| self.database_error(error))
    }

    /// Records that `what` happened, unless some replica did already: `true` for the one
    /// caller that claims it first.
    pub fn claim(&self, what: &str) -> Result<bool, StoreError> {
        self.backend
            .insert_new(CLAIMS, what.as_bytes(), &super::now_us().to_be_bytes())
            .map_err(|error| self.database_error(error))
    }

    /// On a shared store, one read from the database, or why it failed (for `/healthz`);
    /// nothing to ask on sled (its probe is the writer's).
    pub fn ping(&self) -> Result<(), String> {
        if !self.backend.shared() {
            return Ok(());
        }
        self.backend
            .get("meta", b"ping")
            .map(drop)
            .map_err(|error| format!("the database does not answer: {error}"))
    }

    /// Starts hearing the other replicas (see `Backend::coordinate`); `false` on sled.
    pub(crate) fn coordinate(
        &self,
        channels: &'static [&'static str],
        driver_lock: &str,
        signals: tokio::sync::mpsc::UnboundedSender<Signal>,
    ) -> bool {
        self.backend
            .coordinate(channels, lock_key(driver_lock), signals)
    }

    /// Records a heartbeat of the lease `fencing_token` of `job_id`, now (shared stores only).
    pub fn record_lease_beat(&self, job_id: JobId, fencing_token: u64) -> Result<(), StoreError> {
        let mut value = fencing_token.to_be_bytes().to_vec();
        value.extend_from_slice(&super::now_us().to_be_bytes());
        self.backend
            .insert(LEASE_BEATS, &job_id.to_key(), &value)
            .map_err(|error| self.database_error(error))
    }

    /// The last heartbeat recorded for `job_id` (fencing token, time in µs), if any.
    pub fn lease_beat(&self, job_id: JobId) -> Result<Option<(u64, u64)>, StoreError> {
        let Some(value) = self
            .backend
            .get(LEASE_BEATS, &job_id.to_key())
            .map_err(|error| self.database_error(error))?
        else {
            return Ok(None);
        };
        let number = |range: std::ops::Range<usize>| {
            value
                .get(range)
                .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
                .map(u64::from_be_bytes)
        };
        Ok(number(0..8).zip(number(8..16)))
    }

    /// Forgets the heartbeat of a lease that ended.
    pub fn forget_lease_beat(&self, job_id: JobId) {
        if !self.backend.shared() {
            return;
        }
        if let Err(error) = self.backend.remove(LEASE_BEATS, &job_id.to_key()) {
            tracing::debug!(%job_id, %error, "failed to forget a lease heartbeat");
        }
    }
}

/// A stable 63-bit key for a named lock (PostgreSQL advisory locks are numbered).
fn lock_key(name: &str) -> i64 {
    // FNV-1a: stable across builds and processes, unlike the standard hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in b"slipway:".iter().chain(name.as_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::try_from(hash >> 1).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::lock_key;

    #[test]
    fn lock_keys_are_stable_and_distinct() {
        assert_eq!(lock_key("driver"), lock_key("driver"));
        assert_ne!(lock_key("driver"), lock_key("repo:demo"));
        assert!(lock_key("driver") >= 0);
    }
}
