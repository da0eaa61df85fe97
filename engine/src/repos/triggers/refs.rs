//! A ref update (`old new ref`, as git hooks, fetches and webhooks all describe a push) and what
//! kind of ref it names. Pure: no git access.

use git2::Oid;

use super::TriggerError;

/// One ref moved: created (`old` is `None`), deleted (`new` is `None`) or updated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    /// Full ref name (`refs/heads/main`, `refs/tags/v1`).
    pub name: String,
    /// The commit the ref pointed at before; `None` when the push created it.
    pub old: Option<Oid>,
    /// The commit the ref points at now; `None` when the push deleted it.
    pub new: Option<Oid>,
}

/// What a full ref name names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind<'a> {
    /// A branch (`refs/heads/<name>`), holding the short name, e.g. `main`.
    Branch(&'a str),
    /// A tag (`refs/tags/<name>`), holding the short name, e.g. `v1.2.0`.
    Tag(&'a str),
    /// Anything else (`refs/notes/…`, `refs/pull/…`): no event is made for these.
    Other,
}

impl RefUpdate {
    /// An update of ref `name` from `old` to `new` (either `None` for a created or deleted ref).
    pub fn new(name: impl Into<String>, old: Option<Oid>, new: Option<Oid>) -> RefUpdate {
        RefUpdate {
            name: name.into(),
            old,
            new,
        }
    }

    /// Reads the three fields as a hook or webhook gives them: 40 hex digits each, all zeros (or
    /// empty) meaning "none".
    pub fn from_hex(old: &str, new: &str, name: &str) -> Result<RefUpdate, TriggerError> {
        if !name.starts_with("refs/") || name.chars().any(char::is_whitespace) {
            return Err(TriggerError::Invalid(format!(
                "read ref update: `{name}` is not a full ref name"
            )));
        }
        Ok(RefUpdate {
            name: name.to_string(),
            old: parse_oid(old, "old")?,
            new: parse_oid(new, "new")?,
        })
    }

    /// Whether the push created the ref (it had no value before).
    pub fn is_created(&self) -> bool {
        self.old.is_none() && self.new.is_some()
    }

    /// Whether the push deleted the ref.
    pub fn is_deleted(&self) -> bool {
        self.new.is_none()
    }

    /// Whether the ref is a branch, a tag or something else, with its short name.
    pub fn kind(&self) -> RefKind<'_> {
        ref_kind(&self.name)
    }

    /// `old` as 40 hex digits, zeros when there is none (GitHub's `before`).
    pub fn old_hex(&self) -> String {
        hex_or_zero(self.old)
    }

    /// `new` as 40 hex digits, zeros when there is none (GitHub's `after`).
    pub fn new_hex(&self) -> String {
        hex_or_zero(self.new)
    }
}

/// Classifies a full ref name.
pub fn ref_kind(name: &str) -> RefKind<'_> {
    if let Some(branch) = name.strip_prefix("refs/heads/") {
        RefKind::Branch(branch)
    } else if let Some(tag) = name.strip_prefix("refs/tags/") {
        RefKind::Tag(tag)
    } else {
        RefKind::Other
    }
}

/// The short name GitHub puts in `create`/`delete` payloads and `github.ref_name`.
pub fn short_name(name: &str) -> &str {
    match ref_kind(name) {
        RefKind::Branch(short) | RefKind::Tag(short) => short,
        RefKind::Other => name,
    }
}

fn hex_or_zero(oid: Option<Oid>) -> String {
    oid.map(|oid| oid.to_string())
        .unwrap_or_else(|| crate::runs::event::ZERO_SHA.to_string())
}

fn parse_oid(hex: &str, field: &str) -> Result<Option<Oid>, TriggerError> {
    let hex = hex.trim();
    if hex.is_empty() || hex.bytes().all(|b| b == b'0') {
        return Ok(None);
    }
    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(TriggerError::Invalid(format!(
            "read ref update: `{field}` is not a 40-digit commit id: `{hex}`"
        )));
    }
    Oid::from_str(hex)
        .map(Some)
        .map_err(|error| TriggerError::Invalid(format!("read ref update: `{field}`: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeros_mean_created_or_deleted() {
        let sha = "a".repeat(40);
        let created =
            RefUpdate::from_hex(crate::runs::event::ZERO_SHA, &sha, "refs/heads/x").unwrap();
        assert!(created.is_created() && !created.is_deleted());
        let deleted =
            RefUpdate::from_hex(&sha, crate::runs::event::ZERO_SHA, "refs/tags/v1").unwrap();
        assert!(deleted.is_deleted() && !deleted.is_created());
        assert_eq!(deleted.kind(), RefKind::Tag("v1"));
        assert_eq!(deleted.new_hex(), crate::runs::event::ZERO_SHA);
    }

    #[test]
    fn malformed_updates_are_errors() {
        assert!(RefUpdate::from_hex("xyz", &"a".repeat(40), "refs/heads/x").is_err());
        assert!(RefUpdate::from_hex("", &"a".repeat(40), "main").is_err());
        assert!(RefUpdate::from_hex("", &"a".repeat(39), "refs/heads/x").is_err());
    }

    #[test]
    fn kinds_and_short_names() {
        assert_eq!(
            ref_kind("refs/heads/feature/a"),
            RefKind::Branch("feature/a")
        );
        assert_eq!(ref_kind("refs/notes/commits"), RefKind::Other);
        assert_eq!(short_name("refs/tags/v1.2"), "v1.2");
    }
}
