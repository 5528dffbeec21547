//! How an export attempt can end badly, and what each ending means.

use haul_db::meta::LeaseLost;
use haul_s3::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt from the last checkpoint: network trouble, S3
    /// 5xx, a lost or terminated Postgres connection.
    #[error("transient: {0:#}")]
    Transient(anyhow::Error),
    /// Retrying cannot help: the export fails with this code at once.
    #[error("{code}: {message}")]
    Permanent { code: &'static str, message: String },
    /// A client cancelled the export.
    #[error("cancelled")]
    Cancelled,
    /// This process is shutting down; the export is handed back.
    #[error("shutting down")]
    Shutdown,
    /// Another attempt owns the export now; this one must stop touching it.
    #[error("lease lost")]
    LeaseLost,
}

impl JobError {
    pub fn permanent(code: &'static str, message: impl Into<String>) -> Self {
        JobError::Permanent {
            code,
            message: message.into(),
        }
    }

    /// The `error.message` an export gets when this error ends it (the
    /// code is reported beside it, so it is not repeated here).
    pub fn message(&self) -> String {
        match self {
            JobError::Permanent { message, .. } => message.clone(),
            JobError::Transient(e) => format!("{e:#}"),
            other => other.to_string(),
        }
    }

    /// The `error.code` an export gets when this error ends it.
    pub fn code(&self) -> &'static str {
        match self {
            JobError::Transient(e) if e.downcast_ref::<StorageError>().is_some() => {
                "storage-unavailable"
            }
            JobError::Transient(_) => "source-unavailable",
            JobError::Permanent { code, .. } => code,
            JobError::Cancelled => "cancelled",
            JobError::Shutdown => "shutdown",
            JobError::LeaseLost => "lease-lost",
        }
    }
}

impl From<StorageError> for JobError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Transient(_) => JobError::Transient(e.into()),
            StorageError::NoSuchUpload(m) => JobError::permanent("upload-lost", m),
            StorageError::Permanent(m) => JobError::permanent("storage-error", m),
        }
    }
}

/// Infrastructure errors from the databases: lost leases and PostgreSQL's own
/// verdicts are final; connection trouble is transient.
impl From<anyhow::Error> for JobError {
    fn from(e: anyhow::Error) -> Self {
        if e.downcast_ref::<LeaseLost>().is_some() {
            return JobError::LeaseLost;
        }
        if let Some(pg) = e.downcast_ref::<tokio_postgres::Error>() {
            return classify_source(pg, &e);
        }
        if let Some(se) = e.downcast_ref::<StorageError>()
            && !se.is_transient()
        {
            return JobError::permanent("storage-error", format!("{e:#}"));
        }
        JobError::Transient(e)
    }
}

/// PostgreSQL SQLSTATE classes: 08 (connection), 57P (operator intervention,
/// e.g. `pg_terminate_backend`), 53 (resources), 40 (serialization) and
/// query cancellation are transient; the rest (missing table or column,
/// permission denied, bad value) are the dataset's problem and permanent.
/// <https://www.postgresql.org/docs/current/errcodes-appendix.html>
fn classify_source(pg: &tokio_postgres::Error, e: &anyhow::Error) -> JobError {
    let Some(db) = pg.as_db_error() else {
        return JobError::Transient(anyhow::anyhow!("{e:#}"));
    };
    let state = db.code().code();
    let transient = ["08", "57", "53", "40"]
        .iter()
        .any(|c| state.starts_with(c));
    if transient {
        return JobError::Transient(anyhow::anyhow!("{e:#}"));
    }
    let code = match state {
        "42P01" => "dataset-unavailable",
        "42703" => "column-unavailable",
        "42501" => "permission-denied",
        "22023" if db.message().contains("time zone") => "invalid-timezone",
        _ => "source-error",
    };
    JobError::permanent(code, format!("{} (SQLSTATE {state})", db.message()))
}
