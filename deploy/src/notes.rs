//! Release notes assembled from commits: the commits between the previous release's tag and
//! this one, grouped in Conventional Commits sections when their subjects follow it (`feat:`,
//! `fix(api)!:` …) and listed as other changes when they do not. Merged pull requests (`Merge
//! pull request #12 from …`) are listed by number with their title (the merge's body).
//!
//! This module must not read git: the engine walks the commits and hands them over.

/// One commit as the notes need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteCommit {
    /// The commit's full sha.
    pub sha: String,
    /// The whole message (subject, blank line, body).
    pub message: String,
}

/// Sections in the order they are written, with the Conventional Commits types they hold.
const SECTIONS: &[(&str, &[&str])] = &[
    ("Features", &["feat"]),
    ("Fixes", &["fix"]),
    ("Performance", &["perf"]),
    ("Reverts", &["revert"]),
    ("Documentation", &["docs"]),
    (
        "Maintenance",
        &["build", "chore", "ci", "refactor", "style", "test"],
    ),
];

/// Markdown notes for `commits` (newest first, as `git log` lists them); `previous` is the tag
/// they start after, if any.
pub fn assemble_notes(commits: &[NoteCommit], previous: Option<&str>) -> String {
    let mut breaking: Vec<String> = Vec::new();
    let mut sections: Vec<Vec<String>> = vec![Vec::new(); SECTIONS.len()];
    let mut pull_requests: Vec<String> = Vec::new();
    let mut other: Vec<String> = Vec::new();
    for commit in commits {
        let short: String = commit.sha.chars().take(7).collect();
        let subject = commit.message.lines().next().unwrap_or("").trim();
        if let Some(number) = pull_request_number(subject) {
            let title = commit
                .message
                .lines()
                .skip(1)
                .map(str::trim)
                .find(|line| !line.is_empty())
                .unwrap_or(subject);
            pull_requests.push(format!("- #{number} {title} ({short})"));
            continue;
        }
        match conventional(subject) {
            Some((kind, scope, is_breaking, description)) => {
                let scope = scope
                    .map(|scope| format!("**{scope}:** "))
                    .unwrap_or_default();
                let line = format!("- {scope}{description} ({short})");
                if is_breaking || commit.message.contains("BREAKING CHANGE:") {
                    breaking.push(line.clone());
                }
                match SECTIONS
                    .iter()
                    .position(|(_, kinds)| kinds.contains(&kind.as_str()))
                {
                    Some(index) => sections[index].push(line),
                    None => other.push(line),
                }
            }
            None => other.push(format!("- {subject} ({short})")),
        }
    }
    let mut notes = String::new();
    let mut section = |title: &str, lines: &[String]| {
        if lines.is_empty() {
            return;
        }
        if !notes.is_empty() {
            notes.push('\n');
        }
        notes.push_str(&format!("## {title}\n"));
        for line in lines {
            notes.push_str(line);
            notes.push('\n');
        }
    };
    section("Breaking changes", &breaking);
    for (index, (title, _)) in SECTIONS.iter().enumerate() {
        section(title, &sections[index]);
    }
    section("Pull requests", &pull_requests);
    section("Other changes", &other);
    if notes.is_empty() {
        return match previous {
            Some(tag) => format!("No changes since {tag}.\n"),
            None => "No changes.\n".to_string(),
        };
    }
    notes
}

/// `Merge pull request #12 from …` → 12.
fn pull_request_number(subject: &str) -> Option<u64> {
    let rest = subject.strip_prefix("Merge pull request #")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// `type(scope)!: description` → (type, scope, breaking, description).
fn conventional(subject: &str) -> Option<(String, Option<String>, bool, String)> {
    let (head, description) = subject.split_once(':')?;
    let description = description.trim();
    if description.is_empty() {
        return None;
    }
    let (head, breaking) = match head.strip_suffix('!') {
        Some(head) => (head, true),
        None => (head, false),
    };
    let (kind, scope) = match head.split_once('(') {
        Some((kind, scope)) => (kind, Some(scope.strip_suffix(')')?.trim().to_string())),
        None => (head, None),
    };
    if kind.is_empty() || !kind.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    Some((
        kind.to_ascii_lowercase(),
        scope.filter(|scope| !scope.is_empty()),
        breaking,
        description.to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(sha: &str, message: &str) -> NoteCommit {
        NoteCommit {
            sha: sha.into(),
            message: message.into(),
        }
    }

    #[test]
    fn commits_fall_in_their_sections() {
        let notes = assemble_notes(
            &[
                commit(
                    "aaaaaaa1",
                    "feat(checkout)!: one-click payment\n\nBREAKING CHANGE: new API",
                ),
                commit("bbbbbbb2", "fix: rounding of totals"),
                commit(
                    "ccccccc3",
                    "Merge pull request #42 from acme/cart\n\nFaster cart",
                ),
                commit("ddddddd4", "chore: bump deps"),
                commit("eeeeeee5", "Tidy the README"),
                commit("fffffff6", "feat: wishlist"),
            ],
            Some("v1.0.0"),
        );
        assert_eq!(
            notes,
            "## Breaking changes\n- **checkout:** one-click payment (aaaaaaa)\n\n\
             ## Features\n- **checkout:** one-click payment (aaaaaaa)\n- wishlist (fffffff)\n\n\
             ## Fixes\n- rounding of totals (bbbbbbb)\n\n\
             ## Maintenance\n- bump deps (ddddddd)\n\n\
             ## Pull requests\n- #42 Faster cart (ccccccc)\n\n\
             ## Other changes\n- Tidy the README (eeeeeee)\n"
        );
        assert_eq!(
            assemble_notes(&[], Some("v1.0.0")),
            "No changes since v1.0.0.\n"
        );
        assert_eq!(conventional("fix(: x"), None);
        assert_eq!(
            conventional("Note: something"),
            Some(("note".into(), None, false, "something".into()))
        );
    }
}
