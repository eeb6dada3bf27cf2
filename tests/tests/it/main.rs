//! The one integration-test binary: every test gets its own database
//! (`TestDb`) and Redis key prefix (`TestRedis`), so they run in parallel.
mod bench;
mod cli;
mod denormalize_profiles;
mod daily_impressions;
mod harness;
mod refresh_autocomplete;
mod numbers;
mod runner;
mod schedule;
mod schema;
mod seed;
