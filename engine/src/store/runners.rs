//! Registered runners: identity, labels, capacity, the hash of their credential, last contact.
//!
//! A credential reads `<runner_id>.<secret>`: the id finds the record, the secret's hash is
//! compared in constant time. This file must not keep or log the secret itself.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::tokens::{hash_secret, hex, new_secret};
use super::{Core, RunnerId, Store, StoreError, abort, decode, encode, now_us};

/// A registered runner: who it is, what it runs and the hash of its credential.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunnerRecord {
    /// The runner's id, given at registration and part of its credential.
    pub runner_id: RunnerId,
    /// The name the runner registered with, for people, e.g. `build-box-1`.
    pub name: String,
    /// The labels jobs' `runs-on` are matched against, e.g. `self-hosted`, `linux`.
    pub labels: Vec<String>,
    /// How many jobs the runner may hold leases on at once (at least 1 is used).
    pub capacity: u32,
    /// Hex SHA-256 of the credential's secret part.
    pub credential_hash: String,
    /// When the runner registered, in microseconds since the Unix epoch.
    pub registered_at_us: u64,
    /// The runner's last authenticated request, in microseconds since the Unix epoch; `None`
    /// before any.
    pub last_seen_at_us: Option<u64>,
}

impl RunnerRecord {
    /// Whether this runner carries every label in `runs_on` (labels compare case-insensitively,
    /// as on GitHub).
    pub fn carries(&self, runs_on: &[String]) -> bool {
        runs_on.iter().all(|wanted| {
            self.labels
                .iter()
                .any(|label| label.eq_ignore_ascii_case(wanted))
        })
    }
}

impl Store {
    /// Consumes the one-time `token` and registers a runner; returns it with its credential
    /// (the only copy). Durable on return. An unknown or used token changes nothing.
    pub async fn register_runner(
        &self,
        token: &str,
        name: &str,
        labels: &[String],
        capacity: u32,
    ) -> Result<(RunnerRecord, String), StoreError> {
        let token_hash = hash_secret(token);
        let runner_id = RunnerId::new();
        let secret = new_secret()?;
        let credential = format!("{runner_id}.{secret}");
        let record = RunnerRecord {
            runner_id,
            name: name.to_string(),
            labels: labels.to_vec(),
            capacity,
            credential_hash: hex(&hash_secret(&secret)),
            registered_at_us: now_us(),
            last_seen_at_us: None,
        };
        let bytes = encode(&record);
        self.write(move |core| {
            core.transact(|tx| {
                if tx.registration_tokens.remove(token_hash)?.is_none() {
                    return abort(StoreError::InvalidRegistrationToken);
                }
                tx.runners.insert(runner_id.to_key(), bytes.clone())?;
                Ok(())
            })
        })
        .await?;
        Ok((record, credential))
    }
}

/// Reads: from any thread, straight from the database.
impl Core {
    /// The runner whose credential this is, or `None` (unknown runner, wrong secret, garbage).
    /// Changes nothing.
    pub fn authenticate_runner(
        &self,
        credential: &str,
    ) -> Result<Option<RunnerRecord>, StoreError> {
        let Some((id_text, secret)) = credential.split_once('.') else {
            return Ok(None);
        };
        let Ok(runner_id) = id_text.parse::<RunnerId>() else {
            return Ok(None);
        };
        let Some(runner) = self.runner(runner_id)? else {
            return Ok(None);
        };
        let presented = hex(&hash_secret(secret));
        let matches: bool = presented
            .as_bytes()
            .ct_eq(runner.credential_hash.as_bytes())
            .into();
        Ok(matches.then_some(runner))
    }

    /// The runner with this id, or `None` when none is registered under it.
    pub fn runner(&self, runner_id: RunnerId) -> Result<Option<RunnerRecord>, StoreError> {
        match self
            .trees
            .runners
            .get(runner_id.to_key())
            .map_err(|error| self.database_error(error))?
        {
            Some(bytes) => decode("runners", &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Every registered runner, oldest registration first.
    pub fn runners(&self) -> Result<Vec<RunnerRecord>, StoreError> {
        let mut runners = Vec::new();
        for entry in self.trees.runners.iter() {
            let (_, bytes) = entry.map_err(|error| self.database_error(error))?;
            runners.push(decode("runners", &bytes)?);
        }
        Ok(runners)
    }
}

impl Store {
    /// Stamps the runner's last contact (no flush of its own and no waiting: it is
    /// informational; applied by the writer in order, a failure is logged).
    pub fn touch_runner(&self, runner_id: RunnerId) -> Result<(), StoreError> {
        let now = now_us();
        self.write_later("stamp a runner's last contact", move |core| {
            core.transact(|tx| {
                let Some(bytes) = tx.runners.get(runner_id.to_key())? else {
                    return abort(StoreError::RunnerNotFound(runner_id));
                };
                let mut runner: RunnerRecord = super::decode_tx("runners", &bytes)?;
                runner.last_seen_at_us = Some(now);
                tx.runners.insert(runner_id.to_key(), encode(&runner))?;
                Ok(())
            })
        })
    }
}
