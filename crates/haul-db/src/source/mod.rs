//! The source database: checking datasets against it and reading pages.

pub mod catalog;
pub mod keyset;
pub mod pool;
pub mod reader;
pub mod sql;
pub mod validate;

pub use catalog::resolve_catalog;
pub use keyset::PageQuery;
pub use pool::SourcePool;
pub use reader::{PageBound, SourceConn, connect_source};
pub use validate::SourceChecker;
