//! Property tests for splits: stickiness, monotone canary ramps, observed shares close to the
//! weights, and the command-line and stored forms round-tripping.

use opm_core::split::{Split, SplitArm, SplitArms};
use proptest::prelude::*;

/// Distinct versions with weights summing to 100, base first.
fn valid_arms() -> impl Strategy<Value = Vec<SplitArm>> {
    (1usize..=10, proptest::collection::vec(1u32..10_000, 10), proptest::collection::vec(0u32..=100, 9)).prop_map(
        |(count, mut versions, cuts)| {
            versions.sort_unstable();
            versions.dedup();
            let count = count.min(versions.len());
            let mut cuts: Vec<u32> = cuts.into_iter().take(count - 1).collect();
            cuts.push(0);
            cuts.push(100);
            cuts.sort_unstable();
            let weights = cuts.windows(2).map(|pair| pair[1] - pair[0]);
            versions.into_iter().zip(weights).map(|(version, weight)| SplitArm { version, weight }).collect()
        },
    )
}

fn keys(prefix: &str, count: usize) -> impl Iterator<Item = String> + '_ {
    (0..count).map(move |index| format!("{prefix}-{index}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn same_key_same_arm_while_the_split_is_unchanged(arms in valid_arms(), group in "[a-z/]{1,20}", key in ".{1,40}") {
        let split = Split::new(SplitArms::new(arms).unwrap(), group).unwrap();
        let stored: Split = serde_json::from_str(&serde_json::to_string(&split).unwrap()).unwrap();
        let first = split.assign(Some(&key), || 0);
        prop_assert!(first.sticky);
        prop_assert_eq!(split.assign(Some(&key), || 1), first);
        prop_assert_eq!(stored.assign(Some(&key), || 2), first);
        prop_assert_eq!(split.arms()[first.arm_index].version, first.version);
        prop_assert!(split.arms()[first.arm_index].weight > 0);
    }

    #[test]
    fn raising_a_canary_only_moves_the_keys_in_between(p in 0u32..=100, q in 0u32..=100, group in "[a-z]{1,12}", prefix in "[a-z0-9]{1,8}") {
        let (p, q) = (p.min(q), p.max(q));
        let low = Split::canary(7, 8, p, group.clone()).unwrap();
        let high = Split::canary(7, 8, q, group).unwrap();
        for key in keys(&prefix, 300) {
            let before = low.assign(Some(&key), || 0).version;
            let after = high.assign(Some(&key), || 0).version;
            let bucket = low.gate_bucket(&key);
            prop_assert!(!(before == 8 && after == 7), "key {} went from canary back to stable", key);
            prop_assert_eq!(before != after, p < bucket && bucket <= q, "key {} bucket {} from {}% to {}%", key, bucket, p, q);
            prop_assert_eq!(after == 8, bucket <= q);
        }
    }

    #[test]
    fn a_ramp_never_moves_a_key_back(steps in proptest::collection::vec(0u32..=100, 1..8), prefix in "[a-z0-9]{1,8}") {
        let mut steps = steps;
        steps.sort_unstable();
        for key in keys(&prefix, 100) {
            let mut on_canary = false;
            for &step in &steps {
                let now = Split::canary(3, 4, step, "p/prompt/production").unwrap().assign(Some(&key), || 0).version == 4;
                prop_assert!(on_canary <= now, "key {} left the canary at {}%", key, step);
                on_canary = now;
            }
        }
    }

    #[test]
    fn scaling_the_challengers_keeps_their_keys(
        ratio in proptest::collection::vec(1u32..=5, 2..=4),
        scales in (1u32..=20, 1u32..=20),
        prefix in "[a-z0-9]{1,8}",
    ) {
        let total: u32 = ratio.iter().sum();
        let max_scale = 100 / total;
        prop_assume!(max_scale >= 1);
        let (small, large) = (scales.0.min(scales.1).min(max_scale), scales.0.max(scales.1).min(max_scale));
        let split_at = |scale: u32| {
            let mut arms = vec![SplitArm { version: 1, weight: 100 - scale * total }];
            arms.extend(ratio.iter().enumerate().map(|(index, r)| SplitArm { version: index as u32 + 2, weight: r * scale }));
            Split::new(SplitArms::new(arms).unwrap(), "g").unwrap()
        };
        let (before, after) = (split_at(small), split_at(large));
        for key in keys(&prefix, 200) {
            let (from, to) = (before.assign(Some(&key), || 0), after.assign(Some(&key), || 0));
            if from.arm_index != 0 {
                prop_assert_eq!(from, to, "key {} moved between challengers or back to the base", key);
            } else if to.arm_index != 0 {
                prop_assert!(before.gate_bucket(&key) > small * total && before.gate_bucket(&key) <= large * total);
            }
        }
    }

    #[test]
    fn observed_shares_follow_the_weights(arms in valid_arms(), prefix in "[a-z0-9]{1,8}") {
        const KEYS: usize = 20_000;
        let split = Split::new(SplitArms::new(arms).unwrap(), "default/welcome/production").unwrap();
        let mut served = vec![0usize; split.arms().len()];
        for key in keys(&prefix, KEYS) {
            served[split.assign(Some(&key), || 0).arm_index] += 1;
        }
        for (arm, count) in split.arms().iter().zip(served) {
            let expected = f64::from(arm.weight) / 100.0;
            let observed = count as f64 / KEYS as f64;
            // Five standard deviations of a binomial share, plus the rounding of small ratios.
            let tolerance = 5.0 * (expected * (1.0 - expected) / KEYS as f64).sqrt() + 0.002;
            prop_assert!((observed - expected).abs() <= tolerance, "version {}: {} observed, {} expected", arm.version, observed, expected);
        }
    }

    #[test]
    fn parse_display_round_trip(arms in valid_arms()) {
        let arms = SplitArms::new(arms).unwrap();
        let text = arms.to_string();
        prop_assert_eq!(SplitArms::parse(&text).unwrap(), arms.clone());
        let json = serde_json::to_string(&arms).unwrap();
        prop_assert_eq!(serde_json::from_str::<SplitArms>(&json).unwrap(), arms);
    }

    #[test]
    fn parse_never_panics_and_what_it_accepts_round_trips(text in "[0-9=, x]{0,40}") {
        if let Ok(arms) = SplitArms::parse(&text) {
            prop_assert_eq!(SplitArms::parse(&arms.to_string()).unwrap(), arms);
        }
    }
}
