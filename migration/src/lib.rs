//! The ordered list of sitejobs migrations: one schema change each.
//! Driven by `sitejobs migrate` (see the cli crate), not by the ready-made migration CLI.

pub use sea_orm_migration::prelude::*;
pub use sea_orm_migration::MigrationStatus;

mod concurrent_index;
pub mod environment;
mod m20261121_000001_create_communities;
mod m20261121_000002_create_profiles;
mod m20261121_000003_create_groups;
mod m20261121_000004_create_profile_groups;
mod m20261121_000005_create_denorm_profile_records;
mod m20261121_000006_create_videos;
mod m20261121_000007_create_mailers;
mod m20261121_000008_create_emails;
mod m20261121_000009_create_impressions;
mod m20261121_000010_create_tags;
mod m20261121_000011_create_content_tags;
mod m20261121_000012_create_daily_impression_stats;
mod m20261121_000013_create_daily_impression_stats_tags;
mod m20261121_000014_create_my_numbers;
mod m20261121_000015_create_job_runs;
mod m20261121_400001_add_number_range;
mod m20261121_400002_create_number_range_trigger;
mod m20261121_400003_backfill_number_ranges;
mod m20261121_400004_create_number_range_index;
mod m20261121_500001_create_purge_watermarks;
mod m20261130_000001_check_job_run_status;
mod m20261130_100001_create_sitejobs_environment;
mod m20261130_200001_create_denorm_profile_changes;
mod m20261130_200002_create_denorm_profile_triggers;
mod m20261130_200003_create_autocomplete_changes;
mod m20261130_200004_create_video_title_prefix_index;
mod m20261130_500001_index_running_job_runs;
mod m20261130_600001_set_denorm_records_fillfactor;
mod m20261130_700001_log_video_ids_in_autocomplete_changes;
mod m20261130_700002_one_running_row_per_lock_key;
pub mod number_ranges;
pub mod online;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let list: Vec<Box<dyn MigrationTrait>> = vec![
            Box::new(m20261121_000001_create_communities::Migration),
            Box::new(m20261121_000002_create_profiles::Migration),
            Box::new(m20261121_000003_create_groups::Migration),
            Box::new(m20261121_000004_create_profile_groups::Migration),
            Box::new(m20261121_000005_create_denorm_profile_records::Migration),
            Box::new(m20261121_000006_create_videos::Migration),
            Box::new(m20261121_000007_create_mailers::Migration),
            Box::new(m20261121_000008_create_emails::Migration),
            Box::new(m20261121_000009_create_impressions::Migration),
            Box::new(m20261121_000010_create_tags::Migration),
            Box::new(m20261121_000011_create_content_tags::Migration),
            Box::new(m20261121_000012_create_daily_impression_stats::Migration),
            Box::new(m20261121_000013_create_daily_impression_stats_tags::Migration),
            Box::new(m20261121_000014_create_my_numbers::Migration),
            Box::new(m20261121_000015_create_job_runs::Migration),
            Box::new(m20261121_400001_add_number_range::Migration),
            Box::new(m20261121_400002_create_number_range_trigger::Migration),
            Box::new(m20261121_400003_backfill_number_ranges::Migration),
            Box::new(m20261121_400004_create_number_range_index::Migration),
            Box::new(m20261121_500001_create_purge_watermarks::Migration),
            Box::new(m20261130_000001_check_job_run_status::Migration),
            Box::new(m20261130_100001_create_sitejobs_environment::Migration),
            Box::new(m20261130_200001_create_denorm_profile_changes::Migration),
            Box::new(m20261130_200002_create_denorm_profile_triggers::Migration),
            Box::new(m20261130_200003_create_autocomplete_changes::Migration),
            Box::new(m20261130_200004_create_video_title_prefix_index::Migration),
            Box::new(m20261130_500001_index_running_job_runs::Migration),
            Box::new(m20261130_600001_set_denorm_records_fillfactor::Migration),
            Box::new(m20261130_700001_log_video_ids_in_autocomplete_changes::Migration),
            Box::new(m20261130_700002_one_running_row_per_lock_key::Migration),
        ];
        // The online-safe rule applies to every migration, present and future.
        list.into_iter()
            .map(|m| Box::new(online::Online::new(m)) as Box<dyn MigrationTrait>)
            .collect()
    }
}
