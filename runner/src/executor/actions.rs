//! `uses:` steps: the built-in equivalents of `actions/checkout`, `actions/upload-artifact`,
//! `actions/download-artifact` and `actions/cache` (restore now, save at job end), local
//! composite actions (`uses: ./path`), and remote actions (`owner/repo[/path]@ref`, JavaScript
//! or composite) at the commit the run pinned. `actions/checkout` always runs built in; the
//! cache and artifact actions do unless the real action was pinned (mirrored) or is in an action
//! directory. Docker actions fail the step with a clear error.
//!
//! The file work lives in `checkout`, `artifacts` and `remote_actions`.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use workflows::action::{BuiltIn, RemoteAction};
use workflows::model::Step;

use super::artifacts::{
    cache_entry_files, copy_files, copy_tree, key_directory, name_matches, select_files,
};
use super::checkout::check_out;
use super::job::{Frame, JobRun, PostAction, PreparedStep, StepBody};
use super::workspace::sanitise;

/// Which action a `uses:` names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ActionRef {
    Checkout,
    UploadArtifact,
    DownloadArtifact,
    Cache,
    CacheRestore,
    CacheSave,
    Local(String),
    /// `docker://image`: the image run as a Docker action.
    Docker(String),
    Unsupported(String),
}

fn classify(uses: &str) -> ActionRef {
    let uses = uses.trim();
    if uses.starts_with("./") || uses.starts_with("../") {
        return ActionRef::Local(uses.to_string());
    }
    if let Some(image) = uses.strip_prefix("docker://") {
        return ActionRef::Docker(image.to_string());
    }
    let name = uses
        .split('@')
        .next()
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_ascii_lowercase();
    match name.as_str() {
        "actions/checkout" => ActionRef::Checkout,
        "actions/upload-artifact" => ActionRef::UploadArtifact,
        "actions/download-artifact" => ActionRef::DownloadArtifact,
        "actions/cache" => ActionRef::Cache,
        "actions/cache/restore" => ActionRef::CacheRestore,
        "actions/cache/save" => ActionRef::CacheSave,
        _ => ActionRef::Unsupported(uses.to_string()),
    }
}

impl JobRun<'_> {
    /// Runs a `uses:` step.
    pub(super) async fn run_action(
        &mut self,
        frame: &mut Frame,
        step: &Step,
        uses: &str,
        prepared: &PreparedStep,
    ) -> StepBody {
        let env = self.layered_env(frame, &prepared.env);
        let scope = self.scope(frame, &env);
        let mut with = IndexMap::new();
        for (name, value) in &step.with {
            match scope.render(&value.value) {
                Ok(rendered) => {
                    with.insert(name.to_ascii_lowercase(), rendered);
                }
                Err(error) => {
                    self.log(frame, &format!("##[error]input `{name}`: {error}"));
                    return StepBody::failure();
                }
            }
        }
        let remote = RemoteAction::parse(uses);
        if let Some(action) = remote.filter(|action| match action.built_in() {
            BuiltIn::Always => false,
            BuiltIn::UnlessMirrored => self.has_real_action(action, uses),
            BuiltIn::No => true,
        }) {
            return self
                .run_remote_action(frame, step, uses.trim(), &action, with, prepared)
                .await;
        }
        let result = match classify(uses) {
            ActionRef::Checkout => self.checkout(frame, &with).await,
            ActionRef::UploadArtifact => self.upload_artifact(frame, &with).await,
            ActionRef::DownloadArtifact => self.download_artifact(frame, &with).await,
            ActionRef::Cache => self.restore_cache(frame, &with, true).await,
            ActionRef::CacheRestore => self.restore_cache(frame, &with, false).await,
            ActionRef::CacheSave => self.save_cache_now(frame, &with).await,
            ActionRef::Local(path) => {
                return self.run_composite(frame, &path, with, prepared).await;
            }
            ActionRef::Docker(image) => {
                return self.run_docker_uses(frame, &image, with, prepared).await;
            }
            ActionRef::Unsupported(uses) => Err(format!(
                "step `{}` uses `{uses}`, which this runner does not provide (built in: actions/checkout, \
                 actions/upload-artifact, actions/download-artifact, actions/cache, local composite and Docker actions, and docker:// images)",
                prepared.id
            )),
        };
        match result {
            Ok(outputs) => StepBody::success(outputs),
            Err(error) => {
                self.log(frame, &format!("##[error]{error}"));
                StepBody::failure()
            }
        }
    }

    /// Post actions run after the last step of a successful job (cache saves).
    pub(super) async fn run_post_action(&mut self, action: PostAction) {
        match action {
            // Run before the job's conclusion is known (`run_all`); none is left here.
            PostAction::Node(_) => {}
            PostAction::SaveCache { key, paths } => match self.save_cache(&key, &paths).await {
                Ok(true) => self.log_job(&format!("cache saved with key `{key}`")),
                Ok(false) => self.log_job(&format!(
                    "cache entry `{key}` exists already (entries are immutable); not saved"
                )),
                Err(error) => {
                    self.log_job(&format!("##[warning]failed to save cache `{key}`: {error}"))
                }
            },
        }
    }

    /// Whether the real action behind a built-in one is at hand: pinned for this run, or in an
    /// action directory.
    pub(super) fn has_real_action(&self, action: &RemoteAction, uses: &str) -> bool {
        self.spec.actions.contains_key(uses.trim())
            || self.options.action_dirs.iter().any(|base| {
                let owner = base.join(&action.owner);
                owner
                    .join(format!("{}@{}", action.repo, action.git_ref))
                    .is_dir()
                    || owner.join(&action.repo).is_dir()
            })
    }

    /// A remote action: its files found (or fetched at the pinned commit), its metadata read,
    /// then run as what it is.
    async fn run_remote_action(
        &mut self,
        frame: &mut Frame,
        step: &Step,
        uses: &str,
        action: &RemoteAction,
        with: IndexMap<String, String>,
        prepared: &PreparedStep,
    ) -> StepBody {
        let started = std::time::Instant::now();
        let located = match self.locate_remote(action, uses).await {
            Ok(located) => located,
            Err(error) => {
                // A step's own `id:` names it; an internal one (`__N`) would mean nothing.
                if prepared.id.starts_with("__") {
                    self.log(frame, &format!("##[error]{uses}: {error}"));
                } else {
                    let step = &prepared.id;
                    self.log(frame, &format!("##[error]step `{step}`: {uses}: {error}"));
                }
                return StepBody::failure();
            }
        };
        if !located.cached {
            self.log(
                frame,
                &format!(
                    "fetched {} at {} ({} ms)",
                    located.repository,
                    located.sha.as_deref().unwrap_or("?"),
                    started.elapsed().as_millis()
                ),
            );
        }
        let metadata = match self.read_action(frame, &located.dir, uses) {
            Ok(metadata) => metadata,
            Err(error) => {
                self.log(frame, &format!("##[error]{uses}: {error}"));
                return StepBody::failure();
            }
        };
        if metadata.runs.is_composite() {
            return match self
                .composite_steps(frame, located.dir.clone(), &metadata, with, prepared)
                .await
            {
                Ok(body) => body,
                Err(error) => {
                    self.log(frame, &format!("##[error]{uses}: {error}"));
                    StepBody::failure()
                }
            };
        }
        if metadata.runs.node_version().is_some() {
            let title = match &step.name {
                Some(name) => name.value.clone(),
                None => format!("Run {uses}"),
            };
            return self
                .run_node_action(frame, &located, &metadata, &with, prepared, &title)
                .await;
        }
        if metadata.runs.docker.is_some() {
            return self
                .run_docker_action(frame, &metadata, &located.dir, with, prepared)
                .await;
        }
        let message = if metadata.runs.is_docker() {
            format!(
                "{uses} is a Docker action (`runs.using: docker`); Docker actions need a Docker \
                 engine, which this runner does not use"
            )
        } else {
            format!(
                "{uses} uses `{}`, which Slipway cannot run (composite, node12/16/20/24 and docker are known)",
                metadata.runs.using.value
            )
        };
        self.log(frame, &format!("##[error]{message}"));
        StepBody::failure()
    }

    async fn checkout(
        &mut self,
        frame: &Frame,
        with: &IndexMap<String, String>,
    ) -> Result<IndexMap<String, String>, String> {
        let Some(checkout) = self.spec.checkout.clone() else {
            return Err("there is no repository to check out for this job".to_string());
        };
        if let Some(repository) = with
            .get("repository")
            .filter(|repository| !repository.trim().is_empty())
        {
            self.log(frame, &format!("##[warning]input `repository: {repository}` is ignored; checking out the job's repository"));
        }
        let target =
            self.inside_workspace(with.get("path").map(String::as_str).unwrap_or_default())?;
        let wanted_ref = with
            .get("ref")
            .cloned()
            .filter(|wanted| !wanted.trim().is_empty());
        let target_for_task = target.clone();
        let checked_out = tokio::task::spawn_blocking(move || {
            let has_commit = checkout.sha.chars().any(|c| c != '0');
            let commit = if has_commit {
                check_out(&checkout, wanted_ref.as_deref(), &target_for_task)
                    .map_err(|error| error.to_string())?
            } else {
                String::new()
            };
            if checkout.working_tree {
                super::checkout::copy_working_tree(
                    std::path::Path::new(&checkout.repository),
                    &target_for_task,
                )
                .map_err(|error| {
                    format!(
                        "failed to copy the working tree of {}: {error}",
                        checkout.repository
                    )
                })?;
            }
            Ok::<String, String>(if commit.is_empty() {
                "the working tree".to_string()
            } else {
                commit
            })
        })
        .await
        .map_err(|error| format!("the checkout task failed: {error}"))??;
        self.log(
            frame,
            &format!("checked out {checked_out} into {}", target.display()),
        );
        let mut outputs = IndexMap::new();
        outputs.insert("commit".to_string(), checked_out);
        if let Some(git_ref) = self
            .spec
            .checkout
            .as_ref()
            .and_then(|checkout| checkout.git_ref.clone())
        {
            outputs.insert("ref".to_string(), git_ref);
        }
        Ok(outputs)
    }

    async fn upload_artifact(
        &self,
        frame: &Frame,
        with: &IndexMap<String, String>,
    ) -> Result<IndexMap<String, String>, String> {
        let name = with
            .get("name")
            .map(|name| name.trim())
            .filter(|name| !name.is_empty())
            .unwrap_or("artifact");
        let patterns = with.get("path").ok_or("input `path` is required")?;
        let files = select_files(&self.dirs.workspace, patterns)?;
        if files.is_empty() {
            let message = format!(
                "no files were found with the provided path: {}",
                patterns.trim()
            );
            match with.get("if-no-files-found").map(|value| value.trim()) {
                Some("error") => return Err(message),
                Some("ignore") => {}
                _ => self.log(
                    frame,
                    &format!("##[warning]{message}; no artifact will be uploaded"),
                ),
            }
            return Ok(IndexMap::new());
        }
        let overwrite = with.get("overwrite").map(|value| value.trim()) == Some("true");
        if let Some(service) = &self.options.artifact_service {
            let retention_days = match with.get("retention-days").map(|value| value.trim()) {
                None | Some("") => None,
                Some(days) => Some(days.parse::<u32>().map_err(|_| {
                    format!("input `retention-days`: `{days}` is not a whole number of days")
                })?),
            };
            let count = service
                .upload(name, &files, overwrite, retention_days)
                .await
                .map_err(|error| format!("failed to upload artifact `{name}`: {error}"))?;
            self.log(
                frame,
                &format!("uploaded {count} file(s) as artifact `{name}`"),
            );
            let mut outputs = IndexMap::new();
            outputs.insert("artifact-id".to_string(), name.to_string());
            return Ok(outputs);
        }
        let destination = key_directory(&self.artifacts_dir(), name);
        if destination.exists() {
            if !overwrite {
                return Err(format!(
                    "an artifact named `{name}` already exists in this run (set `overwrite: true`)"
                ));
            }
            std::fs::remove_dir_all(&destination)
                .map_err(|error| format!("failed to replace artifact `{name}`: {error}"))?;
        }
        let count = copy_files(&files, &destination)
            .map_err(|error| format!("failed to upload artifact `{name}`: {error}"))?;
        self.log(
            frame,
            &format!("uploaded {count} file(s) as artifact `{name}`"),
        );
        let mut outputs = IndexMap::new();
        outputs.insert("artifact-id".to_string(), name.to_string());
        Ok(outputs)
    }

    async fn download_artifact(
        &self,
        frame: &Frame,
        with: &IndexMap<String, String>,
    ) -> Result<IndexMap<String, String>, String> {
        let target =
            self.inside_workspace(with.get("path").map(String::as_str).unwrap_or_default())?;
        let root = self.artifacts_dir();
        let name = with
            .get("name")
            .map(|name| name.trim())
            .filter(|name| !name.is_empty());
        let merge = with.get("merge-multiple").map(|value| value.trim()) == Some("true");
        let pattern = with.get("pattern").map(String::as_str);
        if let Some(service) = &self.options.artifact_service {
            let count =
                match name {
                    Some(name) => service.download(name, &target).await.map_err(|error| {
                        format!("failed to download artifact `{name}`: {error}")
                    })?,
                    None => {
                        let mut count = 0;
                        let names = service.list().await.map_err(|error| {
                            format!("failed to list the run's artifacts: {error}")
                        })?;
                        for name in names {
                            if !name_matches(pattern, &name)? {
                                continue;
                            }
                            let into = if merge {
                                target.clone()
                            } else {
                                target.join(&name)
                            };
                            count += service.download(&name, &into).await.map_err(|error| {
                                format!("failed to download artifact `{name}`: {error}")
                            })?;
                        }
                        count
                    }
                };
            self.log(
                frame,
                &format!("downloaded {count} file(s) into {}", target.display()),
            );
            let mut outputs = IndexMap::new();
            outputs.insert(
                "download-path".to_string(),
                target.to_string_lossy().to_string(),
            );
            return Ok(outputs);
        }
        let count = match name {
            Some(name) => {
                let source = key_directory(&root, name);
                if !source.is_dir() {
                    return Err(format!("artifact `{name}` was not found in this run"));
                }
                copy_tree(&source, &target)
                    .map_err(|error| format!("failed to download artifact `{name}`: {error}"))?
            }
            None => {
                let mut count = 0;
                let entries = std::fs::read_dir(&root)
                    .map(|entries| entries.flatten().collect::<Vec<_>>())
                    .unwrap_or_default();
                for entry in entries.iter().filter(|entry| entry.path().is_dir()) {
                    if !name_matches(pattern, &entry.file_name().to_string_lossy())? {
                        continue;
                    }
                    let into = if merge {
                        target.clone()
                    } else {
                        target.join(entry.file_name())
                    };
                    count += copy_tree(&entry.path(), &into)
                        .map_err(|error| format!("failed to download artifacts: {error}"))?;
                }
                count
            }
        };
        self.log(
            frame,
            &format!("downloaded {count} file(s) into {}", target.display()),
        );
        let mut outputs = IndexMap::new();
        outputs.insert(
            "download-path".to_string(),
            target.to_string_lossy().to_string(),
        );
        Ok(outputs)
    }

    /// `actions/cache` and `actions/cache/restore`: the exact key, else the newest entry whose key
    /// starts with one of `restore-keys` (in order). `save_later` registers the save at job end.
    async fn restore_cache(
        &mut self,
        frame: &Frame,
        with: &IndexMap<String, String>,
        save_later: bool,
    ) -> Result<IndexMap<String, String>, String> {
        let key = with
            .get("key")
            .map(|key| key.trim().to_string())
            .filter(|key| !key.is_empty());
        let key = key.ok_or("input `key` is required")?;
        let paths = self.cache_paths(with)?;
        let restore_keys: Vec<String> = with
            .get("restore-keys")
            .map(|text| {
                text.lines()
                    .map(str::trim)
                    .filter(|prefix| !prefix.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        // With the engine's cache service the matched entry is downloaded into a folder of the
        // job's temp dir first, then restored from there like a local entry.
        let mut downloaded = None;
        let mut matched = None;
        if let Some(service) = &self.options.cache_service {
            let into = self
                .dirs
                .temp
                .join(format!("_cache-restore-{}", sanitise(&key)));
            let _ = tokio::fs::remove_dir_all(&into).await;
            if let Some(found) = service
                .restore(&key, &restore_keys, &into)
                .await
                .map_err(|error| format!("failed to restore cache `{key}`: {error}"))?
            {
                matched = Some((into.clone(), found));
            }
            downloaded = Some(into);
        } else {
            let exact = key_directory(&self.cache_dir(), &key);
            matched = exact.is_dir().then(|| (exact.clone(), key.clone()));
            if matched.is_none() {
                for prefix in &restore_keys {
                    if let Some(found) = self.newest_cache_with_prefix(prefix) {
                        matched = Some(found);
                        break;
                    }
                }
            }
        }
        let mut outputs = IndexMap::new();
        let hit = matched
            .as_ref()
            .is_some_and(|(_, matched_key)| *matched_key == key);
        if let Some((dir, matched_key)) = &matched {
            for (index, path) in paths.iter().enumerate() {
                let stored = dir.join("paths").join(index.to_string());
                let stored_file = dir.join("paths").join(format!("{index}.file"));
                let restored = if stored.is_dir() {
                    copy_tree(&stored, path).map(|_| ())
                } else if stored_file.is_file() {
                    path.parent()
                        .map(std::fs::create_dir_all)
                        .transpose()
                        .and_then(|_| std::fs::copy(&stored_file, path).map(|_| ()))
                } else {
                    Ok(())
                };
                restored
                    .map_err(|error| format!("failed to restore cache `{matched_key}`: {error}"))?;
            }
            self.log(frame, &format!("cache restored from key `{matched_key}`"));
            outputs.insert("cache-matched-key".to_string(), matched_key.clone());
        } else {
            self.log(frame, &format!("cache not found for key `{key}`"));
        }
        if let Some(downloaded) = downloaded {
            let _ = tokio::fs::remove_dir_all(&downloaded).await;
        }
        outputs.insert("cache-hit".to_string(), hit.to_string());
        outputs.insert("cache-primary-key".to_string(), key.clone());
        if save_later && !hit {
            self.post_actions.push(PostAction::SaveCache { key, paths });
        }
        Ok(outputs)
    }

    async fn save_cache_now(
        &self,
        frame: &Frame,
        with: &IndexMap<String, String>,
    ) -> Result<IndexMap<String, String>, String> {
        let key = with
            .get("key")
            .map(|key| key.trim().to_string())
            .filter(|key| !key.is_empty());
        let key = key.ok_or("input `key` is required")?;
        let paths = self.cache_paths(with)?;
        if self.save_cache(&key, &paths).await? {
            self.log(frame, &format!("cache saved with key `{key}`"));
        } else {
            self.log(
                frame,
                &format!("cache entry `{key}` exists already (entries are immutable); not saved"),
            );
        }
        Ok(IndexMap::new())
    }

    /// Stores each path under `<cache>/<key>/paths/<index>` (`<index>.file` for a file). An existing
    /// entry is kept: cache entries are immutable, as on GitHub.
    async fn save_cache(&self, key: &str, paths: &[PathBuf]) -> Result<bool, String> {
        if let Some(service) = &self.options.cache_service {
            let files = cache_entry_files(paths).map_err(|error| error.to_string())?;
            return service.save(key, &files).await;
        }
        let dir = key_directory(&self.cache_dir(), key);
        if dir.exists() {
            return Ok(false);
        }
        let staging =
            self.cache_dir()
                .join(format!(".staging-{}-{}", sanitise(key), std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        let store = || -> std::io::Result<()> {
            std::fs::create_dir_all(staging.join("paths"))?;
            std::fs::write(staging.join("key"), key)?;
            for (index, path) in paths.iter().enumerate() {
                if path.is_dir() {
                    copy_tree(path, &staging.join("paths").join(index.to_string()))?;
                } else if path.is_file() {
                    std::fs::copy(path, staging.join("paths").join(format!("{index}.file")))?;
                }
            }
            std::fs::rename(&staging, &dir)
        };
        store().map(|()| true).map_err(|error| {
            let _ = std::fs::remove_dir_all(&staging);
            error.to_string()
        })
    }

    fn newest_cache_with_prefix(&self, prefix: &str) -> Option<(PathBuf, String)> {
        let entries = std::fs::read_dir(self.cache_dir()).ok()?;
        entries
            .flatten()
            .filter_map(|entry| {
                let key = std::fs::read_to_string(entry.path().join("key")).ok()?;
                let modified = entry.metadata().ok()?.modified().ok()?;
                key.starts_with(prefix)
                    .then(|| (modified, entry.path(), key))
            })
            .max_by_key(|(modified, _, _)| *modified)
            .map(|(_, path, key)| (path, key))
    }

    fn cache_paths(&self, with: &IndexMap<String, String>) -> Result<Vec<PathBuf>, String> {
        let text = with.get("path").ok_or("input `path` is required")?;
        let mut paths = Vec::new();
        for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
            if line.contains(['*', '?', '[']) || line.starts_with('!') {
                return Err(format!(
                    "cache path `{line}`: patterns are not supported by the built-in cache"
                ));
            }
            let expanded = match line.strip_prefix("~/") {
                Some(rest) => std::env::var("HOME")
                    .map(|home| Path::new(&home).join(rest))
                    .map_err(|_| "HOME is not set")?,
                None => self.dirs.workspace.join(line),
            };
            paths.push(expanded);
        }
        if paths.is_empty() {
            return Err("input `path` names no path".to_string());
        }
        Ok(paths)
    }

    /// A path given to an action, relative to the workspace, which it may not leave.
    fn inside_workspace(&self, relative: &str) -> Result<PathBuf, String> {
        let relative = relative.trim();
        let path = Path::new(relative);
        if path.is_absolute()
            || path
                .components()
                .any(|part| matches!(part, std::path::Component::ParentDir))
        {
            return Err(format!("path `{relative}` must stay inside the workspace"));
        }
        Ok(self.dirs.workspace.join(path))
    }

    pub(super) fn artifacts_dir(&self) -> PathBuf {
        match &self.options.artifacts_dir {
            Some(dir) => dir.clone(),
            None => self
                .options
                .work_dir
                .join(sanitise(&self.spec.run_id))
                .join("_artifacts"),
        }
    }

    fn cache_dir(&self) -> PathBuf {
        self.options
            .cache_dir
            .clone()
            .unwrap_or_else(|| self.options.work_dir.join("_cache"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_uses() {
        assert_eq!(classify("actions/checkout@v4"), ActionRef::Checkout);
        assert_eq!(classify("Actions/Checkout@main"), ActionRef::Checkout);
        assert_eq!(
            classify("actions/cache/restore@v4"),
            ActionRef::CacheRestore
        );
        assert_eq!(
            classify("./.github/actions/x"),
            ActionRef::Local("./.github/actions/x".into())
        );
        assert_eq!(
            classify("docker://alpine"),
            ActionRef::Docker("alpine".into())
        );
        assert_eq!(
            classify("someone/else@v1"),
            ActionRef::Unsupported("someone/else@v1".into())
        );
    }
}
