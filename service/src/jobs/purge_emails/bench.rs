//! placeholder
use sea_orm::DatabaseConnection;

use crate::bench::BenchCase;
use crate::error::JobError;
use crate::scale::Scale;

pub async fn cases(_db: &DatabaseConnection, _scale: Scale) -> Result<Vec<BenchCase>, JobError> {
    Ok(Vec::new())
}
