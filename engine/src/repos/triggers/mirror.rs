//! The engine's bare mirror of a watched repository: made once under the engine's data dir,
//! fetched when a hook, webhook or poll says something changed, and read (refs, workflow files at
//! a commit) but never checked out.
//!
//! A local path or `file://` source is fetched with git2. git2 is built without its `https` and
//! `ssh` features (no TLS or SSH stack compiled in), so a network source (`https://`, `http://`,
//! `ssh://`, `git://`, or scp-like `git@host:owner/repo.git`) is fetched by the `git` command,
//! which brings the operator's own credentials (SSH keys, credential helpers) and never prompts
//! (`GIT_TERMINAL_PROMPT=0`, SSH in batch mode).
//! Every branch and tag of the source is mirrored as the same ref (`+refs/heads/*`,
//! `+refs/tags/*`), deleted refs are pruned, and the mirror's `HEAD` follows the source's default
//! branch. Runners get the code at an exact commit from the mirror's path ([`Mirror::checkout`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use git2::{AutotagOption, FetchOptions, FetchPrune, Oid, Repository};

use super::TriggerError;
use super::decide::WorkflowFile;
use super::payload::RepoInfo;
use super::refs::RefUpdate;

/// The remote every mirror fetches from.
const REMOTE: &str = "origin";
/// What a mirror copies from its source.
const REFSPECS: [&str; 2] = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"];
/// Where GitHub keeps workflow files.
pub const WORKFLOWS_DIR: &str = ".github/workflows";

/// An open bare mirror.
pub struct Mirror {
    path: PathBuf,
    repo: Repository,
}

impl Mirror {
    /// Opens the mirror at `path`, or makes it (a bare repository whose `origin` is `source`).
    /// A relative `source` path is made absolute, so the mirror keeps working from any directory.
    /// An existing mirror gets its `origin` pointed at `source` if it changed.
    pub fn open_or_create(path: &Path, source: &str) -> Result<Mirror, TriggerError> {
        let url = source_url(source);
        let repo = if path.join("HEAD").exists() {
            Repository::open_bare(path)
                .map_err(TriggerError::git(format!("open mirror {}", path.display())))?
        } else {
            std::fs::create_dir_all(path).map_err(TriggerError::io(format!(
                "create mirror dir {}",
                path.display()
            )))?;
            Repository::init_bare(path).map_err(TriggerError::git(format!(
                "create mirror {}",
                path.display()
            )))?
        };
        match repo.find_remote(REMOTE) {
            Ok(remote) if remote.url().ok() == Some(url.as_str()) => {}
            Ok(_) => repo
                .remote_set_url(REMOTE, &url)
                .map_err(TriggerError::git(format!("set mirror source to {url}")))?,
            Err(_) => {
                repo.remote_with_fetch(REMOTE, &url, REFSPECS[0])
                    .map_err(TriggerError::git(format!("add mirror source {url}")))?;
                repo.remote_add_fetch(REMOTE, REFSPECS[1])
                    .map_err(TriggerError::git(format!("add mirror source {url}")))?;
            }
        }
        Ok(Mirror {
            path: path.to_path_buf(),
            repo,
        })
    }

    /// Opens an existing mirror.
    pub fn open(path: &Path) -> Result<Mirror, TriggerError> {
        let repo = Repository::open_bare(path)
            .map_err(TriggerError::git(format!("open mirror {}", path.display())))?;
        Ok(Mirror {
            path: path.to_path_buf(),
            repo,
        })
    }

    /// The bare mirror's folder on disk.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The mirror opened with libgit2, for reading refs, commits and trees.
    pub fn repository(&self) -> &Repository {
        &self.repo
    }

    /// Fetches every branch and tag from the source and returns what moved, sorted by ref name:
    /// created refs have no `old`, deleted ones no `new`. Also points `HEAD` at the source's
    /// default branch.
    pub fn fetch(&self) -> Result<Vec<RefUpdate>, TriggerError> {
        let before = ref_values(&self.repo)?;
        let mut remote = self
            .repo
            .find_remote(REMOTE)
            .map_err(TriggerError::git("find the mirror's source"))?;
        let url = remote.url().unwrap_or("").to_string();
        if is_network_url(&url) {
            fetch_with_git_command(&self.path, &url)?;
            let after = ref_values(&self.repo)?;
            return Ok(diff_ref_values(&before, &after));
        }
        let mut options = FetchOptions::new();
        options
            .prune(FetchPrune::On)
            .download_tags(AutotagOption::None)
            .update_fetchhead(false);
        remote
            .fetch(&REFSPECS, Some(&mut options), Some("slipway mirror fetch"))
            .map_err(TriggerError::git(format!("fetch {url}")))?;
        // The advertised refs stay readable after the fetch disconnects.
        if let Ok(head) = remote.default_branch()
            && let Ok(head) = head.as_str()
            && head.starts_with("refs/heads/")
        {
            let _ = self.repo.set_head(head);
        }
        let after = ref_values(&self.repo)?;
        Ok(diff_ref_values(&before, &after))
    }

    /// Fetches exactly `refspecs` (`+src:dst`, no globs) from the source, pruning nothing: the
    /// refs of a pull request. A ref the source lacks is an error.
    pub fn fetch_refspecs(&self, refspecs: &[String]) -> Result<(), TriggerError> {
        let remote = self
            .repo
            .find_remote(REMOTE)
            .map_err(TriggerError::git("find the mirror's source"))?;
        let url = remote.url().unwrap_or("").to_string();
        if is_network_url(&url) {
            let mut command = std::process::Command::new("git");
            command
                .arg("--git-dir")
                .arg(&self.path)
                .args(["fetch", "--no-tags", "--quiet", &url])
                .args(refspecs)
                .env("GIT_TERMINAL_PROMPT", "0")
                .stdin(std::process::Stdio::null());
            if std::env::var_os("GIT_SSH_COMMAND").is_none() {
                command.env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes");
            }
            let output = command.output().map_err(TriggerError::io(format!(
                "run `git` to fetch {url} (is git installed?)"
            )))?;
            if !output.status.success() {
                return Err(TriggerError::Invalid(format!(
                    "fetch {} from {url}: {}",
                    refspecs.join(" "),
                    String::from_utf8_lossy(&output.stderr).trim()
                )));
            }
            return Ok(());
        }
        let mut remote = self
            .repo
            .remote_anonymous(&url)
            .map_err(TriggerError::git(format!("open {url}")))?;
        let mut options = FetchOptions::new();
        options
            .download_tags(AutotagOption::None)
            .update_fetchhead(false);
        remote
            .fetch(
                refspecs,
                Some(&mut options),
                Some("slipway pull request fetch"),
            )
            .map_err(TriggerError::git(format!(
                "fetch {} from {url}",
                refspecs.join(" ")
            )))
    }

    /// The source's default branch (short name), as the mirror's `HEAD` names it.
    pub fn default_branch(&self) -> Option<String> {
        default_branch(&self.repo)
    }

    /// The repository as payloads name it; `full_name` is `owner/name`.
    pub fn info(&self, full_name: &str) -> RepoInfo {
        RepoInfo {
            full_name: full_name.to_string(),
            default_branch: self.default_branch().unwrap_or_else(|| "main".to_string()),
            clone_url: self.path.display().to_string(),
        }
    }

    /// The workflow files at `commit` (`.github/workflows/*.yml` and `*.yaml`), by path.
    pub fn workflows_at(&self, commit: Oid) -> Result<Vec<WorkflowFile>, TriggerError> {
        workflows_at(&self.repo, commit)
    }

    /// How a runner gets the code at `sha`: fetch it from the mirror's path.
    pub fn checkout(&self, sha: Oid, git_ref: Option<&str>) -> protocol::job::Checkout {
        protocol::job::Checkout {
            repository: self.path.display().to_string(),
            sha: sha.to_string(),
            git_ref: git_ref.map(str::to_string),
            working_tree: false,
        }
    }
}

/// The workflow files in the tree of `commit` of any repository (bare or not): the blobs of
/// `.github/workflows/*.yml` and `*.yaml` directly in that folder, sorted by path. A commit without
/// the folder has none.
pub fn workflows_at(repo: &Repository, commit: Oid) -> Result<Vec<WorkflowFile>, TriggerError> {
    let tree = repo
        .find_object(commit, None)
        .and_then(|object| object.peel_to_tree())
        .map_err(TriggerError::git(format!("read the tree of {commit}")))?;
    let Ok(entry) = tree.get_path(Path::new(WORKFLOWS_DIR)) else {
        return Ok(Vec::new());
    };
    let Ok(folder) = repo.find_tree(entry.id()) else {
        return Ok(Vec::new());
    };
    let mut files = Vec::new();
    for entry in folder.iter() {
        let Ok(name) = entry.name() else { continue };
        if !(name.ends_with(".yml") || name.ends_with(".yaml")) {
            continue;
        }
        if entry.kind() != Some(git2::ObjectType::Blob) {
            continue;
        }
        let blob = repo
            .find_blob(entry.id())
            .map_err(TriggerError::git(format!(
                "read {WORKFLOWS_DIR}/{name} at {commit}"
            )))?;
        files.push(WorkflowFile {
            path: format!("{WORKFLOWS_DIR}/{name}"),
            bytes: blob.content().to_vec(),
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// Every branch and tag with the object it points at (tags unpeeled, as git reports them).
pub fn ref_values(repo: &Repository) -> Result<BTreeMap<String, Oid>, TriggerError> {
    let mut values = BTreeMap::new();
    let references = repo
        .references()
        .map_err(TriggerError::git("list the mirror's refs"))?;
    for reference in references.flatten() {
        let (Ok(name), Some(target)) = (reference.name(), reference.target()) else {
            continue;
        };
        if name.starts_with("refs/heads/") || name.starts_with("refs/tags/") {
            values.insert(name.to_string(), target);
        }
    }
    Ok(values)
}

/// What changed between two snapshots of ref values, sorted by ref name.
pub fn diff_ref_values(
    before: &BTreeMap<String, Oid>,
    after: &BTreeMap<String, Oid>,
) -> Vec<RefUpdate> {
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter_map(|name| {
            let old = before.get(name).copied();
            let new = after.get(name).copied();
            (old != new).then(|| RefUpdate::new(name.clone(), old, new))
        })
        .collect()
}

/// The default branch of a repository: what `HEAD` names when it is a branch (bare mirrors and
/// checkouts alike), else the remote's `HEAD`.
pub fn default_branch(repo: &Repository) -> Option<String> {
    let from_origin = repo
        .find_reference("refs/remotes/origin/HEAD")
        .ok()
        .and_then(|r| r.symbolic_target().ok().flatten().map(str::to_string))
        .and_then(|t| t.strip_prefix("refs/remotes/origin/").map(str::to_string));
    if !repo.is_bare()
        && let Some(branch) = from_origin
    {
        return Some(branch);
    }
    repo.find_reference("HEAD")
        .ok()
        .and_then(|head| head.symbolic_target().ok().flatten().map(str::to_string))
        .and_then(|target| target.strip_prefix("refs/heads/").map(str::to_string))
}

/// A local path becomes an absolute path; URLs are kept as given.
fn source_url(source: &str) -> String {
    if source.contains("://") || is_scp_like(source) {
        return source.to_string();
    }
    std::path::absolute(source)
        .map(|path| path.display().to_string())
        .unwrap_or_else(|_| source.to_string())
}

/// `user@host:path` (git's scp-like syntax): a colon before any slash, and not a path that
/// exists here.
fn is_scp_like(source: &str) -> bool {
    if source.contains("://") {
        return false;
    }
    match (source.find(':'), source.find('/')) {
        (Some(colon), slash) => {
            colon > 0 && slash.is_none_or(|slash| colon < slash) && !Path::new(source).exists()
        }
        _ => false,
    }
}

/// Whether `url` needs a network transport (which git2 is built without here).
pub fn is_network_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    [
        "https://",
        "http://",
        "ssh://",
        "git://",
        "git+ssh://",
        "ssh+git://",
    ]
    .iter()
    .any(|scheme| lower.starts_with(scheme))
        || is_scp_like(url)
}

/// Fetches every branch and tag of `url` into the bare mirror at `mirror` with the `git`
/// command (pruning deleted refs), then points the mirror's `HEAD` at the source's default
/// branch. Never prompts for credentials.
pub fn fetch_with_git_command(mirror: &Path, url: &str) -> Result<(), TriggerError> {
    let git = |args: &[&str]| {
        let mut command = std::process::Command::new("git");
        command
            .arg("--git-dir")
            .arg(mirror)
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(std::process::Stdio::null());
        if std::env::var_os("GIT_SSH_COMMAND").is_none() {
            command.env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes");
        }
        command.output().map_err(TriggerError::io(format!(
            "run `git` to fetch {url} (is git installed?)"
        )))
    };
    let mut args = vec!["fetch", "--prune", "--no-tags", "--quiet", url];
    args.extend(REFSPECS);
    let fetched = git(&args)?;
    if !fetched.status.success() {
        return Err(TriggerError::Invalid(format!(
            "fetch {url}: {}",
            String::from_utf8_lossy(&fetched.stderr).trim()
        )));
    }
    let head = git(&["ls-remote", "--symref", url, "HEAD"])?;
    let listing = String::from_utf8_lossy(&head.stdout);
    let default = listing.lines().find_map(|line| {
        line.strip_prefix("ref: ")
            .and_then(|rest| rest.split_whitespace().next())
            .filter(|name| name.starts_with("refs/heads/"))
            .map(str::to_string)
    });
    if let Some(default) = default {
        let _ = git(&["symbolic-ref", "HEAD", &default]);
    }
    Ok(())
}

/// Where the engine keeps the mirror of repository `name` under its data dir: one path segment
/// per repository, whatever characters the name has.
pub fn mirror_path(data_dir: &Path, name: &str) -> PathBuf {
    let segment: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    data_dir.join("mirrors").join(format!("{segment}.git"))
}

/// A ref as a user types it → a full ref: `refs/…` is kept; a name that is a tag and not a
/// branch becomes `refs/tags/NAME`; anything else `refs/heads/NAME` (it need not exist yet).
pub fn resolve_ref(repo: &Repository, name: &str) -> String {
    if name.starts_with("refs/") {
        return name.to_string();
    }
    let branch = format!("refs/heads/{name}");
    let tag = format!("refs/tags/{name}");
    if repo.find_reference(&branch).is_err() && repo.find_reference(&tag).is_ok() {
        tag
    } else {
        branch
    }
}

/// The workflow files in a folder on disk (`DIR/.github/workflows/*.y*ml`): for a directory
/// that is no git repository, where there is no commit to read them from.
pub fn workflows_in_folder(dir: &Path) -> Result<Vec<WorkflowFile>, TriggerError> {
    let folder = dir.join(WORKFLOWS_DIR);
    let entries = match std::fs::read_dir(&folder) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => {
            return Err(TriggerError::io(format!("read {}", folder.display()))(
                error,
            ));
        }
    };
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.ends_with(".yml") || name.ends_with(".yaml")) || !entry.path().is_file() {
            continue;
        }
        let bytes = std::fs::read(entry.path())
            .map_err(TriggerError::io(format!("read {}", entry.path().display())))?;
        files.push(WorkflowFile {
            path: format!("{WORKFLOWS_DIR}/{name}"),
            bytes,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_sources_are_told_from_paths() {
        for url in [
            "https://github.com/owner/repo.git",
            "HTTP://git.example.com/repo",
            "ssh://git@host:2222/owner/repo.git",
            "git://host/repo",
            "git@github.com:owner/repo.git",
            "host.example.com:repo.git",
        ] {
            assert!(is_network_url(url), "{url}");
        }
        for path in [
            "/srv/git/app.git",
            "file:///srv/git/app.git",
            "relative/dir",
            "./a:b/c",
        ] {
            assert!(!is_network_url(path), "{path}");
        }
        assert_eq!(
            source_url("git@github.com:o/r.git"),
            "git@github.com:o/r.git"
        );
    }

    fn git(dir: &Path, args: &[&str]) {
        let status = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@localhost"])
            .args(args)
            .current_dir(dir)
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }

    #[test]
    fn the_git_command_mirrors_branches_and_tags_prunes_and_follows_head() {
        let temp = tempfile::tempdir().unwrap();
        let source = temp.path().join("source");
        std::fs::create_dir_all(&source).unwrap();
        git(&source, &["init", "-q", "-b", "trunk"]);
        std::fs::write(source.join("a"), "1").unwrap();
        git(&source, &["add", "-A"]);
        git(&source, &["commit", "-q", "-m", "one"]);
        git(&source, &["tag", "v1"]);
        git(&source, &["branch", "gone"]);
        let mirror_dir = temp.path().join("mirror.git");
        let url = format!("file://{}", source.display());
        let mirror = Mirror::open_or_create(&mirror_dir, &url).unwrap();
        fetch_with_git_command(&mirror_dir, &url).unwrap();
        let refs = ref_values(mirror.repository()).unwrap();
        let names: Vec<&str> = refs.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["refs/heads/gone", "refs/heads/trunk", "refs/tags/v1"]
        );
        assert_eq!(mirror.default_branch().as_deref(), Some("trunk"));
        git(&source, &["branch", "-D", "gone"]);
        fetch_with_git_command(&mirror_dir, &url).unwrap();
        let refs = ref_values(mirror.repository()).unwrap();
        assert!(
            !refs.contains_key("refs/heads/gone"),
            "deleted refs are pruned"
        );
        let missing = fetch_with_git_command(&mirror_dir, "file:///no/such/repository");
        let message = missing.unwrap_err().to_string();
        assert!(
            message.contains("fetch file:///no/such/repository"),
            "{message}"
        );
    }
}
