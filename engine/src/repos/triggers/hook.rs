//! The git hooks that tell the engine about a push the moment it lands, and their installer:
//! `post-receive` (the default) or `reference-transaction` ([`HookKind`]).
//!
//! The script reads git's `old new ref` lines from stdin and POSTs them as
//! `{"pusher":…,"updates":[{"old":…,"new":…,"ref":…}]}` to `POST /api/v1/repos/{name}/hook` with
//! `Authorization: Bearer <hook token>`. `curl` runs in the background with a 2-second limit and
//! its output discarded, so the push returns at once and succeeds whether or not the engine is up
//! (polling catches up later). A hook of the same name already in place is kept: it is renamed
//! (e.g. [`CHAINED_HOOK`]) and run after ours with the same arguments and input, and its exit
//! status is the hook's.
//!
//! The `reference-transaction` hook runs for every ref transaction, three times: `prepared`,
//! then `committed` or `aborted` (its first argument). It notifies only on `committed`, so an
//! aborted push announces nothing, and it exits 0 itself in every state, so it can never abort a
//! transaction (only a chained hook of the user's may). It also sees refs git moves outside
//! pushes; only `refs/heads/*` and `refs/tags/*` lines that change something are sent. A push
//! without `--atomic` commits (and so announces) each ref in its own transaction: a job started
//! by the first ref can run before the engine has mirrored a tag pushed with it.
//!
//! The token sits in the hook file, so the file is readable by whoever can read the repository:
//! use a token that can only announce pushes to this one repository.

use std::path::{Path, PathBuf};

use super::TriggerError;

/// A line every Slipway `post-receive` hook carries, so reinstalling replaces it instead of
/// chaining to it.
pub const MARKER: &str = "# slipway post-receive hook";
/// Where an existing `post-receive` hook is moved to, to run after ours.
pub const CHAINED_HOOK: &str = "post-receive.slipway-chained";
/// The `reference-transaction` hook's marker line.
pub const REFERENCE_TRANSACTION_MARKER: &str = "# slipway reference-transaction hook";
/// Where an existing `reference-transaction` hook is moved to, to run after ours.
pub const REFERENCE_TRANSACTION_CHAINED_HOOK: &str = "reference-transaction.slipway-chained";

/// Which git hook announces pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HookKind {
    /// Runs once after a push, with every ref it moved.
    #[default]
    PostReceive,
    /// Runs for every ref transaction (git ≥ 2.28); notifies on `committed` only. Also sees refs
    /// moved by other means than a push into this repository (e.g. a `git fetch` into it).
    ReferenceTransaction,
}

impl HookKind {
    /// The hook's file name under the hooks folder.
    pub fn file_name(self) -> &'static str {
        match self {
            HookKind::PostReceive => "post-receive",
            HookKind::ReferenceTransaction => "reference-transaction",
        }
    }

    fn marker(self) -> &'static str {
        match self {
            HookKind::PostReceive => MARKER,
            HookKind::ReferenceTransaction => REFERENCE_TRANSACTION_MARKER,
        }
    }

    fn chained(self) -> &'static str {
        match self {
            HookKind::PostReceive => CHAINED_HOOK,
            HookKind::ReferenceTransaction => REFERENCE_TRANSACTION_CHAINED_HOOK,
        }
    }

    fn other(self) -> HookKind {
        match self {
            HookKind::PostReceive => HookKind::ReferenceTransaction,
            HookKind::ReferenceTransaction => HookKind::PostReceive,
        }
    }
}

impl std::str::FromStr for HookKind {
    type Err = String;

    fn from_str(text: &str) -> Result<HookKind, String> {
        match text {
            "post-receive" => Ok(HookKind::PostReceive),
            "reference-transaction" => Ok(HookKind::ReferenceTransaction),
            other => Err(format!(
                "unknown hook kind `{other}` (expected `post-receive` or `reference-transaction`)"
            )),
        }
    }
}

/// The text of the `post-receive` hook for repository `repo_name` on the engine at `engine_url`
/// (`http://127.0.0.1:8080`), authenticating with `token`.
pub fn hook_script(engine_url: &str, repo_name: &str, token: &str) -> String {
    hook_script_of_kind(HookKind::PostReceive, engine_url, repo_name, token)
}

/// The text of the hook of `kind` (see [`hook_script`]).
pub fn hook_script_of_kind(
    kind: HookKind,
    engine_url: &str,
    repo_name: &str,
    token: &str,
) -> String {
    let endpoint = format!(
        "{}/api/v1/repos/{}/hook",
        engine_url.trim_end_matches('/'),
        percent_encode(repo_name)
    );
    let (state_check, ref_filter) = match kind {
        HookKind::PostReceive => ("", ""),
        HookKind::ReferenceTransaction => (
            r#"notify=no
[ "$1" = committed ] && notify=yes
"#,
            r#"        [ "$old" != "$new" ] || continue
        case "$ref" in refs/heads/*|refs/tags/*) ;; *) continue ;; esac
"#,
        ),
    };
    let notify_guard = match kind {
        HookKind::PostReceive => "",
        HookKind::ReferenceTransaction => "[ \"$notify\" = yes ] && ",
    };
    let marker = kind.marker();
    let chained = kind.chained();
    format!(
        r#"#!/bin/sh
{marker}
# Tells the Slipway engine which refs this push moved. The push never waits for the engine and
# never fails because of it. Installed by Slipway; reinstalling replaces this file.
SLIPWAY_ENDPOINT={endpoint}
SLIPWAY_TOKEN={token}
input=$(cat)
# Who pushed: the user the hook runs as (on a shared server, the pusher's account).
pusher=$(printf '%s' "${{USER:-$(id -un 2>/dev/null)}}" | sed 's/\\/\\\\/g; s/"/\\"/g')
{state_check}body=$(printf '%s\n' "$input" | {{
    sep=''
    printf '{{"pusher":"%s","updates":[' "$pusher"
    while read -r old new ref; do
        [ -n "$ref" ] || continue
{ref_filter}        ref=$(printf '%s' "$ref" | sed 's/\\/\\\\/g; s/"/\\"/g')
        printf '%s{{"old":"%s","new":"%s","ref":"%s"}}' "$sep" "$old" "$new" "$ref"
        sep=','
    done
    printf ']}}'
}})
case "$body" in *'{{"old"'*) has_updates=yes ;; *) has_updates=no ;; esac
{notify_guard}[ "$has_updates" = yes ] && ( curl -fsS -m 2 -X POST \
    -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $SLIPWAY_TOKEN" \
    --data-binary "$body" "$SLIPWAY_ENDPOINT" || true ) </dev/null >/dev/null 2>&1 &
chained="$(dirname "$0")/{chained}"
if [ -x "$chained" ]; then
    printf '%s\n' "$input" | "$chained" "$@"
    exit $?
fi
exit 0
"#,
        endpoint = shell_quote(&endpoint),
        token = shell_quote(token),
    )
}

/// Installs `script` as the `post-receive` hook of the repository at `repo_path` (bare or not;
/// `core.hooksPath` is honoured) and makes it executable. A foreign hook already there is kept
/// and chained (see the module doc); a Slipway hook already there is replaced. Returns the path
/// of the installed hook.
pub fn install_hook(repo_path: &Path, script: &str) -> Result<PathBuf, TriggerError> {
    install_hook_of_kind(repo_path, HookKind::PostReceive, script)
}

/// [`install_hook`] for the hook of `kind`. A Slipway hook of the other kind is removed (its
/// chained hook, if any, put back), so one push is announced once.
pub fn install_hook_of_kind(
    repo_path: &Path,
    kind: HookKind,
    script: &str,
) -> Result<PathBuf, TriggerError> {
    let repo = git2::Repository::open(repo_path)
        .map_err(TriggerError::git(format!("open {}", repo_path.display())))?;
    let hooks_dir = hooks_dir(&repo);
    std::fs::create_dir_all(&hooks_dir)
        .map_err(TriggerError::io(format!("create {}", hooks_dir.display())))?;
    remove_ours(&hooks_dir, kind.other())?;
    let hook = hooks_dir.join(kind.file_name());
    let chained = hooks_dir.join(kind.chained());
    if hook.exists() {
        let existing = std::fs::read(&hook).unwrap_or_default();
        let ours = String::from_utf8_lossy(&existing).contains(kind.marker());
        if !ours {
            if chained.exists() {
                return Err(TriggerError::Invalid(format!(
                    "install hook: both {} and {} exist; remove one",
                    hook.display(),
                    chained.display()
                )));
            }
            std::fs::rename(&hook, &chained)
                .map_err(TriggerError::io(format!("move {} aside", hook.display())))?;
        }
    }
    // Write beside the hook and rename, so a push never runs a half-written file.
    let partial = hooks_dir.join(format!("{}.slipway-partial", kind.file_name()));
    std::fs::write(&partial, script)
        .map_err(TriggerError::io(format!("write {}", partial.display())))?;
    make_executable(&partial)?;
    std::fs::rename(&partial, &hook)
        .map_err(TriggerError::io(format!("install {}", hook.display())))?;
    Ok(hook)
}

/// Removes the Slipway hook of `kind` from `hooks_dir` if there is one, and puts the hook it
/// chained back in its place.
fn remove_ours(hooks_dir: &Path, kind: HookKind) -> Result<(), TriggerError> {
    let hook = hooks_dir.join(kind.file_name());
    let existing = std::fs::read(&hook).unwrap_or_default();
    if !String::from_utf8_lossy(&existing).contains(kind.marker()) {
        return Ok(());
    }
    std::fs::remove_file(&hook).map_err(TriggerError::io(format!("remove {}", hook.display())))?;
    let chained = hooks_dir.join(kind.chained());
    if chained.exists() {
        std::fs::rename(&chained, &hook)
            .map_err(TriggerError::io(format!("restore {}", hook.display())))?;
    }
    Ok(())
}

/// The folder git runs hooks from.
fn hooks_dir(repo: &git2::Repository) -> PathBuf {
    let base = repo.workdir().unwrap_or_else(|| repo.path()).to_path_buf();
    let configured = repo
        .config()
        .and_then(|config| config.get_path("core.hooksPath"))
        .ok();
    match configured {
        Some(path) if path.is_absolute() => path,
        Some(path) => base.join(path),
        None => repo.path().join("hooks"),
    }
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<(), TriggerError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(
        TriggerError::io(format!("make {} executable", path.display())),
    )
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> Result<(), TriggerError> {
    Ok(())
}

/// Quotes a value for a POSIX shell: inside single quotes, `'` becomes `'\''`.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// Percent-encodes everything but RFC 3986's unreserved characters, so a repository name is one
/// path segment.
fn percent_encode(value: &str) -> String {
    let mut encoded = String::new();
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_names_the_endpoint_and_token_quoted() {
        let script = hook_script("http://127.0.0.1:9/", "acme/it's", "tok'en");
        assert!(script.starts_with("#!/bin/sh\n"));
        assert!(script.contains(MARKER));
        assert!(script.contains("'http://127.0.0.1:9/api/v1/repos/acme%2Fit%27s/hook'"));
        assert!(script.contains(r"SLIPWAY_TOKEN='tok'\''en'"));
        assert!(script.contains("curl -fsS -m 2"));
    }
}
