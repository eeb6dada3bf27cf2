//! Contract §4: the migration runner deploy pipelines can trust.
mod guard;
mod online;
mod rehearsal;
mod runner;
