//! The store conformance suite: every case runs against SQLite (a fresh temporary file) and
//! PostgreSQL (a fresh database per case, when `OPM_TEST_DATABASE_URL` names an admin URL; run
//! through `scripts/with-postgres.sh`). Without it the PostgreSQL cases print a warning and pass,
//! unless `OPM_REQUIRE_POSTGRES=1`, which makes them fail.
//!
//! Cases are plain async functions in the modules below; `conformance!` turns each into one test
//! per backend (`sqlite::labels::latest_is_automatic`, `postgres::labels::latest_is_automatic`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fixtures;
mod harness;

mod audit;
mod backup;
mod clock;
mod concurrency;
mod events;
mod generations;
mod governance;
mod keys;
mod labels;
mod postgres_only;
mod projects;
mod prompts;
mod rollouts;
mod sqlite_only;
mod versions;

/// One `#[tokio::test]` per case for one backend. `store` cases take `Arc<dyn Store>`; `db` cases
/// take a `TestDb` that can also reach the database directly.
macro_rules! backend_tests {
    ($kind:expr; $($module:ident { $($runner:ident: $case:ident),* $(,)? })*) => {
        $(mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::harness::$runner($kind, crate::$module::$case).await;
                }
            )*
        })*
    };
}

/// The cases, generated for both backends.
macro_rules! conformance {
    ($($body:tt)*) => {
        mod sqlite {
            backend_tests!(crate::harness::Kind::Sqlite; $($body)*);
        }
        mod postgres {
            backend_tests!(crate::harness::Kind::Postgres; $($body)*);
        }
    };
}

conformance! {
    projects {
        store: default_project_exists,
        store: create_project_is_listed_audited_and_unique,
        store: prompts_are_scoped_to_their_project,
    }
    prompts {
        store: create_and_get_prompt,
        store: create_prompt_validates_its_fields,
        store: update_prompt_changes_description_and_tags,
        store: archive_and_restore,
        store: list_prompts_orders_by_name_and_pages,
        store: list_prompts_filters_by_tag,
        store: list_prompts_filters_by_label,
        store: list_prompts_fills_latest_version,
    }
    versions {
        store: publish_numbers_versions_from_one,
        store: publishing_the_latest_content_again_is_a_no_op,
        store: publish_creates_the_prompt_when_asked,
        store: archived_prompts_refuse_versions,
        store: publish_validates_content_and_message,
        store: missing_versions_are_not_found,
    }
    labels {
        store: set_label_points_at_a_version,
        store: set_label_validates_and_writes_nothing_on_failure,
        store: setting_the_current_target_again_is_a_no_op,
        store: latest_is_automatic,
        store: rollback_toggles_between_the_last_two_targets,
        store: rollback_needs_a_previous_target,
        store: label_history_is_newest_first_and_limited,
        store: resolve_follows_the_rules,
    }
    keys {
        store: keys_are_created_listed_and_found,
        store: revoked_keys_stay_findable,
        store: key_conflicts_and_invalid_keys_are_refused,
        store: the_last_active_global_admin_key_cannot_be_revoked,
        store: concurrent_revocations_of_the_last_two_admin_keys_cannot_both_succeed,
        store: keys_expire_and_expiry_is_stored,
        store: key_use_is_recorded_in_batches_and_never_moves_back,
    }
    audit {
        store: every_mutation_is_audited,
        store: list_audit_filters_and_pages,
        store: list_audit_filters_by_time,
        store: append_audit_stands_alone,
        store: chain_verifies_after_many_mutations,
        db: tampering_is_detected_at_the_edited_entry,
        db: a_failed_mutation_leaves_no_trace,
    }
    events {
        store: mutations_announce_changes,
    }
    clock {
        store: every_stored_time_is_the_callers,
    }
    generations {
        store: insert_and_get_round_trip,
        store: generations_are_neither_audited_nor_announced,
        store: duplicate_ids_are_skipped,
        store: invalid_rows_fail_the_batch_before_writing,
        store: stats_match_hand_computed_percentiles,
        store: stats_match_the_reference,
        store: stats_means_variances_and_arms,
        store: stats_windows_are_half_open,
        store: projects_are_isolated,
        store: feedback_is_checked_and_listed,
        store: retention_deletes_the_oldest_in_batches,
        store: a_large_batch_inserts_in_one_call,
        store: spend_is_summed_per_key_and_day_once,
    }
    rollouts {
        store: split_labels_are_set_and_resolved,
        store: create_rollout_moves_the_label_and_audits_once,
        store: one_active_rollout_per_label,
        store: create_rollout_checks_everything_first,
        store: update_rollout_is_optimistic_and_moves_the_label,
        store: labels_refuse_changes_during_a_rollout,
        store: list_rollouts_filters_and_orders_newest_first,
        store: leadership_is_exclusive,
    }
    governance {
        store: deployer_keys_are_stored,
        store: policies_are_revisioned_and_audited,
        store: approved_requests_apply_with_four_eyes,
        store: stale_requests_cannot_apply,
        store: requests_are_rejected_cancelled_and_listed,
        store: requests_for_a_new_label_expect_it_absent,
        store: approved_rollout_requests_start_the_rollout,
    }
    concurrency {
        store: concurrent_publishes_get_contiguous_versions,
        store: concurrent_creates_have_one_winner,
        store: concurrent_implicit_creation_and_publishing,
        store: concurrent_mixed_writes_keep_one_chain,
    }
}
