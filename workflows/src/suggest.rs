//! "Did you mean" hints: the one edit distance the parser and the validator share.

/// Levenshtein distance over characters, with `_` and `-` counted as the same character
/// (`runs_on` is one typo away from nothing: it *is* `runs-on` to a reader).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let normalise = |c: char| if c == '_' { '-' } else { c };
    let a: Vec<char> = a.chars().map(normalise).collect();
    let b: Vec<char> = b.chars().map(normalise).collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::edit_distance;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("need", "needs"), 1);
        assert_eq!(edit_distance("runs_on", "runs-on"), 0);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("ünï", "uni"), 2);
    }
}
