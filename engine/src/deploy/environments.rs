//! Environment configuration (create, edit, remove) and approver groups, as records in the
//! store, and how an environment's lane reads for people. It must not start or settle
//! deployments (that is `lane` and `settle`).

use deploy::{DeploymentStatus, Environment, Lane};
use jiff::Timestamp;
use protocol::environments::EnvironmentPatch;

use super::{DeployError, Deployments, EnvironmentView, GROUPS_KEY};
use crate::store::RecordKind;

impl Deployments {
    /// Every configured environment, from the store's environment records.
    pub fn environments(&self) -> Result<Vec<Environment>, DeployError> {
        Ok(self.engine.store().records(RecordKind::Environments, "")?)
    }

    /// The environment `name`'s settings; [`DeployError::UnknownEnvironment`] when none is
    /// configured.
    pub fn environment(&self, name: &str) -> Result<Environment, DeployError> {
        self.engine
            .store()
            .record(RecordKind::Environments, name)?
            .ok_or_else(|| DeployError::UnknownEnvironment(name.to_string()))
    }

    /// The environment `name` with its lane and the lane's state in words, as the API shows it.
    pub fn environment_view(&self, name: &str) -> Result<EnvironmentView, DeployError> {
        let environment = self.environment(name)?;
        let lane = self.lane(name)?;
        let lane_state = describe_lane(&lane, &environment, self.now());
        Ok(EnvironmentView {
            environment,
            lane,
            lane_state,
        })
    }

    /// Creates an environment from a settings patch (`slipway env create`).
    pub async fn create_environment(
        &self,
        name: &str,
        settings: &EnvironmentPatch,
    ) -> Result<Environment, DeployError> {
        check_environment_name(name)?;
        let _guard = self.lock.lock().await;
        let store = self.engine.store();
        if store
            .record::<Environment>(RecordKind::Environments, name)?
            .is_some()
        {
            return Err(DeployError::EnvironmentExists(name.to_string()));
        }
        let environment = Environment::from_patch(name, settings)
            .map_err(|error| DeployError::Invalid(error.to_string()))?;
        store
            .put_record(RecordKind::Environments, name, &environment)
            .await?;
        Ok(environment)
    }

    /// Applies a settings patch (`slipway env edit`) to an existing environment. Waiting deployments are
    /// evaluated against the new rules at once.
    pub async fn edit_environment(
        &self,
        name: &str,
        settings: &EnvironmentPatch,
    ) -> Result<Environment, DeployError> {
        let environment = {
            let _guard = self.lock.lock().await;
            let mut environment = self.environment(name)?;
            environment
                .apply_patch(settings)
                .map_err(|error| DeployError::Invalid(error.to_string()))?;
            self.engine
                .store()
                .put_record(RecordKind::Environments, name, &environment)
                .await?;
            environment
        };
        self.tick().await;
        Ok(environment)
    }

    /// Removes an environment that has nothing waiting or running.
    pub async fn remove_environment(&self, name: &str) -> Result<(), DeployError> {
        let _guard = self.lock.lock().await;
        self.environment(name)?;
        let lane = self.lane(name)?;
        if lane.in_progress.is_some() || !lane.queue.is_empty() {
            return Err(DeployError::Invalid(format!(
                "environment `{name}` has deployments waiting or running; cancel their runs first"
            )));
        }
        if self
            .deployments(Some(name))?
            .iter()
            .any(|deployment| deployment.status == DeploymentStatus::Waiting)
        {
            return Err(DeployError::Invalid(format!(
                "environment `{name}` has deployments waiting for approval; reject or cancel them first"
            )));
        }
        self.engine
            .store()
            .remove_record(RecordKind::Environments, name)
            .await?;
        Ok(())
    }

    // ---- approver groups ----------------------------------------------------------------

    /// Approver groups: `@name` in an environment's approvers means every member.
    pub fn groups(&self) -> Result<deploy::Groups, DeployError> {
        Ok(self
            .engine
            .store()
            .record(RecordKind::EnvironmentState, GROUPS_KEY)?
            .unwrap_or_default())
    }

    /// Sets (or replaces) a group's members; an empty list removes the group.
    pub async fn set_group(
        &self,
        name: &str,
        members: &[String],
    ) -> Result<deploy::Groups, DeployError> {
        let name = name.trim().trim_start_matches('@');
        check_environment_name(name).map_err(|_| {
            DeployError::Invalid(format!(
                "group name `{name}`: use letters, digits, `-`, `_` and `.`"
            ))
        })?;
        let mut clean: Vec<String> = Vec::new();
        for member in members.iter().flat_map(|member| member.split(',')) {
            let member = member.trim();
            if member.is_empty() {
                continue;
            }
            if member.starts_with('@') || member.chars().any(char::is_whitespace) {
                return Err(DeployError::Invalid(format!(
                    "group member `{member}`: a login, not a group or a phrase"
                )));
            }
            if !clean.iter().any(|known| known == member) {
                clean.push(member.to_string());
            }
        }
        let _guard = self.lock.lock().await;
        let mut groups = self.groups()?;
        if clean.is_empty() {
            groups.members.shift_remove(name);
        } else {
            groups.members.insert(name.to_string(), clean);
        }
        self.engine
            .store()
            .put_record(RecordKind::EnvironmentState, GROUPS_KEY, &groups)
            .await?;
        Ok(groups)
    }
}

fn check_environment_name(name: &str) -> Result<(), DeployError> {
    let valid = !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(DeployError::Invalid(format!(
            "environment name `{name}`: use letters, digits, `-`, `_` and `.` (at most 255)"
        )))
    }
}

/// How the lane stands, for people.
fn describe_lane(lane: &Lane, environment: &Environment, now: Timestamp) -> String {
    match lane.status(now, &environment.freeze_windows) {
        deploy::LaneStatus::Idle => "idle".to_string(),
        deploy::LaneStatus::Busy {
            deployment_id,
            queued,
        } => {
            format!("deploying {deployment_id}, {queued} queued")
        }
        deploy::LaneStatus::Frozen { freeze, queued } => format!(
            "frozen until {} ({}), {queued} queued",
            freeze
                .until
                .map(|until| until.to_string())
                .unwrap_or_else(|| "further notice".into()),
            freeze.window.as_str()
        ),
        deploy::LaneStatus::Ready { next, queued } => {
            format!("ready to start {next}, {queued} queued")
        }
    }
}
