//! One module per job; each holds the job's options and guarantees (`mod.rs`),
//! its naive strategy and its optimized strategy.
pub mod backfill_number_ranges;
pub mod daily_impressions;
pub mod denormalize_profiles;
pub mod noop;
pub mod purge_emails;
pub mod refresh_autocomplete;
