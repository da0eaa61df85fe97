//! Matrix expansion against GitHub's documented examples and rules: order, `exclude`, `include`,
//! the 256 limit, the `fromJSON` object form, the literal model form and display names.

use indexmap::IndexMap;
use serde_json::{Value, json};
use workflows::matrix::{
    Combination, MAX_COMBINATIONS, MatrixErrorKind, MatrixInput, combination_name, expand,
    expand_named, from_model,
};
use workflows::model::{MatrixMap, MatrixValues};
use workflows::span::{Span, Spanned};

/// Expands the `fromJSON` form of a matrix and compares with the expected combinations, in order
/// and with each combination's keys in order.
fn check(matrix: Value, expected: Value) {
    let input =
        MatrixInput::from_value(&matrix).unwrap_or_else(|error| panic!("{matrix}: {error}"));
    let got = expand(&input).unwrap_or_else(|error| panic!("{matrix}: {error}"));
    let expected: Vec<Combination> =
        serde_json::from_value(expected).expect("expected combinations");
    assert_eq!(got, expected, "matrix {matrix}");
    for (got, expected) in got.iter().zip(&expected) {
        let got_keys: Vec<&String> = got.keys().collect();
        let expected_keys: Vec<&String> = expected.keys().collect();
        assert_eq!(
            got_keys, expected_keys,
            "key order of a combination of {matrix}"
        );
    }
}

fn error_of(matrix: Value) -> String {
    match MatrixInput::from_value(&matrix).and_then(|input| expand(&input)) {
        Ok(combinations) => panic!("{matrix} expanded to {combinations:?}, expected an error"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn cartesian_product_first_key_varies_slowest() {
    // GitHub's documented order for `version: [10, 12, 14]`, `os: [ubuntu-latest, windows-latest]`.
    check(
        json!({"version": [10, 12, 14], "os": ["ubuntu-latest", "windows-latest"]}),
        json!([
            {"version": 10, "os": "ubuntu-latest"},
            {"version": 10, "os": "windows-latest"},
            {"version": 12, "os": "ubuntu-latest"},
            {"version": 12, "os": "windows-latest"},
            {"version": 14, "os": "ubuntu-latest"},
            {"version": 14, "os": "windows-latest"},
        ]),
    );
    check(
        json!({"a": [1, 2, 3]}),
        json!([{"a": 1}, {"a": 2}, {"a": 3}]),
    );
    check(
        json!({"a": [1, 2], "b": ["x"], "c": [true, false]}),
        json!([
            {"a": 1, "b": "x", "c": true},
            {"a": 1, "b": "x", "c": false},
            {"a": 2, "b": "x", "c": true},
            {"a": 2, "b": "x", "c": false},
        ]),
    );
}

#[test]
fn documented_include_example() {
    // The fruit/animal example from GitHub's "Expanding or adding matrix configurations".
    check(
        json!({
            "fruit": ["apple", "pear"],
            "animal": ["cat", "dog"],
            "include": [
                {"color": "green"},
                {"color": "pink", "animal": "cat"},
                {"fruit": "apple", "shape": "circle"},
                {"fruit": "banana"},
                {"fruit": "banana", "animal": "cat"},
            ],
        }),
        json!([
            {"fruit": "apple", "animal": "cat", "color": "pink", "shape": "circle"},
            {"fruit": "apple", "animal": "dog", "color": "green", "shape": "circle"},
            {"fruit": "pear", "animal": "cat", "color": "pink"},
            {"fruit": "pear", "animal": "dog", "color": "green"},
            {"fruit": "banana"},
            {"fruit": "banana", "animal": "cat"},
        ]),
    );
}

#[test]
fn documented_exclude_example() {
    // GitHub's example: 12 combinations minus the one full match and the two partial matches.
    let matrix = json!({
        "os": ["macos-latest", "windows-latest"],
        "version": [12, 14, 16],
        "environment": ["staging", "production"],
        "exclude": [
            {"os": "macos-latest", "version": 12, "environment": "production"},
            {"os": "windows-latest", "version": 16},
        ],
    });
    let combinations = expand(&MatrixInput::from_value(&matrix).unwrap()).unwrap();
    assert_eq!(combinations.len(), 9);
    assert!(
        !combinations
            .iter()
            .any(|c| c["os"] == "windows-latest" && c["version"] == 16)
    );
    assert!(!combinations.iter().any(|c| c["os"] == "macos-latest"
        && c["version"] == 12
        && c["environment"] == "production"));
    assert!(
        combinations.iter().any(|c| c["os"] == "macos-latest"
            && c["version"] == 12
            && c["environment"] == "staging")
    );
}

#[test]
fn documented_include_with_exclude_example() {
    // From "Example: Expanding configurations": windows/16 gets npm 6; ubuntu/16 is excluded.
    check(
        json!({
            "os": ["windows-latest", "ubuntu-latest"],
            "node": [14, 16],
            "include": [{"os": "windows-latest", "node": 16, "npm": 6}],
            "exclude": [{"os": "ubuntu-latest", "node": 16}],
        }),
        json!([
            {"os": "windows-latest", "node": 14},
            {"os": "windows-latest", "node": 16, "npm": 6},
            {"os": "ubuntu-latest", "node": 14},
        ]),
    );
}

#[test]
fn exclude_partial_match_removes_every_match() {
    check(
        json!({"os": ["a", "b"], "v": [1, 2, 3], "exclude": [{"v": 2}]}),
        json!([{"os": "a", "v": 1}, {"os": "a", "v": 3}, {"os": "b", "v": 1}, {"os": "b", "v": 3}]),
    );
}

#[test]
fn exclude_is_applied_before_include() {
    // The include entry matches only the excluded combination, so it becomes its own combination.
    check(
        json!({
            "os": ["linux", "windows"],
            "exclude": [{"os": "windows"}],
            "include": [{"os": "windows", "experimental": true}],
        }),
        json!([{"os": "linux"}, {"os": "windows", "experimental": true}]),
    );
}

#[test]
fn exclude_everything_leaves_only_includes() {
    check(
        json!({"os": ["a", "b"], "exclude": [{"os": "a"}, {"os": "b"}]}),
        json!([]),
    );
    check(
        json!({"os": ["a", "b"], "exclude": [{"os": "a"}, {"os": "b"}], "include": [{"os": "c"}]}),
        json!([{"os": "c"}]),
    );
}

#[test]
fn include_only_matrix() {
    // GitHub's "include only" example: each entry is one job.
    check(
        json!({"include": [
            {"site": "production", "datacenter": "site-a"},
            {"site": "staging", "datacenter": "site-b"},
        ]}),
        json!([
            {"site": "production", "datacenter": "site-a"},
            {"site": "staging", "datacenter": "site-b"},
        ]),
    );
    // With no dimensions there is no original combination to merge into.
    check(
        json!({"include": [{"color": "green"}, {"color": "pink"}]}),
        json!([{"color": "green"}, {"color": "pink"}]),
    );
}

#[test]
fn include_with_original_key_and_new_value_adds_a_combination() {
    check(
        json!({"os": ["linux", "windows"], "node": [14], "include": [{"os": "macos", "node": 20}]}),
        json!([
            {"os": "linux", "node": 14},
            {"os": "windows", "node": 14},
            {"os": "macos", "node": 20},
        ]),
    );
}

#[test]
fn include_never_overwrites_original_values_but_overwrites_added_ones() {
    check(
        json!({
            "os": ["linux"],
            "include": [{"flavor": "a"}, {"flavor": "b"}, {"os": "linux", "flavor": "c", "extra": 1}],
        }),
        json!([{"os": "linux", "flavor": "c", "extra": 1}]),
    );
}

#[test]
fn include_matches_only_original_combinations() {
    // `{fruit: banana, animal: cat}` does not merge into the `{fruit: banana}` combination.
    check(
        json!({"fruit": ["apple"], "include": [{"fruit": "banana"}, {"fruit": "banana", "animal": "cat"}]}),
        json!([{"fruit": "apple"}, {"fruit": "banana"}, {"fruit": "banana", "animal": "cat"}]),
    );
}

#[test]
fn unmatched_include_lists_original_keys_first() {
    check(
        json!({"os": ["linux"], "include": [{"arch": "arm", "os": "mac"}]}),
        json!([{"os": "linux"}, {"os": "mac", "arch": "arm"}]),
    );
}

#[test]
fn values_compare_like_the_expression_language() {
    // GitHub compares include/exclude leaves with `==`: strings ignore case, '18' == 18.
    check(
        json!({"os": ["Linux", "mac"], "exclude": [{"os": "linux"}]}),
        json!([{"os": "mac"}]),
    );
    check(
        json!({"node": [18, 20], "exclude": [{"node": "18"}]}),
        json!([{"node": 20}]),
    );
    check(
        json!({"flag": [true, false], "exclude": [{"flag": "1"}]}),
        json!([{"flag": false}]),
    );
    // A string never equals an object value.
    check(
        json!({"cfg": [{"a": 1}], "exclude": [{"cfg": "a"}]}),
        json!([{"cfg": {"a": 1}}]),
    );
    // Matrix keys are case-insensitive: `OS` in an include entry filters on `os`.
    check(
        json!({"os": ["linux", "mac"], "include": [{"OS": "mac", "x": 1}]}),
        json!([{"os": "linux"}, {"os": "mac", "x": 1}]),
    );
}

#[test]
fn object_values_compare_leaf_by_leaf() {
    let matrix = json!({
        "node": [{"version": 12, "npm": 6}, {"version": 14, "npm": 7}],
        "os": ["linux"],
        "exclude": [{"node": {"version": 14}}],
        "include": [{"node": {"version": 12, "npm": 6}, "lts": true}],
    });
    check(
        matrix,
        json!([{"node": {"version": 12, "npm": 6}, "os": "linux", "lts": true}]),
    );
    // A nested leaf that differs does not match.
    check(
        json!({"node": [{"version": 12, "npm": 6}], "exclude": [{"node": {"version": 12, "npm": 7}}]}),
        json!([{"node": {"version": 12, "npm": 6}}]),
    );
    check(
        json!({"v": [[1, 2], [1, 3]], "exclude": [{"v": [1, 3]}]}),
        json!([{"v": [1, 2]}]),
    );
}

#[test]
fn empty_matrix_and_empty_dimension() {
    check(json!({}), json!([]));
    // A directly built input with an empty dimension: no product, includes still add.
    let input = MatrixInput {
        dimensions: IndexMap::from([
            ("os".to_string(), vec![]),
            ("v".to_string(), vec![json!(1)]),
        ]),
        include: vec![Combination::from([("os".to_string(), json!("mac"))])],
        exclude: vec![],
    };
    assert_eq!(
        expand(&input).unwrap(),
        vec![Combination::from([("os".to_string(), json!("mac"))])]
    );
    // Written out (literally or by fromJSON), GitHub rejects an empty vector.
    assert_eq!(
        error_of(json!({"os": [], "v": [1]})),
        "matrix key `os` has no values"
    );
}

#[test]
fn limit_of_256_counts_after_include_and_exclude() {
    let values: Vec<u32> = (0..256).collect();
    let at_limit = MatrixInput::from_value(&json!({"n": values})).unwrap();
    assert_eq!(expand(&at_limit).unwrap().len(), MAX_COMBINATIONS);

    let over = MatrixInput::from_value(&json!({"n": values, "include": [{"n": "extra"}]})).unwrap();
    let error = expand(&over).unwrap_err();
    assert_eq!(error.combination_count(), Some(257));
    assert_eq!(
        error.kind,
        MatrixErrorKind::TooManyCombinations { count: 257 }
    );
    assert_eq!(
        error.to_string(),
        "matrix yields 257 combinations, more than the limit of 256"
    );
    assert_eq!(
        error.in_job("build").to_string(),
        "matrix of job `build` yields 257 combinations, more than the limit of 256"
    );

    // 300 combinations brought under the limit by exclude are fine.
    let many: Vec<u32> = (0..300).collect();
    let excluded: Vec<Value> = (0..44).map(|n| json!({"n": n})).collect();
    let under = MatrixInput::from_value(&json!({"n": many, "exclude": excluded})).unwrap();
    assert_eq!(expand(&under).unwrap().len(), 256);

    // 17 × 17 = 289.
    let seventeen: Vec<u32> = (0..17).collect();
    let square = MatrixInput::from_value(&json!({"a": seventeen, "b": seventeen})).unwrap();
    assert_eq!(expand(&square).unwrap_err().combination_count(), Some(289));
}

#[test]
fn huge_products_are_refused_without_enumerating_them() {
    let hundred: Vec<u32> = (0..100).collect();
    let input = MatrixInput::from_value(
        &json!({"a": hundred, "b": hundred, "c": hundred, "d": hundred, "e": hundred}),
    )
    .unwrap();
    let error = expand(&input).unwrap_err();
    assert!(
        matches!(error.kind, MatrixErrorKind::ProductTooLarge { .. }),
        "{error:?}"
    );
    let dims: IndexMap<String, Vec<Value>> = (0..70)
        .map(|n| (format!("k{n}"), vec![json!(1), json!(2)]))
        .collect();
    let overflow = MatrixInput {
        dimensions: dims,
        ..MatrixInput::default()
    };
    assert!(matches!(
        expand(&overflow).unwrap_err().kind,
        MatrixErrorKind::ProductTooLarge { product: None }
    ));
}

#[test]
fn from_value_shape_errors_name_the_key() {
    assert_eq!(
        error_of(json!({"os": "linux"})),
        "matrix key `os` must be a list, found a string"
    );
    assert_eq!(
        error_of(json!({"os": {"a": 1}})),
        "matrix key `os` must be a list, found a mapping"
    );
    assert_eq!(
        error_of(json!({"os": null})),
        "matrix key `os` must be a list, found null"
    );
    assert_eq!(
        error_of(json!(["linux"])),
        "matrix must be a mapping, found a list"
    );
    assert_eq!(
        error_of(json!({"include": {"os": "a"}})),
        "matrix `include` must be a list of mappings, found a mapping"
    );
    assert_eq!(
        error_of(json!({"os": [1], "include": [{"os": 1}, 3]})),
        "matrix `include` entry 2 must be a mapping, found a number"
    );
    assert_eq!(
        error_of(json!({"os": [1], "exclude": ["x"]})),
        "matrix `exclude` entry 1 must be a mapping, found a string"
    );
    assert_eq!(
        error_of(json!({"os": [1], "include": [{}]})),
        "matrix `include` entry 1 has no values"
    );
    assert_eq!(
        error_of(json!({"os": [1], "exclude": [{}]})),
        "matrix `exclude` entry 1 has no values"
    );
    assert_eq!(
        error_of(json!({"os": [1], "exclude": [{"arch": "x"}]})),
        "matrix `exclude` entry 1 names key `arch`, which is not a matrix key"
    );
}

fn list(values: Value) -> MatrixValues {
    let Value::Array(items) = values else {
        panic!("not a list")
    };
    MatrixValues::List(Spanned::new(items, Span::new(0, 1, 1)))
}

#[test]
fn from_model_reads_literal_matrices() {
    let map = MatrixMap {
        span: Span::default(),
        dimensions: IndexMap::from([
            ("os".to_string(), list(json!(["linux", "mac"]))),
            ("node".to_string(), list(json!([18]))),
        ]),
        include: Some(list(json!([{"os": "mac", "arch": "arm"}]))),
        exclude: Some(list(json!([{"os": "linux"}]))),
    };
    let input = from_model(&map).unwrap();
    assert_eq!(input, MatrixInput::from_model(&map).unwrap());
    assert_eq!(
        expand(&input).unwrap(),
        vec![Combination::from([
            ("os".to_string(), json!("mac")),
            ("node".to_string(), json!(18)),
            ("arch".to_string(), json!("arm")),
        ])]
    );
}

#[test]
fn from_model_refuses_unevaluated_expressions() {
    let expr = |text: &str| MatrixValues::Expr(Spanned::new(text.to_string(), Span::default()));
    let map = MatrixMap {
        dimensions: IndexMap::from([
            ("os".to_string(), list(json!(["linux"]))),
            (
                "node".to_string(),
                expr("${{ fromJSON(needs.a.outputs.nodes) }}"),
            ),
        ]),
        ..MatrixMap::default()
    };
    let error = from_model(&map).unwrap_err();
    assert_eq!(
        error.kind,
        MatrixErrorKind::UnevaluatedExpression {
            key: "node".to_string()
        }
    );
    assert!(error.to_string().contains("key `node`"), "{error}");

    let map = MatrixMap {
        dimensions: IndexMap::from([("os".to_string(), list(json!(["linux"])))]),
        include: Some(expr("${{ fromJSON(inputs.extra) }}")),
        ..MatrixMap::default()
    };
    assert!(
        from_model(&map)
            .unwrap_err()
            .to_string()
            .contains("`include`")
    );
}

#[test]
fn display_names() {
    let combination: Combination =
        serde_json::from_value(json!({"os": "ubuntu", "node": 18})).unwrap();
    assert_eq!(
        combination_name("build", &combination),
        "build (ubuntu, 18)"
    );
    let nested: Combination = serde_json::from_value(
        json!({"cfg": {"os": "mac", "v": 3.5}, "flag": true, "none": null, "empty": ""}),
    )
    .unwrap();
    assert_eq!(combination_name("test", &nested), "test (mac, 3.5, true)");
    assert_eq!(combination_name("lint", &Combination::new()), "lint");
    let long: Combination = serde_json::from_value(json!({"a": "x".repeat(150)})).unwrap();
    let name = combination_name("build", &long);
    assert_eq!(name.chars().count(), 100);
    assert!(name.ends_with("..."));
    assert!(name.starts_with("build (xxx"));
}

#[test]
fn expand_named_leaves_include_extras_out_of_original_combinations() {
    let input = MatrixInput::from_value(&json!({
        "os": ["linux", "windows"],
        "node": [18],
        "include": [{"os": "windows", "experimental": true}, {"os": "mac", "node": 20, "arch": "arm"}],
    }))
    .unwrap();
    let names: Vec<String> = expand_named(&input, "test")
        .unwrap()
        .into_iter()
        .map(|c| c.display_name)
        .collect();
    assert_eq!(
        names,
        [
            "test (linux, 18)",
            "test (windows, 18)",
            "test (mac, 20, arm)"
        ]
    );
    let named = expand_named(&input, "test").unwrap();
    assert_eq!(named[1].matrix["experimental"], json!(true));
}
