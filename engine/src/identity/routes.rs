//! The role table: for every route of the API and the web UI, who may call it. The access
//! check in `api::access` looks a request up here before any handler runs; a route without an
//! entry is refused (and `every_route_of_the_router_has_an_entry` fails), so a new route cannot
//! slip in without a decision.
//!
//! This file must hold only the table and its lookup: authentication is `identity` and
//! `api::access`, the rules of approving are `deploy`'s.

use protocol::users::Role;

/// How a route is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credential (the login page, static assets, health, runner registration whose
    /// one-time token travels in the body).
    Public,
    /// The runner protocol: the handler takes a runner credential (never a user token).
    Runner,
    /// The cache service of the official actions: the handler takes a job's runtime token.
    JobToken,
    /// A repository's git hook or forge webhook: the handler checks the hook token or the
    /// HMAC signature; such a request never acts as a user.
    Webhook,
    /// Feature-flag reads (`/ofrep/…`): any valid user token, or a `flags:read` token.
    Flags,
    /// A user token (or a web session) whose user has at least this role.
    User(Role),
}

/// One entry: a method and axum's path template, as the router spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRule {
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE` (`HEAD` is looked up as `GET`).
    pub method: &'static str,
    /// The route's template (`/api/v1/runs/{run_id}`).
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
}

const fn rule(method: &'static str, path: &'static str, access: Access) -> RouteRule {
    RouteRule {
        method,
        path,
        access,
    }
}

use Access::{Flags, JobToken, Public, Runner, User, Webhook};
const VIEWER: Access = User(Role::Viewer);
const DEPLOYER: Access = User(Role::Deployer);
const MAINTAINER: Access = User(Role::Maintainer);
const ADMIN: Access = User(Role::Admin);

/// Every route and who may call it.
pub const ROUTES: &[RouteRule] = &[
    // Health, the login page, assets.
    rule("GET", "/healthz", Public),
    rule("GET", "/", Public),
    rule("GET", "/login", Public),
    rule("POST", "/login", Public),
    rule("POST", "/logout", Public),
    rule("GET", "/static/ui.css", Public),
    rule("GET", "/static/ui.js", Public),
    // The runner protocol (runner credentials only).
    rule("POST", "/api/v1/runners/register", Public),
    rule("POST", "/api/v1/runner/next", Runner),
    rule("POST", "/api/v1/jobs/{job_id}/heartbeat", Runner),
    rule("POST", "/api/v1/jobs/{job_id}/logs", Runner),
    rule("POST", "/api/v1/jobs/{job_id}/events", Runner),
    rule("POST", "/api/v1/jobs/{job_id}/finish", Runner),
    rule("POST", "/api/v1/jobs/{job_id}/source", Runner),
    rule("POST", "/api/v1/jobs/{job_id}/deployment", Runner),
    rule(
        "GET",
        "/api/v1/jobs/{job_id}/artifacts/{name}/files/{*path}",
        Runner,
    ),
    rule(
        "PUT",
        "/api/v1/jobs/{job_id}/artifacts/{name}/files/{*path}",
        Runner,
    ),
    rule("POST", "/api/v1/jobs/{job_id}/artifacts/{name}", Runner),
    rule("POST", "/api/v1/jobs/{job_id}/artifacts", Runner),
    rule("POST", "/api/v1/jobs/{job_id}/caches/lookup", Runner),
    rule(
        "GET",
        "/api/v1/jobs/{job_id}/caches/{key}/files/{*path}",
        Runner,
    ),
    rule(
        "PUT",
        "/api/v1/jobs/{job_id}/caches/{key}/files/{*path}",
        Runner,
    ),
    rule("POST", "/api/v1/jobs/{job_id}/caches/{key}", Runner),
    rule("GET", "/api/v1/actions/{owner}/{repo}/{archive}", Runner),
    // The official actions' cache service (job runtime tokens only).
    rule("GET", "/api/v1/toolkit/_apis/artifactcache/cache", JobToken),
    rule(
        "GET",
        "/api/v1/toolkit/_apis/artifactcache/caches",
        JobToken,
    ),
    rule(
        "POST",
        "/api/v1/toolkit/_apis/artifactcache/caches",
        JobToken,
    ),
    rule(
        "PATCH",
        "/api/v1/toolkit/_apis/artifactcache/caches/{cache_id}",
        JobToken,
    ),
    rule(
        "POST",
        "/api/v1/toolkit/_apis/artifactcache/caches/{cache_id}",
        JobToken,
    ),
    rule(
        "GET",
        "/api/v1/toolkit/_apis/artifactcache/archive",
        JobToken,
    ),
    // The official actions' artifact service (v4 protocol) and its blobs (job runtime tokens).
    rule(
        "POST",
        "/twirp/github.actions.results.api.v1.ArtifactService/{method}",
        JobToken,
    ),
    rule(
        "GET",
        "/api/v1/toolkit/_apis/artifactblob/{run_id}/{name}",
        JobToken,
    ),
    rule(
        "PUT",
        "/api/v1/toolkit/_apis/artifactblob/{run_id}/{name}",
        JobToken,
    ),
    // Git hooks and forge webhooks (hook token or HMAC).
    rule("POST", "/api/v1/repos/{name}/hook", Webhook),
    rule("POST", "/api/v1/repos/{name}/webhook", Webhook),
    // Feature flags read by applications.
    rule("POST", "/ofrep/v1/evaluate/flags", Flags),
    rule("POST", "/ofrep/v1/evaluate/flags/{key}", Flags),
    // Runs, logs, runners.
    rule("GET", "/api/v1/runs", VIEWER),
    rule("GET", "/api/v1/runs/{run_id}", VIEWER),
    rule("GET", "/api/v1/runs/{run_id}/jobs/{job_key}/logs", VIEWER),
    rule(
        "GET",
        "/api/v1/runs/{run_id}/jobs/{job_key}/logs/lines",
        VIEWER,
    ),
    rule(
        "GET",
        "/api/v1/runs/{run_id}/jobs/{job_key}/logs/search",
        VIEWER,
    ),
    rule("GET", "/api/v1/runs/{run_id}/artifacts", VIEWER),
    rule(
        "GET",
        "/api/v1/runs/{run_id}/artifacts/{name}/files/{*path}",
        VIEWER,
    ),
    rule("GET", "/api/v1/events/runs", VIEWER),
    rule("GET", "/api/v1/runners", VIEWER),
    rule("POST", "/api/v1/dispatch", DEPLOYER),
    rule("POST", "/api/v1/runs/{run_id}/rerun", DEPLOYER),
    rule("POST", "/api/v1/runs/{run_id}/cancel", DEPLOYER),
    rule(
        "POST",
        "/api/v1/runs/{run_id}/jobs/{job_key}/cancel",
        DEPLOYER,
    ),
    rule("GET", "/api/v1/runs/resolve", VIEWER),
    rule("POST", "/api/v1/admin/gc", ADMIN),
    rule("POST", "/api/v1/admin/registration-tokens", MAINTAINER),
    // Secrets and variables (names only are ever read).
    rule("GET", "/api/v1/secrets", VIEWER),
    rule("PUT", "/api/v1/secrets/{name}", MAINTAINER),
    rule("DELETE", "/api/v1/secrets/{name}", MAINTAINER),
    rule("GET", "/api/v1/variables", VIEWER),
    rule("PUT", "/api/v1/variables/{name}", MAINTAINER),
    rule("DELETE", "/api/v1/variables/{name}", MAINTAINER),
    // Watched repositories, schedules, statuses.
    rule("GET", "/api/v1/repos", VIEWER),
    rule("POST", "/api/v1/repos", MAINTAINER),
    rule("DELETE", "/api/v1/repos/{name}", MAINTAINER),
    rule("POST", "/api/v1/repos/{name}/hook-token", MAINTAINER),
    rule("POST", "/api/v1/repos/{name}/accept", MAINTAINER),
    rule("POST", "/api/v1/repos/{name}/poll", MAINTAINER),
    rule("GET", "/api/v1/schedules", VIEWER),
    rule("GET", "/api/v1/commits/{sha}/statuses", VIEWER),
    // Remote actions.
    rule("GET", "/api/v1/actions", VIEWER),
    rule("GET", "/api/v1/actions/sources", VIEWER),
    rule("POST", "/api/v1/actions/sources", MAINTAINER),
    rule("POST", "/api/v1/actions/mirror", MAINTAINER),
    // Environments, deployments, approvals, groups, the audit log.
    rule("GET", "/api/v1/environments", VIEWER),
    rule("POST", "/api/v1/environments", MAINTAINER),
    rule("GET", "/api/v1/environments/{name}", VIEWER),
    rule("PATCH", "/api/v1/environments/{name}", MAINTAINER),
    rule("DELETE", "/api/v1/environments/{name}", MAINTAINER),
    rule("POST", "/api/v1/environments/{name}/rollback", DEPLOYER),
    rule("GET", "/api/v1/deployments", VIEWER),
    rule("GET", "/api/v1/deployments/{id}", VIEWER),
    rule("GET", "/api/v1/audit", VIEWER),
    rule("GET", "/api/v1/groups", VIEWER),
    rule("PUT", "/api/v1/groups/{name}", MAINTAINER),
    rule("POST", "/api/v1/runs/{run_id}/approvals", DEPLOYER),
    // Releases.
    rule("GET", "/api/v1/releases", VIEWER),
    rule("POST", "/api/v1/releases", DEPLOYER),
    rule("GET", "/api/v1/releases/{tag}", VIEWER),
    rule("DELETE", "/api/v1/releases/{tag}", MAINTAINER),
    rule("POST", "/api/v1/releases/{tag}/promote", DEPLOYER),
    rule("POST", "/api/v1/releases/{tag}/approve", DEPLOYER),
    rule("POST", "/api/v1/releases/{tag}/withdraw", DEPLOYER),
    rule("POST", "/api/v1/releases/{tag}/plan", DEPLOYER),
    rule("POST", "/api/v1/releases/{tag}/plan/{action}", DEPLOYER),
    rule("PUT", "/api/v1/releases/{tag}/notes", DEPLOYER),
    // A dry run over targeting keys: it reads, whatever its method.
    rule("POST", "/api/v1/releases/{tag}/reach", VIEWER),
    rule(
        "PUT",
        "/api/v1/environments/{environment}/release-policies/{category}",
        MAINTAINER,
    ),
    rule("GET", "/api/v1/status/environments", VIEWER),
    // Users and tokens: everyone manages their own tokens; the handlers let only an admin
    // touch another user's.
    rule("GET", "/api/v1/whoami", VIEWER),
    rule("GET", "/api/v1/users", MAINTAINER),
    rule("POST", "/api/v1/users", ADMIN),
    rule("DELETE", "/api/v1/users/{name}", ADMIN),
    rule("GET", "/api/v1/tokens", VIEWER),
    rule("POST", "/api/v1/tokens", VIEWER),
    rule("DELETE", "/api/v1/tokens/{id}", VIEWER),
    rule("GET", "/api/v1/audit/access", MAINTAINER),
    // The web UI.
    rule("GET", "/runs", VIEWER),
    rule("GET", "/runs/{run_id}", VIEWER),
    rule("GET", "/runs/{run_id}/jobs/{job_key}", VIEWER),
    rule("GET", "/runs/{run_id}/jobs/{job_key}/lines", VIEWER),
    rule("POST", "/runs/{run_id}/rerun", DEPLOYER),
    rule("POST", "/runs/{run_id}/cancel", DEPLOYER),
    rule("POST", "/runs/{run_id}/jobs/{job_key}/cancel", DEPLOYER),
    rule("POST", "/runs/{run_id}/decide", DEPLOYER),
    rule("GET", "/environments", VIEWER),
    rule("POST", "/environments/{name}/decide", DEPLOYER),
    rule("GET", "/releases", VIEWER),
    rule("GET", "/releases/calendar", VIEWER),
    rule("POST", "/releases/{tag}/reach", VIEWER),
    rule("POST", "/releases/{tag}/promote", DEPLOYER),
    rule("POST", "/releases/{tag}/withdraw", DEPLOYER),
    rule("GET", "/runners", VIEWER),
    rule("POST", "/runners/token", MAINTAINER),
    rule("GET", "/repositories", VIEWER),
];

/// Who may call `method path` (`path` as axum's matched template); `None` when the table has
/// no entry (the caller refuses such a request).
pub fn access(method: &str, path: &str) -> Option<Access> {
    let method = if method.eq_ignore_ascii_case("HEAD") {
        "GET"
    } else {
        method
    };
    ROUTES
        .iter()
        .find(|rule| rule.path == path && rule.method.eq_ignore_ascii_case(method))
        .map(|rule| rule.access)
}

/// Whether a user of `role` may call a route of `access` (what the access check decides once
/// the token is known to be valid and of scope `all`).
pub fn role_may_call(role: Role, access: Access) -> bool {
    match access {
        Access::User(needed) => role >= needed,
        Access::Flags | Access::Public => true,
        // These take credentials of their own: a user token is never one.
        Access::Runner | Access::JobToken | Access::Webhook => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Caller, Verdict, decide};
    use super::*;
    use proptest::prelude::*;
    use protocol::users::TokenScope;

    /// Every `.route("…", …)` in the engine's sources, as (method, path) pairs.
    fn routes_in_sources() -> Vec<(String, String)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        let mut folders = vec![root];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    folders.push(path);
                } else if path.extension().is_some_and(|ext| ext == "rs") {
                    files.push(path);
                }
            }
        }
        let mut found = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            // A route call runs from `.route(` to the next `.route(`/`.merge(`/`.layer(` or the
            // end of the builder.
            for (at, _) in text.match_indices(".route(") {
                let rest = &text[at + ".route(".len()..];
                let Some(open) = rest.find('"') else { continue };
                let Some(close) = rest[open + 1..].find('"') else {
                    continue;
                };
                let path = &rest[open + 1..open + 1 + close];
                let tail = &rest[open + 1 + close..];
                let end = [".route(", ".merge(", ".layer(", "\n}", ".with_state("]
                    .iter()
                    .filter_map(|stop| tail.find(stop))
                    .min()
                    .unwrap_or(tail.len());
                for method in method_calls(&tail[..end]) {
                    found.push((method, path.to_string()));
                }
            }
        }
        found
    }

    /// The methods `get(`, `post(`, … called in `text` (a name preceded by no identifier
    /// character), upper-cased.
    fn method_calls(text: &str) -> Vec<String> {
        let mut methods = Vec::new();
        for name in ["get", "post", "put", "patch", "delete"] {
            let needle = format!("{name}(");
            for (at, _) in text.match_indices(&needle) {
                let before = text[..at].chars().next_back();
                if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_')) {
                    methods.push(name.to_ascii_uppercase());
                }
            }
        }
        methods
    }

    #[test]
    fn every_route_of_the_router_has_an_entry() {
        let routes = routes_in_sources();
        assert!(routes.len() > 80, "found only {routes:?}");
        let missing: Vec<String> = routes
            .iter()
            .filter(|(method, path)| access(method, path).is_none())
            .map(|(method, path)| format!("{method} {path}"))
            .collect();
        assert!(
            missing.is_empty(),
            "routes without an entry in identity::routes::ROUTES: {missing:?}"
        );
    }

    #[test]
    fn the_table_has_no_duplicate_entries() {
        for (index, rule) in ROUTES.iter().enumerate() {
            assert!(
                !ROUTES[index + 1..]
                    .iter()
                    .any(|other| other.method == rule.method && other.path == rule.path),
                "{} {} is listed twice",
                rule.method,
                rule.path
            );
        }
    }

    #[test]
    fn lookups_follow_the_table() {
        assert_eq!(access("GET", "/api/v1/runs"), Some(VIEWER));
        assert_eq!(access("HEAD", "/api/v1/runs"), Some(VIEWER));
        assert_eq!(access("POST", "/api/v1/dispatch"), Some(DEPLOYER));
        assert_eq!(access("DELETE", "/api/v1/runs"), None);
        assert_eq!(access("GET", "/api/v1/nowhere"), None);
    }

    fn any_role() -> impl Strategy<Value = Role> {
        prop::sample::select(Role::ALL.to_vec())
    }

    fn any_scope() -> impl Strategy<Value = TokenScope> {
        prop::sample::select(vec![TokenScope::All, TokenScope::FlagsRead])
    }

    proptest! {
        /// Over the whole table, through the one decision the access check applies: no route
        /// is reachable by a role below its declared minimum (and every role at or above it
        /// reaches it with an `all` token); a `flags:read` token reaches nothing but `/ofrep/`;
        /// routes taking a runner, job or hook credential are never reached with a user token;
        /// nothing but public routes is reached without a token.
        #[test]
        fn no_route_is_reachable_below_its_minimum_role(
            index in 0..ROUTES.len(),
            role in any_role(),
            scope in any_scope(),
        ) {
            let rule = ROUTES[index];
            let caller = Caller {
                user: "someone".into(),
                role,
                token: "t".into(),
                token_key: "k".into(),
                scope,
            };
            let verdict = decide(rule.access, rule.path, Some(&caller));
            let allowed = verdict == Verdict::Allow;
            match rule.access {
                Access::User(needed) => {
                    prop_assert_eq!(allowed, role >= needed && scope == TokenScope::All);
                    prop_assert_eq!(allowed, role_may_call(role, rule.access) && scope == TokenScope::All);
                }
                Access::Flags => prop_assert_eq!(allowed, rule.path.starts_with("/ofrep/")),
                Access::Runner | Access::JobToken | Access::Webhook => {
                    prop_assert_eq!(verdict, Verdict::HandlerAuthenticates)
                }
                Access::Public => prop_assert!(allowed),
            }
            if scope == TokenScope::FlagsRead && allowed {
                prop_assert!(rule.path.starts_with("/ofrep/") || rule.access == Access::Public);
            }
            let anonymous = decide(rule.access, rule.path, None);
            prop_assert!(anonymous != Verdict::Allow || rule.access == Access::Public);
        }
    }
}
