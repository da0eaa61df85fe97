//! Who is who: users with an engine-wide role, their API tokens (random, shown once, stored
//! only as a SHA-256 hash, compared in constant time, with an expiry and a last-used time),
//! the role table every route is checked against (`routes`), the access log, and the mapping
//! of a git pusher to a user.
//!
//! The first start creates the user `admin` and makes the engine's `admin.token` file its first
//! token, so `serve --demo` and the CLI work with nothing to configure; a store from before
//! users existed is migrated the same way (its admin token keeps working, and the names its
//! audit log recorded from `--as` are marked `(asserted)`).
//!
//! This module must not serve HTTP (`api::access` and `api::users` do) nor decide who may
//! approve a deployment (`deploy` does, given the authenticated user's name).

pub mod routes;

use std::path::Path;

use jiff::{SignedDuration, Timestamp};
use protocol::users::{AccessEntry, Role, TokenScope, TokenView, User};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::store::{RecordKind, Store, StoreError, hash_secret};
pub use routes::{Access, ROUTES, RouteRule};

/// The name of the user the first start creates.
pub const ADMIN_USER: &str = "admin";
/// The name the engine's `admin.token` file has among `admin`'s tokens.
pub const ADMIN_TOKEN_NAME: &str = "admin.token";
/// Every user token starts with this, so a leaked one is easy to recognise.
pub const TOKEN_PREFIX: &str = "slw_";
/// A token's lifetime when none is asked for.
pub const DEFAULT_TOKEN_LIFETIME: SignedDuration = SignedDuration::from_hours(90 * 24);
/// How stale a token's last-used stamp may be before a request writes a new one.
const LAST_USED_RESOLUTION: SignedDuration = SignedDuration::from_secs(60);

/// A user as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// The login.
    pub name: String,
    /// Engine-wide role.
    pub role: Role,
    /// The git e-mail address mapped to this user.
    pub git_email: Option<String>,
    /// When the user was added.
    pub created_at: Timestamp,
}

/// A token as the store keeps it: the hash of the secret, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// A public id (for `token revoke`).
    pub id: String,
    /// Hex SHA-256 of the secret (also the record's key).
    pub hash: String,
    /// Whose token (the user's login, lower-cased key).
    pub user: String,
    /// Its name.
    pub name: String,
    /// What it may reach.
    pub scope: TokenScope,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Option<Timestamp>,
    /// When it was last used (to the minute).
    pub last_used_at: Option<Timestamp>,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
}

/// The authenticated user behind a request: put into the request by `api::access` before any
/// handler runs; handlers take it as the actor of what they do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user's login.
    pub user: String,
    /// The user's role.
    pub role: Role,
    /// The name of the token the request came with.
    pub token: String,
    /// The token's key in the store (its hash), for web sessions.
    pub token_key: String,
    /// What the token may reach.
    pub scope: TokenScope,
}

/// Why a token was not accepted (401).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No stored token matches the one presented.
    #[error("the token is not one this engine issued")]
    Unknown,
    /// The token was revoked (`slipway token revoke`) before this request.
    #[error("the token `{name}` was revoked at {at}")]
    Revoked {
        /// The token's name, as its user gave it.
        name: String,
        /// When it was revoked.
        at: Timestamp,
    },
    /// The token's expiry has passed.
    #[error("the token `{name}` expired at {at}")]
    Expired {
        /// The token's name, as its user gave it.
        name: String,
        /// When it expired.
        at: Timestamp,
    },
    /// The token's user was removed after the token was issued; holds the user's name.
    #[error("the token's user `{0}` no longer exists")]
    NoUser(String),
    /// Reading the user or token records failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A refused identity change (users, tokens).
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// A request field is not acceptable, e.g. a malformed login or an expiry too far ahead.
    #[error("{0}")]
    Invalid(String),
    /// No user has the given name.
    #[error("find user `{0}`: there is none")]
    NoSuchUser(String),
    /// The user has no token of the given name.
    #[error("find token `{0}`: there is none")]
    NoSuchToken(String),
    /// A user of the given name exists already.
    #[error("add user `{0}`: it exists already")]
    UserExists(String),
    /// The change is refused by a rule, e.g. removing the last admin.
    #[error("{0}")]
    Forbidden(String),
    /// Reading or writing the identity records in the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the access check decides for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Go on to the handler.
    Allow,
    /// 401: a credential is needed and none (valid) came.
    Unauthenticated,
    /// 403 for a user's role below the route's minimum.
    BelowRole {
        /// The lowest role the route admits.
        needed: Role,
    },
    /// 403 for a `flags:read` token outside `/ofrep/`.
    OutOfScope,
    /// 401: the route takes a runner, job or hook credential, never a user token (the
    /// handler checks that credential).
    HandlerAuthenticates,
}

/// The access decision for a route of `access` at `path`, given the caller a valid token
/// named (`None`: no valid token). This one function is what the access check applies.
pub fn decide(access: Access, path: &str, caller: Option<&Caller>) -> Verdict {
    match access {
        Access::Public => Verdict::Allow,
        Access::Runner | Access::JobToken | Access::Webhook => Verdict::HandlerAuthenticates,
        Access::Flags => match caller {
            None => Verdict::Unauthenticated,
            Some(_) if path.starts_with("/ofrep/") => Verdict::Allow,
            Some(_) => Verdict::OutOfScope,
        },
        Access::User(needed) => match caller {
            None => Verdict::Unauthenticated,
            Some(caller) if caller.scope != TokenScope::All => Verdict::OutOfScope,
            Some(caller) if caller.role < needed => Verdict::BelowRole { needed },
            Some(_) => Verdict::Allow,
        },
    }
}

/// The store key of a user's login (logins compare case-insensitively).
pub fn user_key(name: &str) -> String {
    name.trim().to_ascii_lowercase()
}

/// The store key of a token: the hex SHA-256 of its secret.
pub fn token_key(secret: &str) -> String {
    hex(&hash_secret(secret.trim()))
}

/// Checks a login: 1 to 64 of letters, digits, `-`, `_`, `.`, starting with a letter or digit.
pub fn check_login(name: &str) -> Result<(), IdentityError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(IdentityError::Invalid(format!(
            "field `name`: `{name}` is not a login (1 to 64 letters, digits, `-`, `_`, `.`, starting with a letter or digit)"
        )))
    }
}

/// Creates the `admin` user with `<data_dir>/admin.token` as its first token when the store has
/// no user yet (the first start, or the first start of a store from before users). Then the
/// names earlier audit entries recorded (asserted with `--as`) are marked `(asserted)`. Does
/// nothing when users exist or the file is missing. `true` when it created the user.
pub async fn bootstrap(store: &Store, data_dir: &Path) -> Result<bool, StoreError> {
    if !store
        .records::<UserRecord>(RecordKind::Users, "")?
        .is_empty()
    {
        return Ok(false);
    }
    let path = crate::runs::orchestrator::admin_token_path(data_dir);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(false);
    };
    let secret = text.trim();
    if secret.is_empty() {
        return Ok(false);
    }
    let now = Timestamp::now();
    let user = UserRecord {
        name: ADMIN_USER.to_string(),
        role: Role::Admin,
        git_email: None,
        created_at: now,
    };
    let key = token_key(secret);
    let token = TokenRecord {
        id: token_id(&key),
        hash: key.clone(),
        user: user_key(ADMIN_USER),
        name: ADMIN_TOKEN_NAME.to_string(),
        scope: TokenScope::All,
        created_at: now,
        expires_at: None,
        last_used_at: None,
        revoked_at: None,
    };
    let mut items = vec![
        (
            RecordKind::Users,
            user_key(ADMIN_USER),
            Store::encode_record(&user),
        ),
        (RecordKind::UserTokens, key, Store::encode_record(&token)),
    ];
    items.extend(asserted_audit_names(store)?);
    store.put_records(&items).await?;
    tracing::info!("created user `admin` with the engine's admin token as its first token");
    Ok(true)
}

/// The deployment audit log's entries as they were before users existed, with each actor
/// marked `(asserted)`: those names came from `--as`, not from a login.
fn asserted_audit_names(store: &Store) -> Result<Vec<(RecordKind, String, Vec<u8>)>, StoreError> {
    let mut items = Vec::new();
    for (key, mut entry) in store.keyed_records::<serde_json::Value>(RecordKind::Audit)? {
        let Some(actor) = entry.get("actor").and_then(|actor| actor.as_str()) else {
            continue;
        };
        if actor.ends_with(" (asserted)") || actor == deploy::SYSTEM_ACTOR {
            continue;
        }
        let marked = format!("{actor} (asserted)");
        if let Some(map) = entry.as_object_mut() {
            map.insert("actor".into(), marked.into());
        }
        items.push((RecordKind::Audit, key, Store::encode_record(&entry)));
    }
    Ok(items)
}

/// The caller a token names, or why it names nobody. A valid token's last-used stamp moves
/// (at most once a minute).
pub async fn authenticate(store: &Store, secret: &str) -> Result<Caller, AuthError> {
    let key = token_key(secret);
    let record: TokenRecord = store
        .record(RecordKind::UserTokens, &key)?
        .ok_or(AuthError::Unknown)?;
    // The record was found by its hash; compare once more in constant time, so no answer
    // depends on how much of a guess matched.
    if !bool::from(record.hash.as_bytes().ct_eq(key.as_bytes())) {
        return Err(AuthError::Unknown);
    }
    caller_of(store, record).await
}

/// The caller of the token stored under `key` (a web session names its token so).
pub async fn authenticate_key(store: &Store, key: &str) -> Result<Caller, AuthError> {
    let record: TokenRecord = store
        .record(RecordKind::UserTokens, key)?
        .ok_or(AuthError::Unknown)?;
    caller_of(store, record).await
}

async fn caller_of(store: &Store, record: TokenRecord) -> Result<Caller, AuthError> {
    let now = Timestamp::now();
    if let Some(at) = record.revoked_at {
        return Err(AuthError::Revoked {
            name: record.name,
            at,
        });
    }
    if let Some(at) = record.expires_at
        && at <= now
    {
        return Err(AuthError::Expired {
            name: record.name,
            at,
        });
    }
    let user: UserRecord = store
        .record(RecordKind::Users, &record.user)?
        .ok_or_else(|| AuthError::NoUser(record.user.clone()))?;
    let stale = record
        .last_used_at
        .is_none_or(|at| now.duration_since(at) >= LAST_USED_RESOLUTION);
    if stale {
        store
            .update_record(
                RecordKind::UserTokens,
                &record.hash,
                move |token: &mut TokenRecord| {
                    token.last_used_at = Some(now);
                },
            )
            .await?;
    }
    Ok(Caller {
        user: user.name,
        role: user.role,
        token: record.name,
        token_key: record.hash,
        scope: record.scope,
    })
}

/// Adds a user.
pub async fn add_user(
    store: &Store,
    name: &str,
    role: Role,
    git_email: Option<String>,
) -> Result<UserRecord, IdentityError> {
    let name = name.trim();
    check_login(name)?;
    let git_email = git_email
        .map(|email| email.trim().to_string())
        .filter(|email| !email.is_empty());
    if let Some(email) = &git_email
        && !email.contains('@')
    {
        return Err(IdentityError::Invalid(format!(
            "field `git_email`: `{email}` is not an e-mail address"
        )));
    }
    if store
        .record::<UserRecord>(RecordKind::Users, &user_key(name))?
        .is_some()
    {
        return Err(IdentityError::UserExists(name.to_string()));
    }
    let user = UserRecord {
        name: name.to_string(),
        role,
        git_email,
        created_at: Timestamp::now(),
    };
    store
        .put_record(RecordKind::Users, &user_key(name), &user)
        .await?;
    Ok(user)
}

/// Every user, by login.
pub fn users(store: &Store) -> Result<Vec<UserRecord>, StoreError> {
    store.records(RecordKind::Users, "")
}

/// One user.
pub fn user(store: &Store, name: &str) -> Result<Option<UserRecord>, StoreError> {
    store.record(RecordKind::Users, &user_key(name))
}

/// Removes a user and revokes every token of theirs. The last admin cannot be removed.
pub async fn remove_user(store: &Store, name: &str) -> Result<(), IdentityError> {
    let key = user_key(name);
    let user: UserRecord = store
        .record(RecordKind::Users, &key)?
        .ok_or_else(|| IdentityError::NoSuchUser(name.to_string()))?;
    if user.role == Role::Admin
        && users(store)?
            .iter()
            .filter(|other| other.role == Role::Admin)
            .count()
            <= 1
    {
        return Err(IdentityError::Forbidden(format!(
            "remove user `{}`: it is the last admin",
            user.name
        )));
    }
    let now = Timestamp::now();
    let mut items = Vec::new();
    for mut token in store.records::<TokenRecord>(RecordKind::UserTokens, "")? {
        if token.user == key && token.revoked_at.is_none() {
            token.revoked_at = Some(now);
            items.push((
                RecordKind::UserTokens,
                token.hash.clone(),
                Store::encode_record(&token),
            ));
        }
    }
    if !items.is_empty() {
        store.put_records(&items).await?;
    }
    store.remove_record(RecordKind::Users, &key).await?;
    Ok(())
}

/// Makes a token for `user` (a user that exists); the secret in the answer is its only copy.
pub async fn create_token(
    store: &Store,
    user: &str,
    name: &str,
    lifetime: Option<SignedDuration>,
    scope: TokenScope,
) -> Result<(TokenRecord, String), IdentityError> {
    let owner: UserRecord = store
        .record(RecordKind::Users, &user_key(user))?
        .ok_or_else(|| IdentityError::NoSuchUser(user.to_string()))?;
    let name = name.trim();
    if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
        return Err(IdentityError::Invalid(format!(
            "field `name`: `{name}` is not a token name (1 to 64 printable characters)"
        )));
    }
    let secret = format!("{TOKEN_PREFIX}{}", crate::store::new_secret()?);
    let key = token_key(&secret);
    let now = Timestamp::now();
    let expires_at = match lifetime {
        None => None,
        Some(lifetime) => Some(now.checked_add(lifetime).map_err(|_| {
            IdentityError::Invalid("field `expires_in_secs`: too far in the future".to_string())
        })?),
    };
    let record = TokenRecord {
        id: token_id(&key),
        hash: key.clone(),
        user: user_key(&owner.name),
        name: name.to_string(),
        scope,
        created_at: now,
        expires_at,
        last_used_at: None,
        revoked_at: None,
    };
    store
        .put_record(RecordKind::UserTokens, &key, &record)
        .await?;
    Ok((record, secret))
}

/// Every token (of `user` when given), oldest first.
pub fn tokens(store: &Store, user: Option<&str>) -> Result<Vec<TokenRecord>, StoreError> {
    let mut tokens: Vec<TokenRecord> = store
        .records::<TokenRecord>(RecordKind::UserTokens, "")?
        .into_iter()
        .filter(|token| user.is_none_or(|user| token.user == user_key(user)))
        .collect();
    tokens.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    Ok(tokens)
}

/// Revokes the token with id `id`, if `may` allows its record; answers the record.
pub async fn revoke_token(
    store: &Store,
    id: &str,
    may: impl Fn(&TokenRecord) -> Result<(), IdentityError>,
) -> Result<TokenRecord, IdentityError> {
    let token = tokens(store, None)?
        .into_iter()
        .find(|token| token.id == id.trim())
        .ok_or_else(|| IdentityError::NoSuchToken(id.to_string()))?;
    may(&token)?;
    let now = Timestamp::now();
    let updated = store
        .update_record(
            RecordKind::UserTokens,
            &token.hash,
            move |token: &mut TokenRecord| {
                if token.revoked_at.is_none() {
                    token.revoked_at = Some(now);
                }
                token.clone()
            },
        )
        .await?
        .ok_or_else(|| IdentityError::NoSuchToken(id.to_string()))?;
    Ok(updated)
}

/// The user a git pusher is: the one whose login equals `name`, or whose git e-mail equals
/// `email` or `name` (case-insensitively). `None`: an unmapped git identity, which no
/// authenticated user is, so it can never approve.
pub fn map_git_identity(
    store: &Store,
    name: Option<&str>,
    email: Option<&str>,
) -> Result<Option<UserRecord>, StoreError> {
    let name = name.map(str::trim).filter(|name| !name.is_empty());
    let email = email.map(str::trim).filter(|email| !email.is_empty());
    Ok(users(store)?.into_iter().find(|user| {
        let by_name = name.is_some_and(|name| user.name.eq_ignore_ascii_case(name));
        let by_email = user.git_email.as_deref().is_some_and(|mapped| {
            [email, name]
                .into_iter()
                .flatten()
                .any(|given| mapped.eq_ignore_ascii_case(given))
        });
        by_name || by_email
    }))
}

/// Appends one entry to the access log (durable on return).
pub async fn record_access(store: &Store, entry: &AccessEntry) -> Result<(), StoreError> {
    let key = store.sortable_key()?;
    store.put_record(RecordKind::AccessAudit, &key, entry).await
}

/// The access log (of `user` when given), oldest first.
pub fn access_log(store: &Store, user: Option<&str>) -> Result<Vec<AccessEntry>, StoreError> {
    Ok(store
        .records::<AccessEntry>(RecordKind::AccessAudit, "")?
        .into_iter()
        .filter(|entry| user.is_none_or(|user| entry.user.eq_ignore_ascii_case(user)))
        .collect())
}

impl From<UserRecord> for User {
    fn from(user: UserRecord) -> User {
        User {
            name: user.name,
            role: user.role,
            git_email: user.git_email,
            created_at: user.created_at,
        }
    }
}

impl TokenRecord {
    /// The wire view (no hash, no secret), naming the user by `user_name`.
    pub fn view(&self, user_name: &str) -> TokenView {
        TokenView {
            id: self.id.clone(),
            user: user_name.to_string(),
            name: self.name.clone(),
            scope: self.scope,
            created_at: self.created_at,
            expires_at: self.expires_at,
            last_used_at: self.last_used_at,
            revoked_at: self.revoked_at,
        }
    }
}

/// A token's public id: a prefix of the hash of its hash, so the id reveals nothing of the
/// key a session cookie or the store uses.
fn token_id(key: &str) -> String {
    hex(&hash_secret(key))[..12].to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role, scope: TokenScope) -> Caller {
        Caller {
            user: "u".into(),
            role,
            token: "t".into(),
            token_key: "k".into(),
            scope,
        }
    }

    #[test]
    fn a_flags_token_reaches_only_flag_reads() {
        let flags = caller(Role::Viewer, TokenScope::FlagsRead);
        assert_eq!(
            decide(Access::Flags, "/ofrep/v1/evaluate/flags", Some(&flags)),
            Verdict::Allow
        );
        assert_eq!(
            decide(Access::User(Role::Viewer), "/api/v1/runs", Some(&flags)),
            Verdict::OutOfScope
        );
        let admin_flags = caller(Role::Admin, TokenScope::FlagsRead);
        assert_eq!(
            decide(
                Access::User(Role::Viewer),
                "/api/v1/runs",
                Some(&admin_flags)
            ),
            Verdict::OutOfScope
        );
        assert_eq!(
            decide(Access::Flags, "/api/v1/elsewhere", Some(&flags)),
            Verdict::OutOfScope
        );
        assert_eq!(
            decide(Access::Flags, "/ofrep/v1/evaluate/flags", None),
            Verdict::Unauthenticated
        );
    }

    #[test]
    fn logins_are_checked() {
        assert!(check_login("alice").is_ok());
        assert!(check_login("erin.o-k_2").is_ok());
        assert!(check_login("").is_err());
        assert!(check_login("-x").is_err());
        assert!(check_login("a b").is_err());
        assert!(check_login(&"a".repeat(65)).is_err());
    }

    #[tokio::test]
    async fn tokens_are_stored_hashed_and_expire_or_are_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        add_user(
            &store,
            "alice",
            Role::Deployer,
            Some("alice@example.com".into()),
        )
        .await
        .unwrap();
        let (record, secret) = create_token(&store, "alice", "laptop", None, TokenScope::All)
            .await
            .unwrap();
        assert!(secret.starts_with(TOKEN_PREFIX));
        assert_ne!(record.hash, secret);
        let caller = authenticate(&store, &secret).await.unwrap();
        assert_eq!(
            (caller.user.as_str(), caller.role),
            ("alice", Role::Deployer)
        );
        assert!(matches!(
            authenticate(&store, "slw_guess").await,
            Err(AuthError::Unknown)
        ));

        let (_, short) = create_token(
            &store,
            "alice",
            "short",
            Some(SignedDuration::from_secs(-1)),
            TokenScope::All,
        )
        .await
        .unwrap();
        assert!(matches!(
            authenticate(&store, &short).await,
            Err(AuthError::Expired { .. })
        ));

        revoke_token(&store, &record.id, |_| Ok(())).await.unwrap();
        assert!(matches!(
            authenticate(&store, &secret).await,
            Err(AuthError::Revoked { .. })
        ));
        let mapped = map_git_identity(&store, Some("Alice Smith"), Some("ALICE@example.com"))
            .unwrap()
            .unwrap();
        assert_eq!(mapped.name, "alice");
        assert!(
            map_git_identity(&store, Some("mallory"), Some("m@x"))
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_store_from_before_users_keeps_its_admin_token_and_marks_asserted_names() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        // What an older engine left: an admin token file and audit entries named by `--as`.
        std::fs::write(dir.path().join("admin.token"), "old-admin-token\n").unwrap();
        store
            .put_record(
                RecordKind::Audit,
                "0001",
                &serde_json::json!({"actor": "alice", "action": "approved"}),
            )
            .await
            .unwrap();
        assert!(matches!(
            authenticate(&store, "old-admin-token").await,
            Err(AuthError::Unknown)
        ));
        assert!(bootstrap(&store, dir.path()).await.unwrap());
        let admin = authenticate(&store, "old-admin-token").await.unwrap();
        assert_eq!((admin.user.as_str(), admin.role), ("admin", Role::Admin));
        assert_eq!(admin.token, ADMIN_TOKEN_NAME);
        let entry: serde_json::Value = store.record(RecordKind::Audit, "0001").unwrap().unwrap();
        assert_eq!(entry["actor"], "alice (asserted)");
        // Only once: a second start changes nothing.
        assert!(!bootstrap(&store, dir.path()).await.unwrap());
        let entry: serde_json::Value = store.record(RecordKind::Audit, "0001").unwrap().unwrap();
        assert_eq!(entry["actor"], "alice (asserted)");
    }
}
