//! Output formats and compressions, with their file extensions and content types.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Tsv,
    Ndjson,
    Json,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Csv, Format::Tsv, Format::Ndjson, Format::Json];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Ndjson => "ndjson",
            Format::Json => "json",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }

    pub fn extension(self) -> &'static str {
        self.as_str()
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv",
            Format::Tsv => "text/tab-separated-values",
            Format::Ndjson => "application/x-ndjson",
            Format::Json => "application/json",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub const ALL: [Compression; 3] = [Compression::None, Compression::Gzip, Compression::Zstd];

    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The suffix after the format's extension (`.gz`, `.zst`), if any.
    pub fn extension(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Gzip => Some("gz"),
            Compression::Zstd => Some("zst"),
        }
    }

    /// Compressed files are served as what they are, never with a
    /// `Content-Encoding`, which would make browsers inflate them and break
    /// resumed (Range) downloads.
    pub fn content_type(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Gzip => Some("application/gzip"),
            Compression::Zstd => Some("application/zstd"),
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The content type of a file of `format` stored with `compression`.
pub fn content_type(format: Format, compression: Compression) -> &'static str {
    compression.content_type().unwrap_or(format.content_type())
}

/// `stem.ext[.gz|.zst]`
pub fn file_name(stem: &str, format: Format, compression: Compression) -> String {
    match compression.extension() {
        Some(z) => format!("{stem}.{}.{z}", format.extension()),
        None => format!("{stem}.{}", format.extension()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_types() {
        assert_eq!(file_name("a", Format::Csv, Compression::None), "a.csv");
        assert_eq!(
            file_name("a", Format::Ndjson, Compression::Zstd),
            "a.ndjson.zst"
        );
        assert_eq!(
            content_type(Format::Tsv, Compression::None),
            "text/tab-separated-values"
        );
        assert_eq!(
            content_type(Format::Csv, Compression::Gzip),
            "application/gzip"
        );
        assert_eq!(Format::parse("json"), Some(Format::Json));
        assert_eq!(Format::parse("xml"), None);
    }
}
