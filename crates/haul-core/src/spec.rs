//! `POST /v1/exports` bodies, parsed into an [`ExportSpec`] that the worker can
//! trust: every dataset, column, operator and cursor here has been checked.

use crate::catalog::{Catalog, Dataset};
use crate::cursor::{CursorError, KeyCursor};
use crate::format::{Compression, Format, file_name};
use crate::limits::{FILENAME_MAX_LEN, MAX_COLUMNS, MAX_IN_VALUES};
use crate::signing::Signer;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The request body exactly as a client may send it. Unknown fields are
/// rejected rather than ignored, so a typo never silently widens an export.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"dataset": "events", "format": "csv", "columns": ["id", "kind"],
    "filter": {"kind": {"eq": "buy"}}}))]
pub struct ExportRequest {
    /// A dataset the operator declared (see `GET /v1/datasets`).
    pub dataset: String,
    /// `csv` (default), `tsv`, `ndjson` or `json`.
    #[serde(default)]
    #[schema(pattern = "^(csv|tsv|ndjson|json)$")]
    pub format: Option<String>,
    /// `none` (default), `gzip` or `zstd`.
    #[serde(default)]
    #[schema(pattern = "^(none|gzip|zstd)$")]
    pub compression: Option<String>,
    /// Columns to export, in this order; default: the dataset's columns.
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    /// Column name to operators (`eq`, `ne`, `lt`, `lte`, `gt`, `gte`, `in`
    /// (array), `is_null` (bool)) to JSON values; only filterable columns.
    #[serde(default)]
    #[schema(value_type = Option<HashMap<String, HashMap<String, Object>>>)]
    pub filter: Option<BTreeMap<String, BTreeMap<String, Value>>>,
    /// Opaque cursor from an earlier export's `result.next_since`.
    #[serde(default)]
    pub since: Option<String>,
    /// Header line for csv and tsv (default true).
    #[serde(default)]
    pub header: Option<bool>,
    /// Session time zone for timestamps (default `UTC`).
    #[serde(default)]
    pub timezone: Option<String>,
    /// File name without extension: A-Z a-z 0-9 . _ - (up to 200).
    #[serde(default)]
    pub filename: Option<String>,
    /// http(s) URL notified when the export ends.
    #[serde(default)]
    pub callback_url: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterOp {
    Eq,
    Ne,
    Lt,
    Lte,
    Gt,
    Gte,
}

impl FilterOp {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "eq" => FilterOp::Eq,
            "ne" => FilterOp::Ne,
            "lt" => FilterOp::Lt,
            "lte" => FilterOp::Lte,
            "gt" => FilterOp::Gt,
            "gte" => FilterOp::Gte,
            _ => return None,
        })
    }

    /// The SQL operator; `ne` is `<>`, so NULLs never match it (API.md).
    pub fn sql(self) -> &'static str {
        match self {
            FilterOp::Eq => "=",
            FilterOp::Ne => "<>",
            FilterOp::Lt => "<",
            FilterOp::Lte => "<=",
            FilterOp::Gt => ">",
            FilterOp::Gte => ">=",
        }
    }
}

/// One condition. Values are kept as text and converted to the column's type
/// by PostgreSQL itself, so "converted to the column's type" means exactly
/// what PostgreSQL's input function accepts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Filter {
    Compare {
        column: String,
        op: FilterOp,
        value: String,
    },
    In {
        column: String,
        values: Vec<String>,
    },
    IsNull {
        column: String,
        is_null: bool,
    },
}

impl Filter {
    pub fn column(&self) -> &str {
        match self {
            Filter::Compare { column, .. }
            | Filter::In { column, .. }
            | Filter::IsNull { column, .. } => column,
        }
    }

    /// Every value this filter will hand to PostgreSQL.
    pub fn values(&self) -> Vec<&str> {
        match self {
            Filter::Compare { value, .. } => vec![value.as_str()],
            Filter::In { values, .. } => values.iter().map(String::as_str).collect(),
            Filter::IsNull { .. } => vec![],
        }
    }
}

/// A validated export request: the job the worker runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportSpec {
    pub dataset: String,
    pub format: Format,
    pub compression: Compression,
    pub columns: Vec<String>,
    pub filters: Vec<Filter>,
    /// Key values after which the export starts (from a `since` cursor).
    pub since: Option<Vec<String>>,
    pub header: bool,
    pub timezone: String,
    pub filename: String,
    pub callback_url: Option<String>,
}

/// A request that cannot become a spec: a stable code and a detail that names
/// the offending field or value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct SpecError {
    pub code: &'static str,
    pub detail: String,
}

fn err(code: &'static str, detail: impl Into<String>) -> SpecError {
    SpecError {
        code,
        detail: detail.into(),
    }
}

impl ExportSpec {
    /// Parses `req` for `tenant` against the catalog. `id` names the default file.
    pub fn from_request(
        req: &ExportRequest,
        catalog: &Catalog,
        signer: &Signer,
        tenant: &str,
        id: &str,
    ) -> Result<Self, SpecError> {
        let ds = catalog.get(&req.dataset).ok_or_else(|| {
            err(
                "dataset-not-found",
                format!("dataset: no dataset named `{}`", req.dataset),
            )
        })?;
        let format = match req.format.as_deref() {
            None => Format::Csv,
            Some(f) => Format::parse(f).ok_or_else(|| {
                err(
                    "format-not-supported",
                    format!("format: `{f}` is not one of csv, tsv, ndjson, json"),
                )
            })?,
        };
        let compression = match req.compression.as_deref() {
            None => Compression::None,
            Some(c) => Compression::parse(c).ok_or_else(|| {
                err(
                    "compression-not-supported",
                    format!("compression: `{c}` is not one of none, gzip, zstd"),
                )
            })?,
        };
        let columns = parse_columns(req.columns.as_deref(), ds)?;
        let filters = parse_filters(req.filter.as_ref(), ds)?;
        let since = match &req.since {
            None => None,
            Some(token) => {
                let key = KeyCursor::decode(token, signer, &ds.name, tenant)
                    .map_err(|e: CursorError| err("invalid-since", format!("since: {e}")))?
                    .key;
                // An empty key is the cursor of an export that found no rows:
                // the next one starts from the beginning.
                if !key.is_empty() && key.len() != ds.key.len() {
                    return Err(err(
                        "invalid-since",
                        "since: the cursor does not match the dataset's key",
                    ));
                }
                (!key.is_empty()).then_some(key)
            }
        };
        let timezone = req.timezone.clone().unwrap_or_else(|| "UTC".to_string());
        if !is_plausible_timezone(&timezone) {
            return Err(err(
                "invalid-timezone",
                format!("timezone: `{timezone}` is not a time zone name"),
            ));
        }
        let stem = match &req.filename {
            None => format!("{}-{id}", ds.name),
            Some(name) => parse_filename(name)?,
        };
        let callback_url = match &req.callback_url {
            None => None,
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                Some(url.clone())
            }
            Some(url) => {
                return Err(err(
                    "invalid-callback-url",
                    format!("callback_url: `{url}` is not an http(s) URL"),
                ));
            }
        };
        Ok(ExportSpec {
            dataset: ds.name.clone(),
            format,
            compression,
            columns,
            filters,
            since,
            header: req.header.unwrap_or(true),
            timezone,
            filename: file_name(&stem, format, compression),
            callback_url,
        })
    }
}

fn parse_columns(requested: Option<&[String]>, ds: &Dataset) -> Result<Vec<String>, SpecError> {
    let Some(requested) = requested else {
        return Ok(ds.columns.clone());
    };
    if requested.is_empty() {
        return Err(err(
            "columns-empty",
            "columns: list at least one column, or leave it out",
        ));
    }
    if requested.len() > MAX_COLUMNS {
        return Err(err(
            "too-many-columns",
            format!("columns: at most {MAX_COLUMNS} columns"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for c in requested {
        if !ds.is_exported(c) {
            return Err(err(
                "column-not-found",
                format!("columns: dataset `{}` has no column `{c}`", ds.name),
            ));
        }
        if !seen.insert(c) {
            return Err(err(
                "duplicate-column",
                format!("columns: `{c}` is listed twice"),
            ));
        }
    }
    Ok(requested.to_vec())
}

fn parse_filters(
    filter: Option<&BTreeMap<String, BTreeMap<String, Value>>>,
    ds: &Dataset,
) -> Result<Vec<Filter>, SpecError> {
    let mut out = Vec::new();
    for (column, ops) in filter.into_iter().flatten() {
        if ds.column(column).is_none() {
            return Err(err(
                "column-not-found",
                format!("filter.{column}: dataset `{}` has no such column", ds.name),
            ));
        }
        if !ds.is_filterable(column) {
            return Err(err(
                "column-not-filterable",
                format!("filter.{column}: column is not filterable"),
            ));
        }
        if ops.is_empty() {
            return Err(err(
                "filter-empty",
                format!("filter.{column}: give at least one operator"),
            ));
        }
        for (op, value) in ops {
            let at = || format!("filter.{column}.{op}");
            let parsed = match op.as_str() {
                "in" => {
                    let Value::Array(items) = value else {
                        return Err(err(
                            "invalid-filter-value",
                            format!("{}: expects an array", at()),
                        ));
                    };
                    if items.is_empty() || items.len() > MAX_IN_VALUES {
                        return Err(err(
                            "invalid-filter-value",
                            format!("{}: expects 1 to {MAX_IN_VALUES} values", at()),
                        ));
                    }
                    let values = items
                        .iter()
                        .map(|v| scalar_text(v, &at))
                        .collect::<Result<_, _>>()?;
                    Filter::In {
                        column: column.clone(),
                        values,
                    }
                }
                "is_null" => {
                    let Value::Bool(is_null) = value else {
                        return Err(err(
                            "invalid-filter-value",
                            format!("{}: expects true or false", at()),
                        ));
                    };
                    Filter::IsNull {
                        column: column.clone(),
                        is_null: *is_null,
                    }
                }
                other => {
                    let op = FilterOp::parse(other).ok_or_else(|| {
                        err(
                            "unknown-filter-operator",
                            format!(
                                "{}: operators are eq, ne, lt, lte, gt, gte, in, is_null",
                                at()
                            ),
                        )
                    })?;
                    Filter::Compare {
                        column: column.clone(),
                        op,
                        value: scalar_text(value, &at)?,
                    }
                }
            };
            out.push(parsed);
        }
    }
    Ok(out)
}

/// The text PostgreSQL will parse as the column's type. Objects and arrays
/// are passed as JSON text, which is what json/jsonb columns expect.
fn scalar_text(value: &Value, at: &dyn Fn() -> String) -> Result<String, SpecError> {
    let text = match value {
        Value::Null => {
            return Err(err(
                "invalid-filter-value",
                format!("{}: null never matches; use is_null", at()),
            ));
        }
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    };
    if text.contains('\0') {
        return Err(err(
            "invalid-filter-value",
            format!("{}: contains a NUL character", at()),
        ));
    }
    Ok(text)
}

/// Zone names are letters, digits and `/_+-:`; PostgreSQL has the final say.
fn is_plausible_timezone(tz: &str) -> bool {
    !tz.is_empty()
        && tz.len() <= 64
        && tz
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+-:".contains(c))
}

/// File names travel in object keys and Content-Disposition headers, so they
/// are kept to a portable set of characters rather than escaped.
fn parse_filename(name: &str) -> Result<String, SpecError> {
    let ok = !name.is_empty()
        && name.len() <= FILENAME_MAX_LEN
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(name.to_string())
    } else {
        Err(err(
            "invalid-filename",
            format!(
                "filename: `{name}` must be 1-{FILENAME_MAX_LEN} of A-Z a-z 0-9 . _ - and not start with '.'"
            ),
        ))
    }
}

#[cfg(test)]
mod tests;
