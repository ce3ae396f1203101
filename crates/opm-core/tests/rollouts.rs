//! Property tests for the rollout state machine: whatever the sequence of check verdicts, only
//! passed checks advance, promotion needs one passed check per step below 100, the canary's share
//! never shrinks except to 0 on abort, and an abort means the failure limit was exceeded.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use opm_core::rollout::{ArmMetrics, CheckResult, Decision, RolloutSpec, RolloutState, Thresholds, Verdict, evaluate};
use proptest::prelude::*;

fn verdict() -> impl Strategy<Value = Verdict> {
    prop_oneof![
        Just(Verdict::Passed),
        Just(Verdict::Failed { reasons: vec!["error rate".into()] }),
        Just(Verdict::Inconclusive { reasons: vec!["few calls".into()] }),
    ]
}

fn check(spec: &RolloutSpec, verdict: Verdict) -> CheckResult {
    let mut result = evaluate(spec, &ArmMetrics::default(), &ArmMetrics::default());
    result.verdict = verdict;
    result
}

proptest! {
    #[test]
    fn only_passed_checks_move_a_rollout_forward(
        verdicts in proptest::collection::vec(verdict(), 0..40),
        early in proptest::collection::vec(any::<bool>(), 40),
        failure_limit in 0u32..4,
        inconclusive_limit in proptest::option::of(0u32..4),
    ) {
        let spec = RolloutSpec {
            steps: vec![5, 25, 50, 100],
            interval: Duration::from_secs(60),
            thresholds: Thresholds::default(),
            min_samples: 100,
            failure_limit,
            inconclusive_limit,
        };
        let start = DateTime::<Utc>::UNIX_EPOCH;
        let (mut state, _) = RolloutState::start(&spec, start).unwrap();
        let (mut counted_passes, mut counted_failures, mut share) = (0usize, 0u32, 5u8);
        let mut now = start;
        for (verdict, early) in verdicts.into_iter().zip(early) {
            // Sometimes the controller checks too early: such checks must not count.
            now += if early { TimeDelta::seconds(30) } else { TimeDelta::seconds(60) };
            let due = state.next_check_at().is_some_and(|due| now >= due);
            let progressing = matches!(state, RolloutState::Progressing { .. });
            let (next, decision) = state.next(&spec, &check(&spec, verdict.clone()), now);
            if !(progressing && due) {
                prop_assert_eq!(&next, &state);
                prop_assert!(matches!(decision, Decision::Hold { .. }), "an uncounted check must hold");
                continue;
            }
            match verdict {
                Verdict::Passed => counted_passes += 1,
                Verdict::Failed { .. } => counted_failures += 1,
                Verdict::Inconclusive { .. } => {
                    prop_assert!(matches!(decision, Decision::Hold { .. } | Decision::Pause { .. }), "inconclusive must hold or pause");
                }
            }
            let new_share = next.canary_percent(&spec);
            match &next {
                RolloutState::Promoted { .. } => prop_assert_eq!(counted_passes, spec.steps.len() - 1),
                RolloutState::Aborted { .. } => prop_assert!(counted_failures > failure_limit),
                _ => {
                    prop_assert!(new_share >= share);
                    prop_assert!(counted_failures <= failure_limit);
                }
            }
            share = new_share;
            state = next;
        }
    }
}
