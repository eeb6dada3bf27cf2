//! The one integration-test binary: every test gets its own database
//! (`TestDb`) and Redis key prefix (`TestRedis`), so they run in parallel.
mod bench;
mod cli;
mod daily_impressions;
mod dashboard;
mod denormalize_profiles;
mod deploy;
mod harness;
mod incremental_autocomplete;
mod incremental_denormalize;
mod library;
mod numbers;
mod ops;
mod purge_emails;
mod purge_impressions;
mod redis_cluster;
mod refresh_autocomplete;
mod runner;
mod schedule;
mod schema;
mod seed;
mod settings;
