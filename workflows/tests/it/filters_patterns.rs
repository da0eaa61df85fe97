//! Filter patterns against every example of GitHub's "Filter pattern cheat sheet", plus the edges
//! of the syntax (escapes, classes, `?`/`+`, invalid patterns).

use workflows::filters::{Pattern, compile_all, matches_patterns};

/// `patterns` applied in order select exactly the `selected` values and none of the `rejected`.
fn check(patterns: &[&str], selected: &[&str], rejected: &[&str]) {
    let compiled = compile_all(patterns).unwrap_or_else(|error| panic!("{patterns:?}: {error}"));
    for value in selected {
        assert!(
            matches_patterns(&compiled, value),
            "{patterns:?} should select `{value}`"
        );
    }
    for value in rejected {
        assert!(
            !matches_patterns(&compiled, value),
            "{patterns:?} should not select `{value}`"
        );
    }
}

// Patterns to match branches and tags.

#[test]
fn cheat_sheet_branches_and_tags() {
    check(
        &["feature/*"],
        &["feature/my-branch", "feature/your-branch"],
        &["feature/a/b", "feature", "features/x"],
    );
    check(
        &["feature/**"],
        &[
            "feature/beta-a/my-branch",
            "feature/your-branch",
            "feature/mona/the/octocat",
        ],
        &["feature", "main"],
    );
    check(
        &["main", "releases/mona-the-octocat"],
        &["main", "releases/mona-the-octocat"],
        &["mainline", "release/main"],
    );
    check(
        &["*"],
        &["main", "releases"],
        &["all/the/branches", "feature/x"],
    );
    check(&["**"], &["all/the/branches", "every/tag", "main"], &[]);
    check(
        &["*feature"],
        &["mona-feature", "feature", "ver-10-feature"],
        &["feature-x", "a/feature"],
    );
    check(&["v2*"], &["v2", "v2.0", "v2.9"], &["v1", "v3.2", "v2/x"]);
    check(
        &["v[12].[0-9]+.[0-9]+"],
        &["v1.10.1", "v2.0.0"],
        &["v3.0.0", "v1.x.1", "v1.1", "v1.10.1-rc"],
    );
}

// Patterns to match file paths.

#[test]
fn cheat_sheet_paths() {
    check(&["*"], &["README.md", "server.rb"], &["docs/file.txt"]);
    check(
        &["*.jsx?"],
        &["page.js", "page.jsx"],
        &["page.jsxx", "src/page.js"],
    );
    check(&["**"], &["all/the/files.md", "x"], &[]);
    check(&["*.js"], &["app.js", "index.js"], &["js/index.js"]);
    check(
        &["**.js"],
        &["index.js", "js/index.js", "src/js/app.js"],
        &["index.jsx", "a.ts"],
    );
    check(
        &["docs/*"],
        &["docs/README.md", "docs/file.txt"],
        &["docs/mona/octocat.txt", "README.md"],
    );
    check(
        &["docs/**"],
        &["docs/README.md", "docs/mona/octocat.txt"],
        &["src/docs/x", "docsx/a"],
    );
    check(
        &["docs/**/*.md"],
        &[
            "docs/README.md",
            "docs/mona/hello-world.md",
            "docs/a/markdown/file.md",
        ],
        &["docs/a/file.txt", "README.md"],
    );
    check(
        &["**/docs/**"],
        &[
            "docs/hello.md",
            "dir/docs/my-file.txt",
            "space/docs/plan/space.doc",
        ],
        &["documents/x", "mydocs/x"],
    );
    check(
        &["**/README.md"],
        &["README.md", "js/README.md"],
        &["README.markdown", "js/NOT-README.md"],
    );
    check(
        &["**/*src/**"],
        &["a/src/app.js", "my-src/code/js/app.js"],
        &["source/app.js", "a/src"],
    );
    check(
        &["**/*-post.md"],
        &["my-post.md", "path/their-post.md"],
        &["post.md", "path/post.md"],
    );
    check(
        &["**/migrate-*.sql"],
        &[
            "migrate-10909.sql",
            "db/migrate-v1.0.sql",
            "db/sept/migrate-v1.sql",
        ],
        &["db/migrate.sql", "db/migrate-1.sql.bak"],
    );
    check(
        &["*.md", "!README.md"],
        &["hello.md"],
        &["README.md", "docs/hello.md"],
    );
    check(
        &["*.md", "!README.md", "README*"],
        &["hello.md", "README.md", "README.doc"],
        &["docs/hello.md"],
    );
}

#[test]
fn documented_branch_negation_example() {
    // From `on.<pull_request>.branches`: later negative patterns exclude, order matters.
    check(
        &["releases/**", "!releases/**-alpha"],
        &["releases/10", "releases/beta/mona"],
        &["releases/10-alpha", "releases/beta/3-alpha"],
    );
    // Reversed order: the positive pattern comes last and selects everything again.
    check(
        &["!releases/**-alpha", "releases/**"],
        &["releases/10-alpha"],
        &[],
    );
}

#[test]
fn a_list_of_only_negative_patterns_selects_nothing() {
    check(&["!main"], &[], &["main", "dev"]);
    check(&[], &[], &["main"]);
}

#[test]
fn question_mark_and_plus_apply_to_the_preceding_element() {
    check(&["colou?r"], &["color", "colour"], &["colouur", "colr"]);
    check(&["a+b"], &["ab", "aab", "aaab"], &["b", "acb"]);
    check(&["[0-9]+"], &["1", "123"], &["", "12a"]);
    check(&["x[ab]?y"], &["xy", "xay", "xby"], &["xaby"]);
}

#[test]
fn character_classes() {
    check(&["[CB]at"], &["Cat", "Bat"], &["cat", "Hat", "CBat"]);
    check(&["[1-2]00"], &["100", "200"], &["300", "00"]);
    check(&["[0-9a-z]"], &["5", "q"], &["Q", "-"]);
    check(&["v[.-]1"], &["v.1", "v-1"], &["vx1"]);
}

#[test]
fn regex_metacharacters_and_escapes_are_literal() {
    check(&["release.1"], &["release.1"], &["releasex1"]);
    check(&["a(b)|c$"], &["a(b)|c$"], &["ab", "c"]);
    check(&["c\\+\\+"], &["c++"], &["c", "cc"]);
    check(&["what\\?"], &["what?"], &["what", "wha"]);
    check(&["\\*star"], &["*star"], &["xstar"]);
    check(&["\\!bang"], &["!bang"], &["bang"]);
    check(&["a!b"], &["a!b"], &["ab"]);
    check(&["\\[x]"], &["[x]"], &["x"]);
}

#[test]
fn matching_is_case_sensitive_and_anchored() {
    check(&["main"], &["main"], &["Main", "MAIN", "xmain", "main2"]);
    check(&["*.MD"], &["A.MD"], &["a.md"]);
}

#[test]
fn negation_flag_and_source() {
    let negative = Pattern::compile("!docs/**").unwrap();
    assert!(negative.negated);
    assert!(negative.is_match("docs/a.md"));
    assert_eq!(negative.as_str(), "!docs/**");
    assert!(!Pattern::compile("docs/**").unwrap().negated);
}

#[test]
fn invalid_patterns_are_errors_naming_the_pattern() {
    for (pattern, fragment) in [
        ("", "empty"),
        ("!", "empty"),
        ("?abc", "no preceding character"),
        ("+abc", "no preceding character"),
        ("v[0-9", "never closed"),
        ("v[]", "lists no characters"),
        ("[z-a]", "range `z-a`"),
        ("[a-Z]", "range `a-Z`"),
        ("trailing\\", "escapes nothing"),
    ] {
        let error = Pattern::compile(pattern).expect_err(pattern);
        assert!(error.contains(fragment), "`{pattern}`: {error}");
        assert!(
            error.contains(&format!("`{pattern}`")),
            "`{pattern}`: {error}"
        );
    }
}
