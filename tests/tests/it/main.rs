//! The one integration-test binary: every test gets its own database
//! (`TestDb`) and Redis key prefix (`TestRedis`), so they run in parallel.
mod cli;
mod harness;
mod purge_emails;
mod runner;
mod schema;
