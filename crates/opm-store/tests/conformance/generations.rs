//! Stored generations: round trips, duplicate ids, statistics against a reference, time windows,
//! project isolation, feedback, retention and large batches. None of it is audited or announced.

mod reference;

use std::sync::Arc;

use chrono::Duration;
use opm_store::{
    GenerationOutcome, GenerationRow, GroupStats, NewFeedback, Percentiles, StatsGroupBy, StatsQuery, Store, StoreError,
};

use self::reference::*;
use crate::assert_err;
use crate::fixtures::*;

fn feedback(generation_id: &str, score: f64) -> NewFeedback {
    NewFeedback {
        project: default_project(),
        generation_id: generation_id.to_owned(),
        score,
        comment: None,
        key_id: Some("key-ci".to_owned()),
        at: chrono::Utc::now(),
    }
}

pub async fn insert_and_get_round_trip(store: Arc<dyn Store>) {
    let full = GenerationRow {
        prompt_version: Some(7),
        label: Some("production".to_owned()),
        arm: Some("b".to_owned()),
        sticky: Some(false),
        status: GenerationOutcome::Error,
        error_kind: Some("upstream_timeout".to_owned()),
        latency_ms: 1234.567891,
        ttft_ms: Some(0.1 + 0.2),
        upstream_ms: 1200.000001,
        input_tokens: Some(0),
        output_tokens: Some(u64::try_from(i64::MAX).unwrap()),
        cached_tokens: Some(3),
        cost_usd: Some(0.000_123_4),
        key_id: Some("key-1".to_owned()),
        attempts: 3,
        fallback_index: 2,
        streamed: true,
        ..generation("0190b9a0-0000-7000-8000-000000000001")
    };
    let bare = GenerationRow { prompt: None, prompt_version: None, ..generation("bare") };
    let keyed = GenerationRow { arm: Some("a".to_owned()), sticky: Some(true), ..generation("keyed") };
    assert_eq!(store.insert_generations(&[full.clone(), bare.clone(), keyed.clone()]).await.unwrap(), 3);
    assert_eq!(store.get_generation(&default_project(), &full.id).await.unwrap(), full);
    assert_eq!(store.get_generation(&default_project(), "keyed").await.unwrap().sticky, Some(true));
    let stored = store.get_generation(&default_project(), "bare").await.unwrap();
    assert_eq!(stored, bare);
    assert_eq!(
        (stored.input_tokens, stored.output_tokens, stored.cached_tokens, stored.cost_usd),
        (None, None, None, None)
    );
    assert_eq!((stored.ttft_ms, stored.sticky), (None, None));
    assert_eq!(store.count_generations().await.unwrap(), 3);

    assert_err!(store.get_generation(&default_project(), "missing").await, StoreError::GenerationNotFound { .. });
    assert_eq!(store.insert_generations(&[]).await.unwrap(), 0);
}

pub async fn generations_are_neither_audited_nor_announced(store: Arc<dyn Store>) {
    let mut events = store.subscribe();
    store.insert_generations(&many("quiet", 3)).await.unwrap();
    store.add_feedback(&feedback("quiet-0", 1.0)).await.unwrap();
    store.delete_generations_before(t0() + Duration::hours(1), 10).await.unwrap();
    assert!(audit_trail(&store).await.is_empty());
    assert!(events.try_recv().is_err(), "no change event");
}

pub async fn duplicate_ids_are_skipped(store: Arc<dyn Store>) {
    let first = generation("a");
    assert_eq!(store.insert_generations(&[first.clone(), generation("b")]).await.unwrap(), 2);
    let again = GenerationRow { latency_ms: 999.0, ..generation("a") };
    let batch = [again, generation("c"), generation("c"), generation("b")];
    assert_eq!(store.insert_generations(&batch).await.unwrap(), 1, "only `c` is new, once");
    assert_eq!(store.count_generations().await.unwrap(), 3);
    assert_eq!(store.get_generation(&default_project(), "a").await.unwrap(), first, "the first write stays");
}

pub async fn invalid_rows_fail_the_batch_before_writing(store: Arc<dyn Store>) {
    let cases = [
        GenerationRow { latency_ms: f64::NAN, ..generation("nan") },
        GenerationRow { ttft_ms: Some(f64::INFINITY), ..generation("inf") },
        GenerationRow { cost_usd: Some(-1.0), ..generation("negative") },
        GenerationRow { input_tokens: Some(u64::MAX), ..generation("huge") },
        GenerationRow { model: "nul\0".to_owned(), ..generation("nul") },
        generation(""),
    ];
    for bad in cases {
        let batch = [generation("good"), bad.clone()];
        assert_err!(store.insert_generations(&batch).await, StoreError::InvalidInput(_));
    }
    assert_eq!(store.count_generations().await.unwrap(), 0);
}

/// 1..=100 ms over 100 ok calls: p50 50, p95 95, p99 99 (nearest rank).
pub async fn stats_match_hand_computed_percentiles(store: Arc<dyn Store>) {
    let mut rows: Vec<GenerationRow> = (1..=100u32)
        .map(|ms| GenerationRow {
            prompt_version: Some(2),
            latency_ms: f64::from(ms),
            ttft_ms: (ms % 2 == 0).then(|| f64::from(ms)),
            input_tokens: (ms % 10 != 0).then_some(10),
            output_tokens: Some(u64::from(ms)),
            ..generation(&format!("v2-{ms}"))
        })
        .collect();
    // Failed calls count, but their latencies are not percentiles of successful calls.
    rows.push(GenerationRow {
        prompt_version: Some(2),
        status: GenerationOutcome::Error,
        latency_ms: 5000.0,
        ..generation("v2-error")
    });
    rows.push(GenerationRow {
        prompt_version: Some(2),
        status: GenerationOutcome::Cancelled,
        latency_ms: 0.5,
        ..generation("v2-cancel")
    });
    rows.push(GenerationRow { prompt_version: Some(10), status: GenerationOutcome::Error, ..generation("v10-error") });
    store.insert_generations(&rows).await.unwrap();

    let stats = store.generation_stats(&welcome_query(StatsGroupBy::Version)).await.unwrap();
    let names: Vec<_> = stats.iter().map(|group| group.group.as_str()).collect();
    assert_eq!(names, ["10", "2"], "versions newest first, numerically");
    let (v10, v2) = (&stats[0], &stats[1]);
    assert_eq!((v10.calls, v10.errors, v10.latency_ms, v10.ttft_ms), (1, 1, None, None));
    assert_eq!((v2.calls, v2.errors, v2.cancelled), (102, 1, 1));
    assert_eq!(v2.latency_ms, Some(Percentiles { p50: 50.0, p95: 95.0, p99: 99.0 }));
    // 50 even values 2..=100: ranks 25, 48 and 50.
    assert_eq!(v2.ttft_ms, Some(Percentiles { p50: 50.0, p95: 96.0, p99: 100.0 }));
    assert_eq!((v2.input_tokens, v2.output_tokens, v2.cached_tokens), (900, 5050, 0));
    assert_eq!((v2.cost_usd, v2.calls_with_cost, v2.feedback_count, v2.feedback_mean), (0.0, 0, 0, None));

    let single = GenerationRow { prompt_version: Some(3), latency_ms: 7.5, ..generation("v3-only") };
    store.insert_generations(&[single]).await.unwrap();
    let stats = store.generation_stats(&welcome_query(StatsGroupBy::Version)).await.unwrap();
    let one = Percentiles { p50: 7.5, p95: 7.5, p99: 7.5 };
    assert_eq!(stats.iter().find(|group| group.group == "3").unwrap().latency_ms, Some(one));
}

/// A mixed set, checked against the reference for every grouping, with rows outside the window,
/// of another prompt and of another project left out.
pub async fn stats_match_the_reference(store: Arc<dyn Store>) {
    let labels = [Some("production"), Some("staging"), None];
    let models = ["gpt-a", "gpt-b", "claude"];
    let arms = [Some("stable"), Some("canary"), Some("stable"), None, Some("canary")];
    let sticky = [Some(true), Some(false), None];
    let mut rows: Vec<GenerationRow> = (0..600u32)
        .map(|index| {
            let status = match index % 23 {
                0 => GenerationOutcome::Error,
                1 => GenerationOutcome::Cancelled,
                _ => GenerationOutcome::Ok,
            };
            GenerationRow {
                started_at: at_ms(i64::from(index) * 5000),
                prompt_version: if index % 37 == 0 { None } else { Some(index % 4 + 1) },
                label: labels[usize::try_from(index % 3).unwrap()].map(str::to_owned),
                model: models[usize::try_from(index % 7 % 3).unwrap()].to_owned(),
                arm: arms[usize::try_from(index % 5).unwrap()].map(str::to_owned),
                sticky: sticky[usize::try_from(index % 11 % 3).unwrap()],
                status,
                latency_ms: f64::from((index * 7919) % 1000) + 0.25,
                ttft_ms: (index % 2 == 0).then(|| f64::from((index * 104_729) % 300) / 3.0),
                input_tokens: (index % 5 != 0).then_some(u64::from(index)),
                output_tokens: (index % 3 != 0).then_some(2 * u64::from(index)),
                cached_tokens: (index % 11 == 0).then_some(1),
                cost_usd: (index % 4 != 0).then(|| f64::from(index) * 0.001),
                ..generation(&format!("mix-{index}"))
            }
        })
        .collect();
    let window_end = t0() + Duration::hours(1);
    rows.push(GenerationRow { started_at: t0() - Duration::microseconds(1), ..generation("before") });
    rows.push(GenerationRow { started_at: window_end, ..generation("at-the-end") });
    rows.push(GenerationRow { prompt: Some("other".to_owned()), ..generation("other-prompt") });
    let team = project("team-a");
    rows.push(GenerationRow { project: team.clone(), ..generation("other-project") });
    store.insert_generations(&rows).await.unwrap();
    let scores = [
        ("mix-2", 1.0),
        ("mix-2", 0.0),
        ("mix-3", 0.5),
        ("mix-10", 0.25),
        ("mix-11", 0.75),
        ("mix-14", 0.5),
        ("mix-15", 2.0),
        ("before", 1.0),
    ];
    for (id, score) in scores {
        store.add_feedback(&feedback(id, score)).await.unwrap();
    }

    for by in [StatsGroupBy::Version, StatsGroupBy::Label, StatsGroupBy::Model, StatsGroupBy::Arm] {
        let query = welcome_query(by);
        let actual = store.generation_stats(&query).await.unwrap();
        assert_stats_eq(&actual, &expected_stats(&rows, &scores, &query));
        assert_eq!(actual.iter().map(|group| group.calls).sum::<u64>(), 600, "{by:?}: only the window's rows");
        for label in ["production", "staging", "nothing-here"] {
            let query = StatsQuery { label: Some(label.to_owned()), ..welcome_query(by) };
            let actual = store.generation_stats(&query).await.unwrap();
            assert_stats_eq(&actual, &expected_stats(&rows, &scores, &query));
        }
    }
    let by_label = store.generation_stats(&welcome_query(StatsGroupBy::Label)).await.unwrap();
    let names: Vec<_> = by_label.iter().map(|group| group.group.as_str()).collect();
    assert_eq!(names, ["production", "staging", GroupStats::NONE]);

    let in_team = store.generation_stats(&query_in(&team, StatsGroupBy::Model)).await.unwrap();
    assert_eq!(in_team.len(), 1);
    assert_eq!(in_team[0].calls, 1);
}

/// Means, sample variances and unsticky counts by hand, grouped by arm, with the label filter.
pub async fn stats_means_variances_and_arms(store: Arc<dyn Store>) {
    let row = |id: &str, arm: Option<&str>, label: &str, latency_ms: f64, sticky: Option<bool>| GenerationRow {
        arm: arm.map(str::to_owned),
        label: Some(label.to_owned()),
        latency_ms,
        sticky,
        ..generation(id)
    };
    let rows = [
        row("s1", Some("stable"), "production", 10.0, Some(true)),
        row("s2", Some("stable"), "production", 20.0, Some(false)),
        row("s3", Some("stable"), "production", 30.0, Some(true)),
        GenerationRow {
            status: GenerationOutcome::Error,
            ..row("s4", Some("stable"), "production", 1000.0, Some(false))
        },
        row("c1", Some("canary"), "production", 40.0, Some(true)),
        row("n1", None, "staging", 5.0, None),
    ];
    store.insert_generations(&rows).await.unwrap();
    for (id, score) in [("s1", 1.0), ("s2", 0.0), ("s3", 0.5), ("c1", 1.0), ("n1", 3.0)] {
        store.add_feedback(&feedback(id, score)).await.unwrap();
    }

    let stats = store.generation_stats(&welcome_query(StatsGroupBy::Arm)).await.unwrap();
    let names: Vec<_> = stats.iter().map(|group| group.group.as_str()).collect();
    assert_eq!(names, ["canary", "stable", GroupStats::NONE], "by name, calls without an arm last");
    let (canary, stable, none) = (&stats[0], &stats[1], &stats[2]);
    // Stable: ok latencies 10, 20, 30 (the error's 1000 is left out); scores 1, 0, 0.5.
    assert_eq!((stable.calls, stable.errors, stable.unsticky), (4, 1, 2));
    assert_eq!((stable.latency_mean_ms, stable.latency_variance_ms2), (Some(20.0), Some(100.0)));
    assert_eq!((stable.feedback_count, stable.feedback_mean, stable.feedback_variance), (3, Some(0.5), Some(0.25)));
    // One value: a mean but no sample variance.
    assert_eq!((canary.calls, canary.unsticky), (1, 0));
    assert_eq!((canary.latency_mean_ms, canary.latency_variance_ms2), (Some(40.0), None));
    assert_eq!((canary.feedback_count, canary.feedback_mean, canary.feedback_variance), (1, Some(1.0), None));
    assert_eq!((none.calls, none.unsticky, none.latency_mean_ms, none.feedback_mean), (1, 0, Some(5.0), Some(3.0)));

    let production = StatsQuery { label: Some("production".to_owned()), ..welcome_query(StatsGroupBy::Arm) };
    let stats = store.generation_stats(&production).await.unwrap();
    assert_eq!(stats.iter().map(|group| group.group.as_str()).collect::<Vec<_>>(), ["canary", "stable"]);
    assert_eq!(stats.iter().map(|group| group.feedback_count).sum::<u64>(), 4, "the staging score is left out");
    let staging = StatsQuery { label: Some("staging".to_owned()), ..welcome_query(StatsGroupBy::Version) };
    let stats = store.generation_stats(&staging).await.unwrap();
    assert_eq!((stats.len(), stats[0].calls, stats[0].feedback_mean), (1, 1, Some(3.0)));

    // Equal values: a variance of exactly 0, never a negative one from rounding.
    let same: Vec<GenerationRow> =
        (0..5).map(|index| row(&format!("same-{index}"), Some("flat"), "flat", 0.1, Some(true))).collect();
    store.insert_generations(&same).await.unwrap();
    let flat = StatsQuery { label: Some("flat".to_owned()), ..welcome_query(StatsGroupBy::Arm) };
    let stats = store.generation_stats(&flat).await.unwrap();
    assert_eq!(stats[0].latency_variance_ms2, Some(0.0));
}

pub async fn stats_windows_are_half_open(store: Arc<dyn Store>) {
    store.insert_generations(&many("w", 10)).await.unwrap();
    let mut query = welcome_query(StatsGroupBy::Model);
    query.since = at_ms(3);
    query.until = at_ms(7);
    let stats = store.generation_stats(&query).await.unwrap();
    assert_eq!(stats[0].calls, 4, "3, 4, 5 and 6 ms");
    query.until = query.since;
    assert!(store.generation_stats(&query).await.unwrap().is_empty());
    query.until = at_ms(2);
    assert_err!(store.generation_stats(&query).await, StoreError::InvalidInput(_));
    let mut unknown = welcome_query(StatsGroupBy::Model);
    unknown.prompt = prompt("nothing-here");
    assert!(store.generation_stats(&unknown).await.unwrap().is_empty());
}

pub async fn projects_are_isolated(store: Arc<dyn Store>) {
    let team = project("team-a");
    store.insert_generations(&[GenerationRow { project: team.clone(), ..generation("theirs") }]).await.unwrap();
    assert_err!(store.get_generation(&default_project(), "theirs").await, StoreError::GenerationNotFound { .. });
    assert_eq!(store.get_generation(&team, "theirs").await.unwrap().project, team);
    assert_err!(store.add_feedback(&feedback("theirs", 1.0)).await, StoreError::GenerationNotFound { .. });
    assert_err!(store.list_feedback(&default_project(), "theirs").await, StoreError::GenerationNotFound { .. });
    assert!(store.generation_stats(&welcome_query(StatsGroupBy::Version)).await.unwrap().is_empty());
}

pub async fn feedback_is_checked_and_listed(store: Arc<dyn Store>) {
    store.insert_generations(&[generation("g1"), generation("g2")]).await.unwrap();
    let error = assert_err!(store.add_feedback(&feedback("missing", 1.0)).await, StoreError::GenerationNotFound { .. });
    assert!(error.to_string().contains("`missing`"), "{error}");
    for score in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert_err!(store.add_feedback(&feedback("g1", score)).await, StoreError::InvalidInput(_));
    }
    let too_long = NewFeedback { comment: Some("é".repeat(4097)), ..feedback("g1", 1.0) };
    assert_err!(store.add_feedback(&too_long).await, StoreError::InvalidInput(_));
    assert!(store.list_feedback(&default_project(), "g1").await.unwrap().is_empty());

    let longest = NewFeedback { comment: Some("é".repeat(4096)), ..feedback("g1", -2.5) };
    let first = store.add_feedback(&longest).await.unwrap();
    assert_eq!((first.generation_id.as_str(), first.score), ("g1", -2.5));
    assert_eq!(first.comment, longest.comment);
    assert_eq!(first.key_id.as_deref(), Some("key-ci"));
    let second = store.add_feedback(&NewFeedback { key_id: None, ..feedback("g1", 4.0) }).await.unwrap();
    store.add_feedback(&feedback("g2", 1.0)).await.unwrap();
    assert_eq!(store.list_feedback(&default_project(), "g1").await.unwrap(), [first, second]);
    assert_err!(store.list_feedback(&default_project(), "missing").await, StoreError::GenerationNotFound { .. });
}

pub async fn retention_deletes_the_oldest_in_batches(store: Arc<dyn Store>) {
    store.insert_generations(&many("r", 10)).await.unwrap();
    for id in ["r-0", "r-0", "r-6"] {
        store.add_feedback(&feedback(id, 1.0)).await.unwrap();
    }
    let cutoff = at_ms(7);
    assert_eq!(store.delete_generations_before(cutoff, 0).await.unwrap(), 0);
    assert_eq!(store.delete_generations_before(cutoff, 3).await.unwrap(), 3);
    for gone in ["r-0", "r-1", "r-2"] {
        assert_err!(store.get_generation(&default_project(), gone).await, StoreError::GenerationNotFound { .. });
    }
    store.get_generation(&default_project(), "r-3").await.unwrap();
    assert_eq!(store.delete_generations_before(cutoff, 3).await.unwrap(), 3);
    assert_eq!(store.delete_generations_before(cutoff, 3).await.unwrap(), 1, "only r-6 was left before the cutoff");
    assert_eq!(store.delete_generations_before(cutoff, 3).await.unwrap(), 0);
    assert_eq!(store.count_generations().await.unwrap(), 3, "r-7, r-8 and r-9 are not older than the cutoff");
    assert_err!(store.list_feedback(&default_project(), "r-6").await, StoreError::GenerationNotFound { .. });

    // The feedback went with its generations: a new row with an old id starts without any.
    store.insert_generations(&[generation("r-0")]).await.unwrap();
    assert!(store.list_feedback(&default_project(), "r-0").await.unwrap().is_empty());
}

pub async fn a_large_batch_inserts_in_one_call(store: Arc<dyn Store>) {
    let rows = many("big", 10_000);
    assert_eq!(store.insert_generations(&rows).await.unwrap(), 10_000);
    assert_eq!(store.count_generations().await.unwrap(), 10_000);
    assert_eq!(store.get_generation(&default_project(), "big-9999").await.unwrap(), rows[9999]);
    let stats = store.generation_stats(&welcome_query(StatsGroupBy::Version)).await.unwrap();
    assert_eq!(stats[0].calls, 10_000);
    assert_eq!(store.insert_generations(&rows).await.unwrap(), 0, "all duplicates");
}

/// The spend ledger budgets are checked against: one entry per project, key and UTC day, added in
/// the batch's transaction, each call counted once even when its batch is written again, retention
/// leaves it alone.
pub async fn spend_is_summed_per_key_and_day_once(store: Arc<dyn Store>) {
    let day = t0().date_naive();
    let cost = |id: &str, key: Option<&str>, usd: Option<f64>, days: i64| GenerationRow {
        key_id: key.map(str::to_owned),
        cost_usd: usd,
        started_at: t0() + Duration::days(days),
        ..generation(id)
    };
    let batch = [
        cost("s1", Some("k1"), Some(0.25), 0),
        cost("s2", Some("k1"), Some(0.5), 0),
        cost("s3", Some("k1"), None, 0),
        cost("s4", Some("k2"), Some(1.0), 0),
        cost("s5", None, Some(2.0), 0),
        cost("s6", Some("k1"), Some(4.0), 1),
    ];
    assert_eq!(store.insert_generations(&batch).await.unwrap(), 6);
    // The same batch again (a retry) plus one new call: only the new one adds.
    let mut again = batch.to_vec();
    again.push(cost("s7", Some("k2"), Some(0.125), 0));
    assert_eq!(store.insert_generations(&again).await.unwrap(), 1);

    let mut spend = store.spend_since(day).await.unwrap();
    spend.sort_by(|a, b| (a.day, &a.key_id).cmp(&(b.day, &b.key_id)));
    let got: Vec<_> = spend.iter().map(|row| (row.day, row.key_id.as_deref(), row.cost_usd, row.calls)).collect();
    let next = day.succ_opt().unwrap();
    assert_eq!(
        got,
        [(day, None, 2.0, 1), (day, Some("k1"), 0.75, 3), (day, Some("k2"), 1.125, 2), (next, Some("k1"), 4.0, 1),]
    );
    assert!(spend.iter().all(|row| row.project == default_project().as_str()));
    assert_eq!(store.spend_since(next).await.unwrap().len(), 1, "from the next day on");

    store.delete_generations_before(t0() + Duration::days(30), 100).await.unwrap();
    assert_eq!(store.spend_since(day).await.unwrap().len(), 4, "retention keeps the ledger");
}
