//! Properties of matrix expansion over generated matrices: the plain product has the documented
//! size and order, `exclude` only removes, `include` never changes an original value, and no
//! input (however malformed) panics.

use indexmap::IndexMap;
use proptest::prelude::*;
use serde_json::{Value, json};
use workflows::matrix::{Combination, MAX_COMBINATIONS, MatrixInput, expand};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        (0u32..50).prop_map(|n| json!(n)),
        "[a-d]{1,3}".prop_map(Value::String),
    ]
}

/// Up to four dimensions named `k0`…, each with one to four distinct values.
fn dimensions() -> impl Strategy<Value = IndexMap<String, Vec<Value>>> {
    prop::collection::vec(prop::collection::btree_set(0u32..20, 1..5), 1..5).prop_map(|dims| {
        dims.into_iter()
            .enumerate()
            .map(|(i, values)| {
                (
                    format!("k{i}"),
                    values.into_iter().map(|n| json!(n)).collect(),
                )
            })
            .collect()
    })
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("include".to_string()),
                    Just("exclude".to_string()),
                    "[a-c]"
                ],
                inner,
                0..4
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn plain_product_has_documented_size_and_order(dims in dimensions()) {
        let input = MatrixInput { dimensions: dims.clone(), ..MatrixInput::default() };
        let combinations = expand(&input).unwrap();
        let size: usize = dims.values().map(Vec::len).product();
        prop_assert_eq!(combinations.len(), size);
        // Index `i` decomposes into per-dimension positions, the last dimension varying fastest.
        for (index, combination) in combinations.iter().enumerate() {
            let mut rest = index;
            let mut expected = Vec::new();
            for values in dims.values().rev() {
                expected.push(values[rest % values.len()].clone());
                rest /= values.len();
            }
            expected.reverse();
            let got: Vec<Value> = combination.values().cloned().collect();
            prop_assert_eq!(got, expected);
            let keys: Vec<&String> = combination.keys().collect();
            let dim_keys: Vec<&String> = dims.keys().collect();
            prop_assert_eq!(keys, dim_keys);
        }
    }

    #[test]
    fn exclude_removes_exactly_the_matching_combinations(dims in dimensions(), pick in any::<prop::sample::Index>(), key_pick in any::<prop::sample::Index>()) {
        let plain = expand(&MatrixInput { dimensions: dims.clone(), ..MatrixInput::default() }).unwrap();
        let (key, values) = dims.get_index(key_pick.index(dims.len())).unwrap();
        let value = values[pick.index(values.len())].clone();
        let exclude = vec![Combination::from([(key.clone(), value.clone())])];
        let filtered = expand(&MatrixInput { dimensions: dims.clone(), exclude, ..MatrixInput::default() }).unwrap();
        let expected: Vec<Combination> = plain.into_iter().filter(|c| c[key] != value).collect();
        prop_assert_eq!(filtered, expected);
    }

    #[test]
    fn include_never_changes_original_values(dims in dimensions(), extra in scalar(), key_pick in any::<prop::sample::Index>(), pick in any::<prop::sample::Index>()) {
        let plain = expand(&MatrixInput { dimensions: dims.clone(), ..MatrixInput::default() }).unwrap();
        let (key, values) = dims.get_index(key_pick.index(dims.len())).unwrap();
        let value = values[pick.index(values.len())].clone();
        let include = vec![Combination::from([(key.clone(), value.clone()), ("added".to_string(), extra.clone())])];
        let merged = expand(&MatrixInput { dimensions: dims.clone(), include, ..MatrixInput::default() }).unwrap();
        prop_assert_eq!(merged.len(), plain.len());
        for (before, after) in plain.iter().zip(&merged) {
            for (k, v) in before {
                prop_assert_eq!(&after[k], v);
            }
            prop_assert_eq!(after.get("added").is_some(), before[key] == value);
        }
    }

    #[test]
    fn never_panics_and_respects_the_limit(matrix in arbitrary_json()) {
        if let Ok(combinations) = MatrixInput::from_value(&matrix).and_then(|input| expand(&input)) {
            prop_assert!(combinations.len() <= MAX_COMBINATIONS);
        }
    }
}
