//! Docker actions: `runs.using: docker` with `image: Dockerfile` (built here, tagged by a hash of
//! the action's files so an unchanged action is not built again) or `image: docker://…`, and
//! `uses: docker://image` steps. The container gets GitHub's mounts (`/github/workspace`,
//! `/github/file_commands`, `/github/home`, `/github/workflow`), the inputs as `INPUT_*`, the
//! job's network, and is removed when it ends; a timeout or cancel stops it (SIGTERM, then
//! SIGKILL after the grace period).
//!
//! `pre-entrypoint` runs just before the main entrypoint and `post-entrypoint` just after it, in
//! the same step (GitHub runs them as separate steps at the start and end of the job).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    BuildImageOptions, CreateContainerOptions, LogsOptions, StopContainerOptions,
};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::super::process::{OutputStream, ProcessEnd};

/// The workspace inside a Docker action's container.
pub const WORKSPACE: &str = "/github/workspace";
/// The step's command files inside a Docker action's container.
pub const FILE_COMMANDS: &str = "/github/file_commands";
/// `RUNNER_TEMP` inside a Docker action's container.
pub const RUNNER_TEMP: &str = "/github/runner_temp";

/// One container run of a Docker action.
#[derive(Debug, Clone)]
pub struct DockerActionRun {
    /// The Docker connection the container is created through.
    pub docker: Docker,
    /// The image to run: a pulled `docker://` image or one built from the action's `Dockerfile`.
    pub image: String,
    /// Replaces the image's entrypoint when set.
    pub entrypoint: Option<String>,
    /// The container's arguments (`runs.args`, evaluated; empty for the pre and post entrypoints).
    pub args: Vec<String>,
    /// The container's environment: the step's env, inputs as `INPUT_<NAME>`, and `HOME` and
    /// `GITHUB_EVENT_PATH` in the container's layout.
    pub env: Vec<(String, String)>,
    /// `host:container` mounts.
    pub binds: Vec<String>,
    /// The job's network, when it has one.
    pub network: Option<String>,
    /// Labels put on the container (run, job and runner), so leftovers can be found and removed.
    pub labels: HashMap<String, String>,
}

/// The path map of a Docker action's container: GitHub's `/github/...` layout.
pub fn docker_action_paths(workspace: &Path, temp: &Path) -> super::PathMap {
    super::PathMap::from_entries(vec![
        (
            temp.join("_runner_file_commands"),
            FILE_COMMANDS.to_string(),
        ),
        (temp.join("_github_home"), super::paths::HOME.to_string()),
        (
            temp.join("_github_workflow"),
            super::paths::WORKFLOW.to_string(),
        ),
        (workspace.to_path_buf(), WORKSPACE.to_string()),
        (temp.to_path_buf(), RUNNER_TEMP.to_string()),
    ])
}

/// The image a Docker action runs: `docker://name` pulled when missing, or a Dockerfile (relative
/// to `action_dir`) built once per content of the action's directory.
pub async fn action_image(
    docker: &Docker,
    image: &str,
    action_dir: Option<&Path>,
    log: &(dyn Fn(&str) + Send + Sync),
) -> Result<String, String> {
    if let Some(name) = image.strip_prefix("docker://") {
        ensure_image(docker, name, log).await?;
        return Ok(name.to_string());
    }
    let Some(dir) = action_dir else {
        return Err(format!("image `{image}` needs the action's directory"));
    };
    let dockerfile = dir.join(image);
    if !dockerfile.is_file() {
        return Err(format!(
            "the action's Dockerfile {} does not exist",
            dockerfile.display()
        ));
    }
    let tag = format!("slipway-action:{}", content_hash(dir)?);
    if docker.inspect_image(&tag).await.is_ok() {
        log(&format!("using the action image {tag} (built before)"));
        return Ok(tag);
    }
    log(&format!(
        "building the action image {tag} from {}",
        dockerfile.display()
    ));
    let tar = std::process::Command::new("tar")
        .arg("-C")
        .arg(dir)
        .args(["-cf", "-", "."])
        .output()
        .map_err(|error| format!("packing the action's directory failed: {error}"))?;
    if !tar.status.success() {
        return Err(format!(
            "packing the action's directory failed: {}",
            String::from_utf8_lossy(&tar.stderr).trim()
        ));
    }
    let mut build = docker.build_image(
        BuildImageOptions {
            dockerfile: image.to_string(),
            t: Some(tag.clone()),
            rm: true,
            forcerm: true,
            ..Default::default()
        },
        None,
        Some(bollard::body_full(tar.stdout.into())),
    );
    while let Some(item) = build.next().await {
        match item {
            Ok(info) => {
                if let Some(error) = info.error {
                    return Err(format!(
                        "building the action image failed: {}",
                        error.trim()
                    ));
                }
                if let Some(text) = info.stream {
                    for line in text.lines().filter(|line| !line.trim().is_empty()) {
                        log(line);
                    }
                }
            }
            Err(error) => return Err(format!("building the action image failed: {error}")),
        }
    }
    Ok(tag)
}

async fn ensure_image(
    docker: &Docker,
    name: &str,
    log: &(dyn Fn(&str) + Send + Sync),
) -> Result<(), String> {
    if docker.inspect_image(name).await.is_ok() {
        return Ok(());
    }
    log(&format!("pulling image {name}"));
    let mut pull = docker.create_image(
        Some(bollard::query_parameters::CreateImageOptions {
            from_image: Some(name.to_string()),
            ..Default::default()
        }),
        None,
        None,
    );
    while let Some(item) = pull.next().await {
        if let Err(error) = item {
            return Err(format!(
                "image `{name}` is not on this Docker engine and pulling it failed: {error}"
            ));
        }
    }
    Ok(())
}

/// SHA-256 over the action directory's files (paths and contents, in sorted order).
fn content_hash(dir: &Path) -> Result<String, String> {
    let mut files = Vec::new();
    collect_files(dir, dir, &mut files)
        .map_err(|error| format!("reading the action's directory failed: {error}"))?;
    files.sort();
    let mut hasher = Sha256::new();
    for relative in files {
        let bytes = std::fs::read(dir.join(&relative))
            .map_err(|error| format!("reading {} failed: {error}", relative.display()))?;
        hasher.update(relative.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    let digest = hasher.finalize();
    Ok(digest
        .iter()
        .take(12)
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

fn collect_files(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if entry.file_name() != ".git" {
                collect_files(root, &path, files)?;
            }
        } else if kind.is_file()
            && let Ok(relative) = path.strip_prefix(root)
        {
            files.push(relative.to_path_buf());
        }
    }
    Ok(())
}

/// Runs one container of a Docker action to its end, the deadline or cancellation, streaming its
/// output to `on_line`; the container is removed afterwards.
pub async fn run_docker_action(
    run: &DockerActionRun,
    deadline: Option<Instant>,
    cancel: &CancellationToken,
    kill_grace: Duration,
    mut on_line: impl FnMut(OutputStream, String),
) -> ProcessEnd {
    let docker = &run.docker;
    let body = ContainerCreateBody {
        image: Some(run.image.clone()),
        entrypoint: run.entrypoint.clone().map(|entrypoint| vec![entrypoint]),
        cmd: (!run.args.is_empty() || run.entrypoint.is_some()).then(|| run.args.clone()),
        env: Some(
            run.env
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect(),
        ),
        working_dir: Some(WORKSPACE.to_string()),
        labels: Some(run.labels.clone()),
        host_config: Some(HostConfig {
            binds: Some(run.binds.clone()),
            network_mode: run.network.clone(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let name = format!("slipway-action-{}", super::unique_suffix());
    let created = match docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name),
                ..Default::default()
            }),
            body,
        )
        .await
    {
        Ok(created) => created,
        Err(error) => {
            return ProcessEnd::SpawnFailed(format!(
                "creating the action's container ({}) failed: {error}",
                run.image
            ));
        }
    };
    let id = created.id;
    if let Err(error) = docker
        .start_container(
            &id,
            None::<bollard::query_parameters::StartContainerOptions>,
        )
        .await
    {
        super::remove_container(docker, &id).await;
        return ProcessEnd::SpawnFailed(format!(
            "starting the action's container ({}) failed: {error}",
            run.image
        ));
    }
    let mut logs = docker.logs(
        &id,
        Some(LogsOptions {
            follow: true,
            stdout: true,
            stderr: true,
            ..Default::default()
        }),
    );
    let mut stdout = String::new();
    let mut stderr = String::new();
    let mut ended_by = None;
    loop {
        tokio::select! {
            item = logs.next() => match item {
                Some(Ok(LogOutput::StdOut { message } | LogOutput::Console { message })) => {
                    push_lines(&mut stdout, &message, |line| on_line(OutputStream::Stdout, line));
                }
                Some(Ok(LogOutput::StdErr { message })) => {
                    push_lines(&mut stderr, &message, |line| on_line(OutputStream::Stderr, line));
                }
                Some(Ok(LogOutput::StdIn { .. })) => {}
                Some(Err(_)) | None => break,
            },
            _ = sleep_until_some(deadline), if ended_by.is_none() => {
                ended_by = Some(ProcessEnd::TimedOut);
                stop(docker, &id, kill_grace).await;
            }
            _ = cancel.cancelled(), if ended_by.is_none() => {
                ended_by = Some(ProcessEnd::Cancelled);
                stop(docker, &id, kill_grace).await;
            }
        }
    }
    for (rest, stream) in [
        (stdout, OutputStream::Stdout),
        (stderr, OutputStream::Stderr),
    ] {
        if !rest.is_empty() {
            on_line(stream, rest);
        }
    }
    let end = match ended_by {
        Some(end) => end,
        None => {
            let code = docker
                .inspect_container(
                    &id,
                    None::<bollard::query_parameters::InspectContainerOptions>,
                )
                .await
                .ok()
                .and_then(|inspect| inspect.state)
                .and_then(|state| state.exit_code)
                .unwrap_or(-1);
            ProcessEnd::Exited(i32::try_from(code).unwrap_or(-1))
        }
    };
    super::remove_container(docker, &id).await;
    end
}

async fn stop(docker: &Docker, id: &str, grace: Duration) {
    let seconds = i32::try_from(grace.as_secs().max(1)).unwrap_or(i32::MAX);
    let _ = docker
        .stop_container(
            id,
            Some(StopContainerOptions {
                t: Some(seconds),
                signal: None,
            }),
        )
        .await;
}

fn push_lines(pending: &mut String, bytes: &[u8], mut emit: impl FnMut(String)) {
    pending.push_str(&String::from_utf8_lossy(bytes));
    while let Some(at) = pending.find('\n') {
        let mut line: String = pending.drain(..=at).collect();
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
        emit(line);
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_content_hash_follows_the_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM x\n").unwrap();
        let first = content_hash(dir.path()).unwrap();
        assert_eq!(first, content_hash(dir.path()).unwrap());
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/entry.sh"), "echo\n").unwrap();
        assert_ne!(first, content_hash(dir.path()).unwrap());
    }

    #[test]
    fn docker_action_paths_follow_githubs_layout() {
        let map = docker_action_paths(Path::new("/w/ws"), Path::new("/w/temp"));
        assert_eq!(
            map.to_container(Path::new("/w/ws/a")),
            "/github/workspace/a"
        );
        assert_eq!(
            map.to_container(Path::new("/w/temp/_runner_file_commands/set_env_1")),
            "/github/file_commands/set_env_1"
        );
        assert_eq!(
            map.to_container(Path::new("/w/temp/x")),
            "/github/runner_temp/x"
        );
    }
}
