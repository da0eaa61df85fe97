//! Release policies per category in the engine: `slipway release policy ENV CATEGORY …` sets
//! (or clears) one category's approvals, approvers, wait and allowed windows in an environment
//! record, audited. What a policy means is `deploy::category`'s.
//!
//! This module must not serve HTTP (`api::releases` does) nor know sled.

use deploy::{
    AuditAction, AuditEntry, AuditSubject, CategoryPolicy, Environment, Protection,
    ReleaseCategory, parse_approvers, parse_duration,
};
use indexmap::IndexMap;
use jiff::Timestamp;
use protocol::releases::ReleasePolicyRequest;

use super::{ReleaseServiceError, Releases, check_actor};
use crate::store::{RecordKind, Store};

impl Releases {
    /// Sets (or clears) the policy of `category` in `environment`; every category's policy
    /// there, as it is now.
    pub async fn set_policy(
        &self,
        environment: &str,
        category: &str,
        request: ReleasePolicyRequest,
        actor: &str,
        now: Timestamp,
    ) -> Result<IndexMap<ReleaseCategory, CategoryPolicy>, ReleaseServiceError> {
        check_actor("actor", actor)?;
        let category =
            ReleaseCategory::parse(category).map_err(|message| ReleaseServiceError::Invalid {
                field: "category",
                message,
            })?;
        let _guard = self.lock.lock().await;
        let mut record: Environment = self.environment(environment)?;
        let reason = if request.clear {
            record.release_policies.shift_remove(&category);
            format!("{category} releases follow the release protection of `{environment}`")
        } else {
            let invalid = |field: &'static str, message: String| ReleaseServiceError::Invalid {
                field,
                message,
            };
            let protection = Protection {
                required_approvals: request.approvals,
                approvers: parse_approvers(&request.approvers.join(","))
                    .map_err(|message| invalid("approvers", message))?,
                wait: match &request.wait {
                    Some(text) => {
                        parse_duration(text).map_err(|error| invalid("wait", error.to_string()))?
                    }
                    None => deploy::Duration::ZERO,
                },
                ..Protection::default()
            };
            let policy = CategoryPolicy::new(protection, &request.allowed_windows)
                .map_err(|error| invalid("policy", error.to_string()))?;
            let summary = format!(
                "{category} releases in `{environment}`: {} approval(s){}{}",
                policy.protection.required_approvals,
                if policy.protection.wait.is_zero() {
                    String::new()
                } else {
                    format!(", wait {}", request.wait.as_deref().unwrap_or_default())
                },
                if policy.allowed_windows.is_empty() {
                    String::new()
                } else {
                    format!(", within {}", request.allowed_windows.join(", "))
                }
            );
            record.release_policies.insert(category, policy);
            summary
        };
        let audit = AuditEntry::new(
            now,
            actor.to_string(),
            AuditAction::ReleasePolicyChanged,
            environment,
            AuditSubject::Release {
                tag: format!("category {category}"),
            },
            reason,
        );
        self.engine
            .store()
            .put_records(&[
                (
                    RecordKind::Environments,
                    record.name.clone(),
                    Store::encode_record(&record),
                ),
                self.audit_item(&audit)?,
            ])
            .await?;
        Ok(record.release_policies)
    }
}
