//! What can go wrong, in terms a caller can act on.

use serde::Deserialize;
use std::path::PathBuf;

/// An RFC 9457 problem document as Haul answers errors, or one made up from
/// the status and body when a server (or S3) answered something else.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Problem {
    #[serde(default)]
    pub status: u16,
    /// Stable kebab-case code such as `dataset-not-found`.
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub detail: String,
    #[serde(rename = "type", default)]
    pub kind: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.code)?;
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        } else if !self.title.is_empty() {
            write!(f, ": {}", self.title)?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Haul answered an error (`problem.code` says which).
    #[error("Haul answered {0}")]
    Api(Problem),
    /// The presigned S3 URL answered an unexpected status.
    #[error("S3 answered {status} for the download: {body}")]
    Storage { status: u16, body: String },
    /// The request did not complete (the cause is the error's source).
    #[error("cannot reach Haul or S3")]
    Http(#[from] reqwest::Error),
    /// The connection broke mid-file; what arrived is kept, so calling
    /// the download again continues from byte `have`.
    #[error(
        "download interrupted at byte {have} of {total}; {} keeps what arrived, \
         run the download again to resume",
        path.display()
    )]
    Interrupted {
        path: PathBuf,
        have: u64,
        total: u64,
        source: reqwest::Error,
    },
    #[error("{}", path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The downloaded file is not the exported one.
    #[error(
        "sha256 mismatch for {}: expected {expected}, the file has {actual}; \
         the file is corrupt: delete it (or pass --restart) and download again",
        path.display()
    )]
    ChecksumMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    /// The export has no file to download (yet, or any more).
    #[error("export {id} is {status}, not succeeded: nothing to download")]
    NotDownloadable { id: uuid::Uuid, status: String },
    #[error("{0}")]
    Protocol(String),
    #[error("gave up waiting for export {0} after {1:?}")]
    WaitTimeout(uuid::Uuid, std::time::Duration),
}

impl Error {
    /// The problem's code when Haul answered one.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Error::Api(p) => Some(p),
            _ => None,
        }
    }

    pub(crate) fn file(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::File {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Reads an error response into a [`Problem`]; bodies that are not problem
/// documents still give the status and the start of the body.
pub(crate) async fn problem_from(res: reqwest::Response) -> Error {
    let status = res.status().as_u16();
    let text = match res.text().await {
        Ok(t) => t,
        Err(e) => return Error::Http(e),
    };
    match serde_json::from_str::<Problem>(&text) {
        Ok(mut p) => {
            p.status = status;
            Error::Api(p)
        }
        Err(_) => Error::Api(Problem {
            status,
            code: format!("http-{status}"),
            title: String::new(),
            detail: text.chars().take(500).collect(),
            kind: String::new(),
        }),
    }
}
