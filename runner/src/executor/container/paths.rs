//! Where the job's host directories appear inside its containers (GitHub's layout): the
//! workspace under `/__w`, `RUNNER_TEMP` at `/__w/_temp`, the tool cache at `/__t`, and
//! `/github/home` and `/github/workflow`. Host paths handed to a step (env values, the script,
//! the working directory) are rewritten through this map.

use std::path::{Path, PathBuf};

/// The workspace inside the job container (`GITHUB_WORKSPACE`).
pub const WORKSPACE: &str = "/__w/workspace";
/// `RUNNER_TEMP` inside the job container.
pub const TEMP: &str = "/__w/_temp";
/// `RUNNER_TOOL_CACHE` inside the job container.
pub const TOOL_CACHE: &str = "/__t";
/// `HOME` of steps in the job container.
pub const HOME: &str = "/github/home";
/// Holds the event payload (`GITHUB_EVENT_PATH`).
pub const WORKFLOW: &str = "/github/workflow";
/// `RUNNER_WORKSPACE` inside the job container.
pub const ROOT: &str = "/__w";

/// Host directory → container directory, most specific first.
#[derive(Debug, Clone, Default)]
pub struct PathMap {
    entries: Vec<(PathBuf, String)>,
}

impl PathMap {
    /// The map of one job's directories.
    pub fn new(root: &Path, workspace: &Path, temp: &Path, tool_cache: &Path) -> PathMap {
        let mut entries = vec![
            (temp.join("_github_home"), HOME.to_string()),
            (temp.join("_github_workflow"), WORKFLOW.to_string()),
            (workspace.to_path_buf(), WORKSPACE.to_string()),
            (temp.to_path_buf(), TEMP.to_string()),
            (tool_cache.to_path_buf(), TOOL_CACHE.to_string()),
            (root.to_path_buf(), ROOT.to_string()),
        ];
        entries.sort_by_key(|(host, _)| std::cmp::Reverse(host.as_os_str().len()));
        PathMap { entries }
    }

    /// A map of the given entries (host directory, path inside).
    pub fn from_entries(mut entries: Vec<(PathBuf, String)>) -> PathMap {
        entries.sort_by_key(|(host, _)| std::cmp::Reverse(host.as_os_str().len()));
        PathMap { entries }
    }

    /// The bind mounts (`host:container`) that make the map true; the root itself is not
    /// mounted (only its parts are).
    pub fn binds(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|(_, inside)| inside != ROOT)
            .map(|(host, inside)| format!("{}:{inside}", host.display()))
            .collect()
    }

    /// The host directories that must exist before the container is created.
    pub fn host_dirs(&self) -> impl Iterator<Item = &Path> {
        self.entries.iter().map(|(host, _)| host.as_path())
    }

    /// `path` as seen from inside the container; paths outside every mount stay as they are.
    pub fn to_container(&self, path: &Path) -> String {
        for (host, inside) in &self.entries {
            if let Ok(rest) = path.strip_prefix(host) {
                if rest.as_os_str().is_empty() {
                    return inside.clone();
                }
                return format!("{inside}/{}", rest.display());
            }
        }
        path.to_string_lossy().to_string()
    }

    /// A value that may be (or start with) a host path, rewritten: env values, arguments.
    pub fn rewrite(&self, text: &str) -> String {
        if text.starts_with('/') {
            self.to_container(Path::new(text))
        } else {
            text.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_paths_map_to_githubs_layout() {
        let root = Path::new("/w/run/job");
        let map = PathMap::new(
            root,
            &root.join("workspace"),
            &root.join("temp"),
            Path::new("/w/_tool"),
        );
        assert_eq!(
            map.to_container(&root.join("workspace/src")),
            "/__w/workspace/src"
        );
        assert_eq!(map.to_container(&root.join("temp")), "/__w/_temp");
        assert_eq!(
            map.to_container(&root.join("temp/_runner_file_commands/set_env_0")),
            "/__w/_temp/_runner_file_commands/set_env_0"
        );
        assert_eq!(
            map.to_container(&root.join("temp/_github_home")),
            "/github/home"
        );
        assert_eq!(map.to_container(Path::new("/w/_tool/node")), "/__t/node");
        assert_eq!(map.to_container(root), "/__w");
        assert_eq!(map.rewrite("/elsewhere/x"), "/elsewhere/x");
        assert_eq!(map.rewrite("value"), "value");
        // `/w/run/job2` is not inside `/w/run/job`.
        assert_eq!(map.to_container(Path::new("/w/run/job2")), "/w/run/job2");
        assert!(map.binds().iter().all(|bind| !bind.ends_with(":/__w")));
    }
}
