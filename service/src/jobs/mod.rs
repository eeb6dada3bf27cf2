//! One module per job; each holds the job's settings, options and guarantees
//! (`mod.rs`, where it implements [`crate::registry::Register`]), its naive
//! strategy, its optimized strategy and its bench cases.
//!
//! The list below is the registry: one line per job declares its module and
//! enters it in [`JOBS`], which `sitejobs run`, `schedule` and `bench` read.

use crate::registry::JobEntry;

/// Declares each job's module and lists the jobs in [`JOBS`], from one line per job.
macro_rules! jobs {
    ($($module:ident :: $job:ident),* $(,)?) => {
        $(pub mod $module;)*

        /// Every job, in the order `--help`, the bench table and the docs show them.
        pub const JOBS: &[JobEntry] = &[$(JobEntry::of::<$module::$job>()),*];
    };
}

jobs! {
    denormalize_profiles::DenormalizeProfiles,
    refresh_autocomplete::RefreshAutocomplete,
    purge_emails::PurgeEmails,
    purge_impressions::PurgeImpressions,
    daily_impressions::DailyImpressions,
    backfill_number_ranges::BackfillNumberRanges,
    noop::Noop,
}
