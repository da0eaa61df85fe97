//! Called (reusable) workflows read from a working tree, for `slipway run` and `slipway check`:
//! a `workflows::parse::reusable::WorkflowSource` over the files under a repository root. A
//! remote `owner/repo/...@ref` is refused with the message that names what it needs (an action
//! mirror); a local path may not leave the root.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use workflows::parse::reusable::{CallTarget, WorkflowSource, remote_unsupported};

/// Reads called workflows under `root` and keeps each text read, so diagnostics inside a called
/// file can be shown with their source line.
pub struct WorkingTreeSource {
    root: PathBuf,
    texts: HashMap<String, String>,
}

impl WorkingTreeSource {
    pub fn new(root: &Path) -> WorkingTreeSource {
        WorkingTreeSource {
            root: root.to_path_buf(),
            texts: HashMap::new(),
        }
    }

    /// The text of a called file read so far (by its key, `.github/workflows/x.yml`).
    pub fn text(&self, key: &str) -> Option<&str> {
        self.texts.get(key).map(String::as_str)
    }
}

impl WorkflowSource for WorkingTreeSource {
    fn read(&mut self, target: &CallTarget) -> Result<String, String> {
        let path = match target {
            CallTarget::Remote { reference } => return Err(remote_unsupported(reference)),
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
pub fn root_of_workflow_file(file: &Path) -> PathBuf {
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
