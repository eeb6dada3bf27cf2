//! One module per job; each holds the job's options and guarantees (`mod.rs`),
//! its naive strategy and its optimized strategy.
pub mod noop;
pub mod purge_emails;
