//! PostgreSQL: Haul's own tables (through sqlx, which the apalis queue also
//! uses) and the source data (through tokio-postgres, for its COPY support).

pub mod meta;
pub mod queue;
pub mod source;

pub use meta::{MetaDb, migrate::migrate};
