//! Called (reusable) workflows read from a working tree, for `slipway run` and `slipway check`:
//! a `workflows::parse::reusable::WorkflowSource` over the files under a repository root (a
//! local path may not leave it). A remote `owner/repo/.github/workflows/x.yml@ref` is read from
//! an `--action-dir` checkout (`DIR/owner/repo@ref` or `DIR/owner/repo`) or else from the
//! engine's action mirrors in a data dir, pinned to a commit; nothing is fetched. Not found: the
//! message names the mirror command.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use indexmap::IndexMap;
use workflows::parse::reusable::{CallTarget, WorkflowSource};

/// Reads called workflows under `root` and keeps each text read, so diagnostics inside a called
/// file can be shown with their source line.
pub(crate) struct WorkingTreeSource {
    root: PathBuf,
    texts: HashMap<String, String>,
    data_dir: Option<PathBuf>,
    action_dirs: Vec<PathBuf>,
    pins: IndexMap<String, String>,
}

impl WorkingTreeSource {
    pub(crate) fn new(root: &Path) -> WorkingTreeSource {
        WorkingTreeSource {
            root: root.to_path_buf(),
            texts: HashMap::new(),
            data_dir: None,
            action_dirs: Vec::new(),
            pins: IndexMap::new(),
        }
    }

    /// Remote calls are read from these checkouts, then from the mirrors under `data_dir`.
    pub(crate) fn with_remotes(
        mut self,
        data_dir: &Path,
        action_dirs: &[PathBuf],
    ) -> WorkingTreeSource {
        self.data_dir = Some(data_dir.to_path_buf());
        self.action_dirs = action_dirs.to_vec();
        self
    }

    /// Remote references read from a mirror → the full commit sha each was read at.
    pub(crate) fn pins(&self) -> &IndexMap<String, String> {
        &self.pins
    }

    /// A remote workflow from a checkout in an action directory, else from the mirrors.
    fn read_remote(&mut self, reference: &str) -> Result<String, String> {
        let Some(remote) = engine::actions::reusable::RemoteWorkflow::parse(reference) else {
            return Err(format!(
                "`{reference}` is not a remote reusable workflow (owner/repo/.github/workflows/<file>.yml@ref)"
            ));
        };
        for base in &self.action_dirs {
            let owner = base.join(&remote.owner);
            for checkout in [
                owner.join(format!("{}@{}", remote.repo, remote.git_ref)),
                owner.join(&remote.repo),
            ] {
                let file = checkout.join(&remote.path);
                if checkout.is_dir() && file.is_file() {
                    return std::fs::read(&file)
                        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                        .map_err(|error| format!("failed to read {}: {error}", file.display()));
                }
            }
        }
        let Some(data_dir) = &self.data_dir else {
            return Err(engine::actions::reusable::not_available(
                reference,
                &remote.repository(),
            ));
        };
        let read = engine::actions::reusable::read_remote_workflow(data_dir, &[], reference, None)?;
        self.pins.insert(reference.to_string(), read.sha);
        Ok(read.text)
    }

    /// The text of a called file read so far (by its key, `.github/workflows/x.yml`).
    pub(crate) fn text(&self, key: &str) -> Option<&str> {
        self.texts.get(key).map(String::as_str)
    }
}

impl WorkflowSource for WorkingTreeSource {
    fn read(&mut self, target: &CallTarget) -> Result<String, String> {
        let path = match target {
            CallTarget::Remote { reference } => {
                let text = self.read_remote(reference)?;
                self.texts.insert(reference.clone(), text.clone());
                return Ok(text);
            }
            CallTarget::Local { path } => path,
        };
        let relative = Path::new(path);
        if relative
            .components()
            .any(|component| !matches!(component, Component::Normal(_) | Component::CurDir))
        {
            return Err(format!("`{path}` leaves the repository"));
        }
        let full = self.root.join(relative);
        let bytes = std::fs::read(&full).map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => {
                format!("`{path}` does not exist in {}", self.root.display())
            }
            _ => format!("failed to read {}: {error}", full.display()),
        })?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        self.texts.insert(path.clone(), text.clone());
        Ok(text)
    }
}

/// The repository root of a workflow file at `<root>/.github/workflows/<file>`, else the file's
/// own folder.
pub(crate) fn root_of_workflow_file(file: &Path) -> PathBuf {
    let parent = file.parent().unwrap_or(Path::new("."));
    if parent.ends_with(".github/workflows")
        && let Some(root) = parent.parent().and_then(Path::parent)
    {
        return if root.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            root.to_path_buf()
        };
    }
    parent.to_path_buf()
}
