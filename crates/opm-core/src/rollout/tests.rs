//! Tests for the rollout spec and state machine: every transition, driven by a clock the test
//! controls.

use chrono::TimeZone;
use serde_json::json;

use super::*;

fn spec() -> RolloutSpec {
    RolloutSpec {
        steps: vec![5, 25, 50, 100],
        interval: Duration::from_secs(600),
        thresholds: Thresholds { max_error_rate: Some(0.02), ..Thresholds::default() },
        min_samples: 200,
        failure_limit: 1,
        inconclusive_limit: None,
    }
}

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap() + TimeDelta::minutes(minutes)
}

fn check(verdict: Verdict) -> CheckResult {
    let mut result = evaluate(&spec(), &ArmMetrics::default(), &ArmMetrics::default());
    result.verdict = verdict;
    result
}

fn passed() -> CheckResult {
    check(Verdict::Passed)
}

fn failed(reason: &str) -> CheckResult {
    check(Verdict::Failed { reasons: vec![reason.into()] })
}

fn inconclusive() -> CheckResult {
    check(Verdict::Inconclusive { reasons: vec!["canary arm has 3 calls in the window; 200 needed".into()] })
}

fn started(spec: &RolloutSpec) -> RolloutState {
    RolloutState::start(spec, at(0)).unwrap().0
}

#[test]
fn start_sets_the_first_share() {
    let (state, decision) = RolloutState::start(&spec(), at(0)).unwrap();
    assert_eq!(decision, Decision::SetWeight { canary_percent: 5 });
    assert_eq!(state.window_start(), Some(at(0)));
    assert_eq!(state.next_check_at(), Some(at(10)));
    assert_eq!(state.canary_percent(&spec()), 5);
    let invalid = RolloutSpec { steps: vec![], ..spec() };
    assert!(RolloutState::start(&invalid, at(0)).is_err());
}

#[test]
fn all_steps_passing_promotes_after_interval_times_steps() {
    let spec = spec();
    let mut state = started(&spec);
    let mut decisions = Vec::new();
    for minute in [10, 20, 30] {
        let (next, decision) = state.next(&spec, &passed(), at(minute));
        decisions.push(decision);
        state = next;
    }
    assert_eq!(
        decisions,
        [Decision::SetWeight { canary_percent: 25 }, Decision::SetWeight { canary_percent: 50 }, Decision::Promote]
    );
    assert_eq!(state, RolloutState::Promoted { at: at(30) });
    assert_eq!(state.canary_percent(&spec), 100);
    assert!(state.is_finished());
}

#[test]
fn an_early_check_is_not_counted() {
    let spec = spec();
    let state = started(&spec);
    for verdict in [passed(), failed("boom"), inconclusive()] {
        let (next, decision) = state.next(&spec, &verdict, at(9));
        assert_eq!(next, state);
        assert!(
            matches!(decision, Decision::Hold { ref reason } if reason.starts_with("next check is due at 2026-05-01T12:10:00"))
        );
    }
}

#[test]
fn inconclusive_never_promotes_and_widens_the_window() {
    let spec = RolloutSpec { steps: vec![50, 100], ..spec() };
    let mut state = started(&spec);
    for check_number in 1..=50u32 {
        let (next, decision) = state.next(&spec, &inconclusive(), at(10 * i64::from(check_number)));
        assert!(matches!(decision, Decision::Hold { .. }), "{decision:?}");
        let RolloutState::Progressing { step_index, inconclusive, window_start, next_check_at, .. } = next else {
            panic!("{next:?}");
        };
        assert_eq!((step_index, inconclusive, window_start), (0, check_number, at(0)));
        assert_eq!(next_check_at, at(10 * i64::from(check_number) + 10));
        state = next;
    }
    let (state, decision) = state.next(&spec, &passed(), at(510));
    assert_eq!(decision, Decision::Promote);
    assert!(state.is_finished());
}

#[test]
fn inconclusive_beyond_the_limit_pauses() {
    let spec = RolloutSpec { inconclusive_limit: Some(1), ..spec() };
    let (state, decision) = started(&spec).next(&spec, &inconclusive(), at(10));
    assert!(matches!(decision, Decision::Hold { .. }));
    let (state, decision) = state.next(&spec, &inconclusive(), at(20));
    let Decision::Pause { reason } = decision else { panic!("{decision:?}") };
    assert!(reason.starts_with("paused after inconclusive check 2: canary arm has 3 calls"), "{reason}");
    assert!(matches!(state, RolloutState::Paused { step_index: 0, failures: 0, .. }));
    assert_eq!(state.canary_percent(&spec), 5);
}

#[test]
fn a_passed_check_resets_the_inconclusive_count() {
    let spec = RolloutSpec { inconclusive_limit: Some(1), ..spec() };
    let (state, _) = started(&spec).next(&spec, &inconclusive(), at(10));
    let (state, _) = state.next(&spec, &passed(), at(20));
    let (state, decision) = state.next(&spec, &inconclusive(), at(30));
    assert!(matches!(decision, Decision::Hold { .. }));
    assert!(matches!(state, RolloutState::Progressing { step_index: 1, inconclusive: 1, .. }));
}

#[test]
fn failures_within_the_limit_hold_with_a_fresh_window() {
    let spec = spec();
    let (state, decision) = started(&spec).next(&spec, &failed("error rate 5.00% above 2.00%"), at(10));
    assert_eq!(decision, Decision::Hold { reason: "failed check 1 (limit 1): error rate 5.00% above 2.00%".into() });
    assert_eq!(
        state,
        RolloutState::Progressing {
            step_index: 0,
            failures: 1,
            inconclusive: 0,
            window_start: at(10),
            next_check_at: at(20)
        }
    );
}

#[test]
fn failures_beyond_the_limit_abort() {
    let spec = spec();
    let (state, _) = started(&spec).next(&spec, &failed("first"), at(10));
    let (state, decision) = state.next(&spec, &failed("second"), at(20));
    let reason = "aborted after failed check 2 (limit 1): second".to_owned();
    assert_eq!(decision, Decision::Abort { reason: reason.clone() });
    assert_eq!(state, RolloutState::Aborted { reason, at: at(20) });
    assert_eq!(state.canary_percent(&spec), 0);
}

#[test]
fn failure_limit_zero_aborts_at_the_first_failure() {
    let spec = RolloutSpec { failure_limit: 0, ..spec() };
    let (state, decision) = started(&spec).next(&spec, &failed("boom"), at(10));
    assert!(matches!(decision, Decision::Abort { .. }));
    assert!(matches!(state, RolloutState::Aborted { .. }));
}

#[test]
fn failures_count_over_the_whole_rollout() {
    let spec = spec();
    let (state, _) = started(&spec).next(&spec, &failed("one"), at(10));
    let (state, decision) = state.next(&spec, &passed(), at(20));
    assert_eq!(decision, Decision::SetWeight { canary_percent: 25 });
    assert!(matches!(state, RolloutState::Progressing { step_index: 1, failures: 1, .. }));
    let (_, decision) = state.next(&spec, &failed("two"), at(30));
    assert!(matches!(decision, Decision::Abort { .. }));
}

#[test]
fn checks_do_not_move_paused_or_finished_rollouts() {
    let spec = spec();
    let paused = started(&spec).pause("looking at dashboards", at(1)).unwrap().0;
    let promoted = RolloutState::Promoted { at: at(5) };
    let aborted = RolloutState::Aborted { reason: "r".into(), at: at(5) };
    for state in [paused, promoted, aborted] {
        for verdict in [passed(), failed("x"), inconclusive()] {
            let (next, decision) = state.next(&spec, &verdict, at(100));
            assert_eq!(next, state);
            assert_eq!(
                decision,
                Decision::Hold { reason: format!("the rollout is {}; checks are not applied", state.name()) }
            );
        }
    }
}

#[test]
fn pause_and_resume() {
    let spec = spec();
    let (state, _) = started(&spec).next(&spec, &failed("one"), at(10));
    let (paused, decision) = state.pause("investigating", at(12)).unwrap();
    assert_eq!(decision, Decision::Pause { reason: "investigating".into() });
    assert_eq!(
        paused,
        RolloutState::Paused { step_index: 0, failures: 1, reason: "investigating".into(), since: at(12) }
    );
    let (resumed, decision) = paused.resume(&spec, at(40)).unwrap();
    assert_eq!(decision, Decision::Hold { reason: "resumed at 5%".into() });
    assert_eq!(
        resumed,
        RolloutState::Progressing {
            step_index: 0,
            failures: 1,
            inconclusive: 0,
            window_start: at(40),
            next_check_at: at(50)
        }
    );
}

#[test]
fn manual_promote_and_abort() {
    let spec = spec();
    let progressing = started(&spec);
    let paused = progressing.pause("p", at(1)).unwrap().0;
    for state in [&progressing, &paused] {
        assert_eq!(state.promote(at(3)).unwrap(), (RolloutState::Promoted { at: at(3) }, Decision::Promote));
        let (aborted, decision) = state.abort("bad answers", at(3)).unwrap();
        assert_eq!(decision, Decision::Abort { reason: "bad answers".into() });
        assert_eq!(aborted, RolloutState::Aborted { reason: "bad answers".into(), at: at(3) });
    }
}

#[test]
fn refused_transitions_are_conflicts() {
    let spec = spec();
    let progressing = started(&spec);
    let paused = progressing.pause("p", at(1)).unwrap().0;
    let promoted = RolloutState::Promoted { at: at(2) };
    let aborted = RolloutState::Aborted { reason: "r".into(), at: at(2) };
    let check = |result: Result<(RolloutState, Decision), CoreError>, message: &str| {
        let error = result.unwrap_err();
        assert_eq!(error.to_string(), message);
        assert_eq!(error.code(), "rollout_state_conflict");
        assert_eq!(error.kind(), crate::ErrorKind::Conflict);
    };
    check(progressing.resume(&spec, at(3)), "cannot resume a rollout that is progressing");
    check(paused.pause("again", at(3)), "cannot pause a rollout that is paused");
    check(aborted.resume(&spec, at(3)), "cannot resume a rollout that is aborted");
    check(aborted.pause("p", at(3)), "cannot pause a rollout that is aborted");
    check(aborted.promote(at(3)), "cannot promote a rollout that is aborted");
    check(aborted.abort("r", at(3)), "cannot abort a rollout that is aborted");
    check(promoted.resume(&spec, at(3)), "cannot resume a rollout that is promoted");
    check(promoted.abort("r", at(3)), "cannot abort a rollout that is promoted");
    check(promoted.promote(at(3)), "cannot promote a rollout that is promoted");
}

#[test]
fn spec_validation_names_the_rule() {
    let check = |spec: RolloutSpec, expected: &str| {
        let error = spec.validate().unwrap_err();
        assert_eq!(error.to_string(), format!("invalid rollout: {expected}"));
        assert_eq!(error.code(), "invalid_rollout");
    };
    let steps = |steps: &[u8]| RolloutSpec { steps: steps.to_vec(), ..spec() };
    check(steps(&[]), "steps must not be empty (e.g. 5,25,50,100)");
    check(steps(&[0, 50, 100]), "step 0 is outside 1 to 100 percent");
    check(steps(&[5, 150]), "step 150 is outside 1 to 100 percent");
    check(steps(&[5, 25, 25, 100]), "steps must increase strictly, but 25 is followed by 25");
    check(steps(&[50, 25, 100]), "steps must increase strictly, but 50 is followed by 25");
    check(steps(&[5, 25, 50]), "steps must end at 100 (the promotion), not 50");
    check(steps(&[100]), "steps need at least one canary share below 100 before 100");
    check(RolloutSpec { interval: Duration::from_millis(999), ..spec() }, "interval 999ms is outside 1s to 7 days");
    check(RolloutSpec { min_samples: 0, ..spec() }, "min_samples must be at least 1 (no data never promotes)");
    let thresholds = |thresholds: Thresholds| RolloutSpec { thresholds, ..spec() };
    check(
        thresholds(Thresholds { max_error_rate: Some(2.0), ..Thresholds::default() }),
        "max_error_rate 2 must be a fraction from 0 to 1 (0.02 is 2%)",
    );
    check(
        thresholds(Thresholds { max_p95_latency_ms: Some(0.0), ..Thresholds::default() }),
        "max_p95_latency_ms 0 must be a positive number of milliseconds",
    );
    check(
        thresholds(Thresholds { max_cost_per_call_usd: Some(-1.0), ..Thresholds::default() }),
        "max_cost_per_call_usd -1 must be zero or more US dollars",
    );
    check(
        thresholds(Thresholds { min_feedback: Some(f64::NAN), ..Thresholds::default() }),
        "min_feedback NaN must be a finite score",
    );
    assert_eq!(spec().validate(), Ok(()));
    assert_eq!(steps(&[1, 100]).validate(), Ok(()));
}

#[test]
fn stored_forms() {
    let stored = json!({
        "steps": [5, 25, 50, 100], "interval_ms": 600000, "thresholds": {"max_error_rate": 0.02},
        "min_samples": 200, "failure_limit": 1
    });
    assert_eq!(serde_json::to_value(spec()).unwrap(), stored);
    assert_eq!(serde_json::from_value::<RolloutSpec>(stored).unwrap(), spec());
    let state = started(&spec());
    let value = serde_json::to_value(&state).unwrap();
    assert_eq!(value["state"], "progressing");
    assert_eq!(value["next_check_at"], "2026-05-01T12:10:00Z");
    assert_eq!(serde_json::from_value::<RolloutState>(value).unwrap(), state);
    assert_eq!(
        serde_json::to_value(Decision::SetWeight { canary_percent: 25 }).unwrap(),
        json!({"decision": "set_weight", "canary_percent": 25})
    );
    assert_eq!(serde_json::to_value(Decision::Promote).unwrap(), json!({"decision": "promote"}));
}

#[test]
fn a_huge_interval_saturates_instead_of_overflowing() {
    assert_eq!(later(DateTime::<Utc>::MAX_UTC, Duration::from_secs(60)), DateTime::<Utc>::MAX_UTC);
    assert_eq!(later(at(0), Duration::MAX), DateTime::<Utc>::MAX_UTC);
}
