//! Forges: the hosting services a watched repository lives on (GitHub, Gitea, Forgejo, GitLab),
//! as far as Slipway talks to them — their pull/merge request webhooks in, commit statuses out.
//!
//! Who does what:
//! - [`pull`]: a forge's pull/merge request webhook → one [`pull::PullRequest`] with GitHub's
//!   activity type and a GitHub-shaped `pull_request` payload (pure);
//! - [`merge`]: the pull request's head fetched into the mirror and its merge commit with the
//!   base built (git2, called on a blocking thread), and the files it changes;
//! - [`trust`]: which runs of a pull request get secrets (GitHub's fork rules, pure);
//! - [`status`]: each run's state posted to the forge's commit-status API, retried with backoff,
//!   never in a run's way; the last failure kept for `repo list`.
//!
//! The connection itself ([`ForgeLink`]) is part of the repository's record; its token is a
//! sealed secret named by the link, read when a status is sent (so rotating it needs no restart).

pub mod merge;
pub mod pull;
pub mod status;
pub mod trust;

use serde::{Deserialize, Serialize};

/// Which forge a repository lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForgeKind {
    /// GitHub or GitHub Enterprise (`api.github.com` or the instance's `/api/v3`).
    GitHub,
    /// A Gitea server, reached through its `/api/v1`.
    Gitea,
    /// A Forgejo server; speaks Gitea's API.
    Forgejo,
    /// GitLab (merge requests and `/api/v4`), whose webhooks and status states differ from
    /// GitHub's.
    GitLab,
}

impl ForgeKind {
    /// `github`, `gitea`, `forgejo`, `gitlab`.
    pub fn as_str(self) -> &'static str {
        match self {
            ForgeKind::GitHub => "github",
            ForgeKind::Gitea => "gitea",
            ForgeKind::Forgejo => "forgejo",
            ForgeKind::GitLab => "gitlab",
        }
    }

    /// Reads `--forge`'s value (case-insensitive).
    pub fn parse(text: &str) -> Result<ForgeKind, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "github" => Ok(ForgeKind::GitHub),
            "gitea" => Ok(ForgeKind::Gitea),
            "forgejo" => Ok(ForgeKind::Forgejo),
            "gitlab" => Ok(ForgeKind::GitLab),
            other => Err(format!(
                "forge `{other}` is not one of github, gitea, forgejo, gitlab"
            )),
        }
    }

    /// The ref a pull/merge request's head is published under on this forge.
    pub fn head_ref(self, number: u64) -> String {
        match self {
            ForgeKind::GitLab => format!("refs/merge-requests/{number}/head"),
            _ => format!("refs/pull/{number}/head"),
        }
    }

    /// The ref the forge publishes a merge preview under, when it makes one.
    pub fn merge_ref(self, number: u64) -> Option<String> {
        match self {
            ForgeKind::GitHub => Some(format!("refs/pull/{number}/merge")),
            ForgeKind::GitLab => Some(format!("refs/merge-requests/{number}/merge")),
            ForgeKind::Gitea | ForgeKind::Forgejo => None,
        }
    }
}

/// A watched repository's connection to its forge (kept in its record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForgeLink {
    /// Which forge the repository lives on, which decides the webhook format and the status API.
    pub kind: ForgeKind,
    /// The name of the sealed secret holding the API token (`slipway secret set NAME`).
    pub token_secret: String,
    /// The API's base URL (`https://api.github.com`, `https://host/api/v1`,
    /// `https://host/api/v4`).
    pub api: String,
    /// The repository as the forge's API names it (`owner/name`; a GitLab project path).
    pub project: String,
}

impl ForgeLink {
    /// The link `repo add --forge` asks for: the API URL given, or the forge's usual one for the
    /// source's host; the project from the source URL's path, else `github_repository`.
    pub fn new(
        kind: ForgeKind,
        token_secret: &str,
        api: Option<&str>,
        source: &str,
        github_repository: &str,
    ) -> Result<ForgeLink, String> {
        let token_secret = token_secret.trim();
        if token_secret.is_empty() {
            return Err("--forge-token-secret names no secret".into());
        }
        let host = url_host(source);
        let api = match (api, host) {
            (Some(api), _) => {
                let api = api.trim().trim_end_matches('/');
                if !(api.starts_with("http://") || api.starts_with("https://")) {
                    return Err(format!("--forge-api `{api}` is not an http(s) URL"));
                }
                api.to_string()
            }
            (None, Some(host)) => match kind {
                ForgeKind::GitHub if host == "github.com" => "https://api.github.com".into(),
                ForgeKind::GitHub => format!("https://{host}/api/v3"),
                ForgeKind::Gitea | ForgeKind::Forgejo => format!("https://{host}/api/v1"),
                ForgeKind::GitLab => format!("https://{host}/api/v4"),
            },
            (None, None) => {
                return Err(format!(
                    "the forge's API cannot be told from `{source}`; give --forge-api URL"
                ));
            }
        };
        let project = url_path(source).unwrap_or_else(|| github_repository.to_string());
        Ok(ForgeLink {
            kind,
            token_secret: token_secret.to_ascii_uppercase(),
            api,
            project,
        })
    }
}

/// The host of an `http(s)://`, `ssh://` or scp-like (`git@host:path`) URL.
fn url_host(source: &str) -> Option<String> {
    if let Some((_, rest)) = source.split_once("://") {
        let authority = rest.split('/').next()?;
        let host = authority.rsplit('@').next()?;
        let host = host.split(':').next()?;
        return (!host.is_empty()).then(|| host.to_string());
    }
    let (user_host, _) = source.split_once(':')?;
    let host = user_host.rsplit('@').next()?;
    (user_host.contains('@') && !host.is_empty() && !host.contains('/')).then(|| host.to_string())
}

/// The repository path of a network URL without `.git` (`group/sub/app`).
fn url_path(source: &str) -> Option<String> {
    url_host(source)?;
    let path = match source.split_once("://") {
        Some((_, rest)) => rest.split_once('/')?.1,
        None => source.split_once(':')?.1,
    };
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    (path.contains('/')).then(|| path.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_default_the_api_from_the_source() {
        let github = ForgeLink::new(
            ForgeKind::GitHub,
            "T",
            None,
            "https://github.com/o/a.git",
            "",
        )
        .unwrap();
        assert_eq!(github.api, "https://api.github.com");
        assert_eq!(github.project, "o/a");
        let gitlab = ForgeLink::new(
            ForgeKind::GitLab,
            "T",
            None,
            "git@gitlab.example:group/sub/app.git",
            "",
        )
        .unwrap();
        assert_eq!(gitlab.api, "https://gitlab.example/api/v4");
        assert_eq!(gitlab.project, "group/sub/app");
        let gitea = ForgeLink::new(
            ForgeKind::Gitea,
            "T",
            None,
            "https://git.example/o/a",
            "x/y",
        )
        .unwrap();
        assert_eq!(gitea.api, "https://git.example/api/v1");
        let local = ForgeLink::new(ForgeKind::Gitea, "T", None, "/srv/git/app", "local/app");
        assert!(local.unwrap_err().contains("--forge-api"));
        let given = ForgeLink::new(
            ForgeKind::Forgejo,
            "T",
            Some("http://127.0.0.1:9/api/v1/"),
            "/srv/git/app",
            "local/app",
        )
        .unwrap();
        assert_eq!(given.api, "http://127.0.0.1:9/api/v1");
        assert_eq!(given.project, "local/app");
        assert!(ForgeKind::parse("GitLab").is_ok() && ForgeKind::parse("svn").is_err());
    }
}
