//! Jobs in containers, through the Docker Engine API (`bollard`): a network per job, the
//! `services:` started on it (alias = service id, health awaited), and for `container:` one
//! long-lived job container that every `run:` step is `docker exec`-ed into.
//!
//! Table of contents: `options` (the `options:` flags), `paths` (host directories → GitHub's
//! paths inside the container), `exec` (a step's process in the container). Everything created
//! carries the labels `slipway.run`, `slipway.job` and `slipway.runner`, so a runner removes what
//! a crashed predecessor left (`remove_leftovers`).
//!
//! Ownership: steps run as the image's user (root, usually, as on GitHub); when the job ends the
//! workspace and temp directory are handed back to the runner's user with a `chown -R` exec'd as
//! root in the job container. Running the steps as the runner's uid instead would break images
//! whose steps need root (package installs), so the files are fixed afterwards.

pub mod docker_action;
mod docker_step;
mod exec;
pub mod options;
pub mod paths;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::container::LogOutput;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, EndpointSettings, ExecConfig, HealthStatusEnum, HostConfig,
    NetworkCreateRequest, NetworkingConfig, PortBinding,
};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, ListContainersOptions, ListNetworksOptions,
    LogsOptions, RemoveContainerOptions,
};
use futures_util::StreamExt;
use indexmap::IndexMap;
use protocol::{ContainerSpec, JobSpec};
use serde_json::{Map, Value, json};

pub use exec::{ExecRequest, run_exec};

use super::process::ProcessSpec;
use super::shell::{ShellError, ShellTemplate};
pub use paths::PathMap;

/// Label: the run a container or network belongs to.
pub const LABEL_RUN: &str = "slipway.run";
/// Label: the job key.
pub const LABEL_JOB: &str = "slipway.job";
/// Label: the runner that created it (its leftovers are removed when it starts again).
pub const LABEL_RUNNER: &str = "slipway.runner";

/// Requests to the engine may take this long (a step's exec stream is one request).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

/// The Docker address in use, for messages: `DOCKER_HOST` or the default socket.
pub fn docker_address() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string())
}

/// Connects to the local Docker engine, negotiating the API version (the engine may be older
/// than the client's default), and checks it answers.
pub async fn connect() -> Result<Docker, String> {
    let address = docker_address();
    let unreachable = |error: &dyn std::fmt::Display| {
        format!("Docker engine not reachable at {address}: {error}")
    };
    let docker = Docker::connect_with_local_defaults()
        .map_err(|error| unreachable(&error))?
        .with_timeout(Duration::from_secs(10));
    let docker = docker
        .negotiate_version()
        .await
        .map_err(|error| unreachable(&error))?;
    docker.ping().await.map_err(|error| unreachable(&error))?;
    Ok(docker.with_timeout(REQUEST_TIMEOUT))
}

/// Whether a Docker engine answers here (a runner then carries the `docker` label).
pub async fn docker_available() -> bool {
    connect().await.is_ok()
}

/// Removes every container and network labelled with `runner_id` (what a runner that was killed
/// left behind). Returns how many objects were removed.
pub async fn remove_leftovers(runner_id: &str) -> Result<usize, String> {
    let docker = connect().await?;
    remove_labelled(&docker, vec![format!("{LABEL_RUNNER}={runner_id}")]).await
}

/// Removes the containers, then the networks, carrying every label in `labels` (`key=value`).
async fn remove_labelled(docker: &Docker, labels: Vec<String>) -> Result<usize, String> {
    let filter = HashMap::from([("label".to_string(), labels)]);
    let containers = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filter.clone()),
            ..Default::default()
        }))
        .await
        .map_err(|error| format!("listing containers failed: {error}"))?;
    let mut removed = 0;
    for container in containers {
        if let Some(id) = container.id
            && remove_container(docker, &id).await
        {
            removed += 1;
        }
    }
    let networks = docker
        .list_networks(Some(ListNetworksOptions {
            filters: Some(filter),
        }))
        .await
        .map_err(|error| format!("listing networks failed: {error}"))?;
    for network in networks {
        if let Some(id) = network.id
            && docker.remove_network(&id).await.is_ok()
        {
            removed += 1;
        }
    }
    Ok(removed)
}

pub(crate) async fn remove_container(docker: &Docker, id: &str) -> bool {
    docker
        .remove_container(
            id,
            Some(RemoveContainerOptions {
                force: true,
                v: true,
                link: false,
            }),
        )
        .await
        .is_ok()
}

/// Runs `cmd` in `container` to its end and returns its exit code and combined output.
pub async fn exec_capture(
    docker: &Docker,
    container: &str,
    cmd: Vec<String>,
    user: Option<&str>,
) -> Result<(i64, String), String> {
    let config = ExecConfig {
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        cmd: Some(cmd),
        user: user.map(str::to_string),
        ..Default::default()
    };
    let exec = docker
        .create_exec(container, config)
        .await
        .map_err(|error| error.to_string())?;
    let mut text = String::new();
    if let StartExecResults::Attached { mut output, .. } = docker
        .start_exec(&exec.id, Some(StartExecOptions::default()))
        .await
        .map_err(|error| error.to_string())?
    {
        while let Some(Ok(chunk)) = output.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
    }
    let inspect = docker
        .inspect_exec(&exec.id)
        .await
        .map_err(|error| error.to_string())?;
    Ok((inspect.exit_code.unwrap_or(-1), text))
}

/// The job container, once started.
#[derive(Debug, Clone)]
pub struct JobContainer {
    /// The container's Docker id.
    pub id: String,
    /// Whether `bash` is on the container's `PATH` (else the default shell is `sh`).
    pub has_bash: bool,
    /// The container's own `PATH`, which `$GITHUB_PATH` entries are put in front of.
    pub path: Option<String>,
}

/// Everything Docker-side of one job: its network, services and job container.
pub struct JobContainers {
    /// The Docker connection the job's containers were created through.
    pub docker: Docker,
    labels: HashMap<String, String>,
    network: Option<String>,
    /// The job container, when the job has `container:`; `None` when steps run on the host.
    pub job_container: Option<JobContainer>,
    services: Vec<(String, String)>,
    /// Host path → container path for the job container's mounts.
    pub paths: PathMap,
}

/// What a service needs to be waited for.
struct StartedService {
    key: String,
    id: String,
    health_budget: Duration,
}

impl JobContainers {
    /// Creates the job's network, starts its services (waiting until they are healthy) and its
    /// job container. On failure everything created so far is removed again. `log` gets
    /// progress lines for the job log. Returns the `job.container` / `job.services` context.
    pub async fn start(
        spec: &JobSpec,
        paths: PathMap,
        runner_id: &str,
        cancel: &tokio_util::sync::CancellationToken,
        log: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<(JobContainers, Map<String, Value>), String> {
        let docker = connect().await?;
        let labels = HashMap::from([
            (LABEL_RUN.to_string(), spec.run_id.clone()),
            (LABEL_JOB.to_string(), spec.job_key.clone()),
            (LABEL_RUNNER.to_string(), runner_id.to_string()),
        ]);
        let mut containers = JobContainers {
            docker,
            labels,
            network: None,
            job_container: None,
            services: Vec::new(),
            paths,
        };
        let outcome = tokio::select! {
            outcome = containers.start_all(spec, log) => outcome,
            _ = cancel.cancelled() => Err("the job was cancelled while its containers started".to_string()),
        };
        match outcome {
            Ok(context) => Ok((containers, context)),
            Err(error) => {
                containers.remove_all().await;
                // A container whose creation was under way when a cancel came is not known by
                // id: its labels find it.
                let labels = vec![
                    format!("{LABEL_RUN}={}", spec.run_id),
                    format!("{LABEL_JOB}={}", spec.job_key),
                    format!("{LABEL_RUNNER}={runner_id}"),
                ];
                if let Err(error) = remove_labelled(&containers.docker, labels).await {
                    tracing::warn!(%error, "removing a job's containers failed");
                }
                Err(error)
            }
        }
    }

    async fn start_all(
        &mut self,
        spec: &JobSpec,
        log: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<Map<String, Value>, String> {
        let started = std::time::Instant::now();
        // A job without services needs no network of its own (the default bridge serves its
        // container): that saves creating and removing one, a good part of a container job's
        // start-up cost.
        let network = if spec.services.is_empty() {
            "bridge".to_string()
        } else {
            format!(
                "slipway-{}-{}",
                super::workspace::sanitise(&spec.job_key).to_ascii_lowercase(),
                unique_suffix()
            )
        };
        if !spec.services.is_empty() {
            self.create_network(&network).await?;
        }
        let mut context = Map::new();
        self.start_services_and_container(spec, &network, &mut context, log)
            .await?;
        log(&format!(
            "containers ready in {} ms",
            started.elapsed().as_millis()
        ));
        Ok(context)
    }

    async fn create_network(&mut self, network: &str) -> Result<(), String> {
        self.docker
            .create_network(NetworkCreateRequest {
                name: network.to_string(),
                driver: Some("bridge".to_string()),
                labels: Some(self.labels.clone()),
                ..Default::default()
            })
            .await
            .map_err(|error| format!("creating the job's network failed: {error}"))?;
        self.network = Some(network.to_string());
        Ok(())
    }

    async fn start_services_and_container(
        &mut self,
        spec: &JobSpec,
        network: &str,
        context: &mut Map<String, Value>,
        log: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<(), String> {
        let mut waiting = Vec::new();
        let mut services_context = Map::new();
        for (key, service) in &spec.services {
            let field = format!("services.{key}");
            log(&format!("starting service `{key}` ({})", service.image));
            let parsed = parse_options(service, &field)?;
            self.pull_if_missing(service, &field, log).await?;
            let mut body =
                self.create_body(service, &parsed, network, vec![key.clone()], &field)?;
            if let Some(entrypoint) = &service.entrypoint {
                body.entrypoint = Some(vec![entrypoint.clone()]);
            }
            if let Some(command) = &service.command {
                body.cmd = Some(
                    options::split_words(command)
                        .map_err(|error| format!("`{field}.command`: {error}"))?,
                );
            }
            let id = self.create_and_start(body, key).await?;
            self.services.push((key.clone(), id.clone()));
            waiting.push(StartedService {
                key: key.clone(),
                id: id.clone(),
                health_budget: health_budget(parsed.health.as_ref()),
            });
            services_context.insert(
                key.clone(),
                json!({"id": id, "network": network, "ports": self.host_ports(&id).await}),
            );
        }
        for service in waiting {
            self.wait_healthy(&service, log).await?;
        }

        if let Some(container) = &spec.container {
            log(&format!("starting the job container ({})", container.image));
            let parsed = parse_options(container, "container")?;
            self.pull_if_missing(container, "container", log).await?;
            for dir in self.paths.host_dirs() {
                std::fs::create_dir_all(dir)
                    .map_err(|error| format!("failed to create {}: {error}", dir.display()))?;
            }
            let mut body =
                self.create_body(container, &parsed, network, Vec::new(), "container")?;
            if parsed.entrypoint.is_none() {
                // Kept alive for the steps to be exec'd into, as GitHub's runner does.
                body.entrypoint = Some(vec!["tail".to_string()]);
                body.cmd = Some(vec!["-f".to_string(), "/dev/null".to_string()]);
            }
            body.working_dir = Some(
                parsed
                    .workdir
                    .clone()
                    .unwrap_or_else(|| paths::WORKSPACE.to_string()),
            );
            let host = body.host_config.get_or_insert_with(HostConfig::default);
            let mut binds = self.paths.binds();
            binds.extend(host.binds.take().unwrap_or_default());
            host.binds = Some(binds);
            let id = self.create_and_start(body, "job").await?;
            let inspect = self
                .docker
                .inspect_container(
                    &id,
                    None::<bollard::query_parameters::InspectContainerOptions>,
                )
                .await
                .map_err(|error| format!("inspecting the job container failed: {error}"))?;
            if inspect.state.as_ref().and_then(|state| state.running) != Some(true) {
                let logs = self.logs(&id).await;
                return Err(format!(
                    "the job container exited right after it started: {}",
                    logs.trim()
                ));
            }
            let path = inspect
                .config
                .and_then(|config| config.env)
                .unwrap_or_default()
                .into_iter()
                .find_map(|entry| entry.strip_prefix("PATH=").map(str::to_string));
            let has_bash = exec_capture(
                &self.docker,
                &id,
                vec!["sh".into(), "-c".into(), "command -v bash".into()],
                None,
            )
            .await
            .map(|(code, _)| code == 0)
            .unwrap_or(false);
            context.insert("container".into(), json!({"id": id, "network": network}));
            self.job_container = Some(JobContainer { id, has_bash, path });
        }
        if !services_context.is_empty() {
            context.insert("services".into(), Value::Object(services_context));
        }
        Ok(())
    }

    fn create_body(
        &self,
        container: &ContainerSpec,
        parsed: &options::CreateOptions,
        network: &str,
        mut aliases: Vec<String>,
        field: &str,
    ) -> Result<ContainerCreateBody, String> {
        let mut env: Vec<String> = container
            .env
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        env.extend(parsed.env.iter().cloned());
        let mut labels = parsed.labels.clone();
        labels.extend(self.labels.clone());
        let mut exposed = HashMap::new();
        let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
        for port in container.ports.iter().chain(parsed.ports.iter()) {
            let (key, binding) =
                parse_port(port).map_err(|error| format!("`{field}.ports`: {error}"))?;
            exposed.insert(key.clone(), HashMap::new());
            bindings
                .entry(key)
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(binding);
        }
        let mut host = HostConfig {
            network_mode: Some(network.to_string()),
            binds: (!container.volumes.is_empty()).then(|| container.volumes.clone()),
            port_bindings: (!bindings.is_empty()).then_some(bindings),
            ..Default::default()
        };
        parsed.apply_host(&mut host);
        aliases.extend(parsed.network_aliases.iter().cloned());
        Ok(ContainerCreateBody {
            image: Some(container.image.clone()),
            env: Some(env),
            user: parsed.user.clone(),
            hostname: parsed.hostname.clone(),
            working_dir: parsed.workdir.clone(),
            entrypoint: parsed.entrypoint.clone().map(|entrypoint| vec![entrypoint]),
            healthcheck: parsed.health.clone(),
            labels: Some(labels),
            exposed_ports: (!exposed.is_empty()).then_some(exposed),
            host_config: Some(host),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    network.to_string(),
                    EndpointSettings {
                        aliases: (!aliases.is_empty()).then_some(aliases),
                        ..Default::default()
                    },
                )])),
            }),
            ..Default::default()
        })
    }

    async fn create_and_start(
        &self,
        body: ContainerCreateBody,
        what: &str,
    ) -> Result<String, String> {
        let image = body.image.clone().unwrap_or_default();
        let name = format!(
            "slipway-{}-{}",
            super::workspace::sanitise(what).to_ascii_lowercase(),
            unique_suffix()
        );
        let created = self
            .docker
            .create_container(
                Some(CreateContainerOptions {
                    name: Some(name),
                    ..Default::default()
                }),
                body,
            )
            .await
            .map_err(|error| format!("creating the {what} container ({image}) failed: {error}"))?;
        if let Err(error) = self
            .docker
            .start_container(
                &created.id,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
        {
            remove_container(&self.docker, &created.id).await;
            return Err(format!(
                "starting the {what} container ({image}) failed: {error}"
            ));
        }
        Ok(created.id)
    }

    async fn pull_if_missing(
        &self,
        container: &ContainerSpec,
        field: &str,
        log: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<(), String> {
        if container.image.trim().is_empty() {
            return Err(format!("`{field}.image` is empty"));
        }
        if self.docker.inspect_image(&container.image).await.is_ok() {
            return Ok(());
        }
        log(&format!("pulling image {}", container.image));
        let credentials = container
            .credentials
            .as_ref()
            .map(|credentials| DockerCredentials {
                username: Some(credentials.username.clone()),
                password: Some(credentials.password.clone()),
                ..Default::default()
            });
        let mut pull = self.docker.create_image(
            Some(CreateImageOptions {
                from_image: Some(container.image.clone()),
                ..Default::default()
            }),
            None,
            credentials,
        );
        while let Some(item) = pull.next().await {
            if let Err(error) = item {
                return Err(format!(
                    "image `{}` (`{field}.image`) is not on this Docker engine and pulling it failed: {error}",
                    container.image
                ));
            }
        }
        Ok(())
    }

    /// `job.services.<id>.ports`: container port → host port.
    async fn host_ports(&self, id: &str) -> Map<String, Value> {
        let mut ports = Map::new();
        let Ok(inspect) = self
            .docker
            .inspect_container(
                id,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
        else {
            return ports;
        };
        let map = inspect
            .network_settings
            .and_then(|settings| settings.ports)
            .unwrap_or_default();
        for (key, bindings) in map {
            let port = key.split('/').next().unwrap_or(&key).to_string();
            let host = bindings
                .unwrap_or_default()
                .into_iter()
                .filter_map(|binding| binding.host_port)
                .find(|port| !port.is_empty());
            if let Some(host) = host {
                ports.insert(port, json!(host));
            }
        }
        ports
    }

    async fn wait_healthy(
        &self,
        service: &StartedService,
        log: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<(), String> {
        let started = std::time::Instant::now();
        let mut announced = false;
        loop {
            let inspect = self
                .docker
                .inspect_container(
                    &service.id,
                    None::<bollard::query_parameters::InspectContainerOptions>,
                )
                .await
                .map_err(|error| {
                    format!("service `{}`: inspecting it failed: {error}", service.key)
                })?;
            let state = inspect.state.unwrap_or_default();
            if state.running != Some(true) {
                let logs = self.logs(&service.id).await;
                return Err(format!(
                    "service `{}` exited (code {}) before the job started; its output:\n{}",
                    service.key,
                    state.exit_code.unwrap_or(-1),
                    logs.trim_end()
                ));
            }
            let health = state.health.unwrap_or_default();
            let last_output = || {
                health
                    .log
                    .as_ref()
                    .and_then(|log| log.last())
                    .and_then(|result| result.output.clone())
                    .unwrap_or_default()
                    .trim()
                    .to_string()
            };
            match health.status {
                None | Some(HealthStatusEnum::NONE | HealthStatusEnum::EMPTY) => return Ok(()),
                Some(HealthStatusEnum::HEALTHY) => {
                    log(&format!(
                        "service `{}` is healthy ({} ms)",
                        service.key,
                        started.elapsed().as_millis()
                    ));
                    return Ok(());
                }
                Some(HealthStatusEnum::UNHEALTHY) => {
                    return Err(format!(
                        "service `{}` is unhealthy after {:.1} s: its health check failed {} times in a row (last output: {:?})",
                        service.key,
                        started.elapsed().as_secs_f64(),
                        health.failing_streak.unwrap_or_default(),
                        last_output()
                    ));
                }
                Some(HealthStatusEnum::STARTING) => {}
            }
            if started.elapsed() >= service.health_budget {
                return Err(format!(
                    "service `{}` did not become healthy within {} s (last health check output: {:?})",
                    service.key,
                    service.health_budget.as_secs(),
                    last_output()
                ));
            }
            if !announced {
                log(&format!(
                    "waiting for service `{}` to be healthy",
                    service.key
                ));
                announced = true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The job's network (services and Docker actions join it).
    pub fn network(&self) -> Option<&str> {
        self.network.as_deref()
    }

    /// A container's output so far (stdout and stderr).
    async fn logs(&self, id: &str) -> String {
        let mut stream = self.docker.logs(
            id,
            Some(LogsOptions {
                stdout: true,
                stderr: true,
                ..Default::default()
            }),
        );
        let mut text = String::new();
        while let Some(Ok(chunk)) = stream.next().await {
            if let LogOutput::StdOut { message }
            | LogOutput::StdErr { message }
            | LogOutput::Console { message } = chunk
            {
                text.push_str(&String::from_utf8_lossy(&message));
            }
        }
        text
    }

    /// At job end: the workspace handed back to the runner's user, the services' output
    /// appended to the job log, and everything removed.
    pub async fn finish(mut self, log: &(dyn Fn(&str) + Send + Sync)) {
        if let Some(container) = &self.job_container {
            let owner = format!("{}:{}", nix::unistd::getuid(), nix::unistd::getgid());
            let chown = vec![
                "chown".to_string(),
                "-R".to_string(),
                owner.clone(),
                paths::WORKSPACE.to_string(),
                paths::TEMP.to_string(),
            ];
            match exec_capture(&self.docker, &container.id, chown, Some("0")).await {
                Ok((0, _)) => {}
                Ok((code, output)) => log(&format!(
                    "##[warning]handing the workspace back to {owner} failed (exit code {code}): {}",
                    output.trim()
                )),
                Err(error) => log(&format!(
                    "##[warning]handing the workspace back to {owner} failed: {error}"
                )),
            }
        }
        for (key, id) in self.services.clone() {
            let logs = self.logs(&id).await;
            log(&format!("service `{key}` output:"));
            for line in logs.lines() {
                log(&format!("  {key} | {line}"));
            }
        }
        self.remove_all().await;
    }

    async fn remove_all(&mut self) {
        if let Some(container) = self.job_container.take() {
            remove_container(&self.docker, &container.id).await;
        }
        for (_, id) in std::mem::take(&mut self.services) {
            remove_container(&self.docker, &id).await;
        }
        if let Some(network) = self.network.take()
            && let Err(error) = self.docker.remove_network(&network).await
        {
            tracing::warn!(%error, network, "removing the job's network failed");
        }
    }

    /// The environment of a step in the job container: the layered env and `GITHUB_*` values with
    /// host paths rewritten, `HOME`, and `PATH` only when `$GITHUB_PATH` added to it.
    pub fn step_env(
        &self,
        env: impl IntoIterator<Item = (String, String)>,
        path_prepends: &[String],
    ) -> Vec<(String, String)> {
        let mut out: IndexMap<String, String> = env
            .into_iter()
            .map(|(name, value)| {
                let value = self.paths.rewrite(&value);
                (name, value)
            })
            .collect();
        out.insert("HOME".to_string(), paths::HOME.to_string());
        out.shift_remove("PATH");
        if !path_prepends.is_empty() {
            let base = self
                .job_container
                .as_ref()
                .and_then(|container| container.path.clone())
                .unwrap_or_else(|| {
                    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string()
                });
            let mut path: Vec<String> = path_prepends.iter().rev().cloned().collect();
            path.push(base);
            out.insert("PATH".to_string(), path.join(":"));
        }
        out.into_iter().collect()
    }
}

impl JobContainers {
    /// How `spec` (a step's process as it would run on the host) runs in the job container:
    /// program, arguments, environment and directory rewritten to the container's paths.
    pub fn exec_request(&self, spec: &ProcessSpec, temp: &Path, label: &str) -> ExecRequest {
        let pid_dir = temp.join("_pids");
        if let Err(error) = std::fs::create_dir_all(&pid_dir) {
            tracing::warn!(%error, "creating the step pid directory failed");
        }
        ExecRequest {
            container: self
                .job_container
                .as_ref()
                .map(|container| container.id.clone())
                .unwrap_or_default(),
            program: self.paths.rewrite(&spec.program),
            args: spec
                .args
                .iter()
                .map(|arg| self.paths.rewrite(arg))
                .collect(),
            env: spec.env.clone(),
            working_dir: self.paths.to_container(&spec.working_directory),
            pid_file: self
                .paths
                .to_container(&pid_dir.join(format!("{label}.pid"))),
        }
    }
}

/// The `shell:` template inside the job container, following GitHub's rule there: with no
/// `shell:`, `bash -e {0}` when the image has bash, else `sh -e {0}`. Named shells are not
/// looked up on the host (they must exist in the image).
pub fn shell_template(
    shell: Option<&str>,
    containers: &JobContainers,
) -> Result<ShellTemplate, ShellError> {
    let has_bash = containers
        .job_container
        .as_ref()
        .is_some_and(|container| container.has_bash);
    let words = |text: &str| {
        text.split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let shell = shell.map(str::trim).filter(|shell| !shell.is_empty());
    let sh = || ShellTemplate {
        words: words("sh -e {0}"),
        extension: ".sh",
    };
    Ok(match shell {
        None if has_bash => ShellTemplate {
            words: words("bash -e {0}"),
            extension: ".sh",
        },
        None | Some("sh") => sh(),
        Some("bash") => ShellTemplate {
            words: words("bash --noprofile --norc -eo pipefail {0}"),
            extension: ".sh",
        },
        Some("python") => ShellTemplate {
            words: words("python {0}"),
            extension: ".py",
        },
        Some(name @ ("pwsh" | "powershell")) => ShellTemplate {
            words: vec![
                name.to_string(),
                "-command".to_string(),
                ". '{0}'".to_string(),
            ],
            extension: ".ps1",
        },
        Some("cmd") => return Err(ShellError::NotInstalled("cmd".to_string())),
        // A custom template: its words as given, the extension from the program's name.
        Some(custom) if custom.contains("{0}") => {
            let words = words(custom);
            let program = words.first().map(String::as_str).unwrap_or_default();
            let base = program.rsplit('/').next().unwrap_or(program);
            let extension = match base {
                "bash" | "sh" | "zsh" | "dash" => ".sh",
                name if name.starts_with("python") => ".py",
                "pwsh" | "powershell" => ".ps1",
                _ => "",
            };
            ShellTemplate { words, extension }
        }
        Some(other) => return Err(ShellError::Unknown(other.to_string())),
    })
}

fn parse_options(container: &ContainerSpec, field: &str) -> Result<options::CreateOptions, String> {
    match &container.options {
        Some(text) => options::parse(text).map_err(|error| format!("`{field}.options`: {error}")),
        None => Ok(options::CreateOptions::default()),
    }
}

/// `5432`, `8080:80`, `127.0.0.1:8080:80/udp` → (`80/tcp`, binding).
fn parse_port(text: &str) -> Result<(String, PortBinding), String> {
    let (spec, protocol) = match text.trim().rsplit_once('/') {
        Some((spec, protocol)) => (spec, protocol),
        None => (text.trim(), "tcp"),
    };
    let parts: Vec<&str> = spec.split(':').collect();
    let (ip, host, container) = match parts.as_slice() {
        [container] => (None, None, *container),
        [host, container] => (None, Some(*host), *container),
        [ip, host, container] => (Some(*ip), Some(*host), *container),
        _ => return Err(format!("`{text}` is not a port mapping")),
    };
    let valid = |port: &str| port.parse::<u16>().is_ok();
    if !valid(container) || host.is_some_and(|host| !host.is_empty() && !valid(host)) {
        return Err(format!(
            "`{text}` is not a port mapping (like 5432 or 8080:80)"
        ));
    }
    Ok((
        format!("{container}/{protocol}"),
        PortBinding {
            host_ip: ip.map(str::to_string),
            host_port: Some(host.unwrap_or_default().to_string()),
        },
    ))
}

/// How long a service's health check gets: its start period and every retry, plus a margin.
fn health_budget(health: Option<&bollard::models::HealthConfig>) -> Duration {
    let nanos = |value: Option<i64>, default: i64| value.filter(|v| *v > 0).unwrap_or(default);
    let second = 1_000_000_000;
    let (interval, timeout, retries, start) = match health {
        Some(health) => (
            nanos(health.interval, 30 * second),
            nanos(health.timeout, 30 * second),
            health.retries.filter(|r| *r > 0).unwrap_or(3),
            health.start_period.unwrap_or(0).max(0),
        ),
        None => (30 * second, 30 * second, 3, 0),
    };
    let total = start + (interval + timeout) * (retries + 1) + 30 * second;
    Duration::from_nanos(u64::try_from(total).unwrap_or(u64::MAX))
}

pub(crate) fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or_default();
    format!("{:x}{:06x}", std::process::id(), nanos & 0xff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_parsed() {
        let (key, binding) = parse_port("5432").unwrap();
        assert_eq!(key, "5432/tcp");
        assert_eq!(binding.host_port.as_deref(), Some(""));
        let (key, binding) = parse_port("127.0.0.1:8080:80/udp").unwrap();
        assert_eq!(key, "80/udp");
        assert_eq!(binding.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(binding.host_port.as_deref(), Some("8080"));
        assert!(parse_port("x:80").is_err());
        assert!(parse_port("a:b:c:d").is_err());
    }

    #[test]
    fn health_budget_covers_the_retries() {
        let health = bollard::models::HealthConfig {
            interval: Some(1_000_000_000),
            timeout: Some(1_000_000_000),
            retries: Some(2),
            ..Default::default()
        };
        assert_eq!(health_budget(Some(&health)), Duration::from_secs(36));
    }
}
