//! The stream's query string, turned into the same validated `ExportSpec`
//! an export would run, plus the optional resume point.

use crate::error::ApiError;
use haul_core::{Catalog, ExportRequest, ExportSpec, Format, Signer};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// `?format=ndjson&columns=id,kind&filter={...}&since=...&after=[...]`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RowsQuery {
    /// `ndjson` (default), `csv` or `tsv`.
    pub format: Option<String>,
    /// Comma-separated column names; must include the key columns.
    pub columns: Option<String>,
    /// The export request's `filter` object, as JSON.
    pub filter: Option<String>,
    /// A `next_since` cursor from an export or from a stream's end record.
    pub since: Option<String>,
    /// JSON array of the key values of the last row received: the stream
    /// continues after it (resuming a broken stream).
    pub after: Option<String>,
    pub header: Option<bool>,
    pub timezone: Option<String>,
}

pub struct StreamRequest {
    pub spec: ExportSpec,
    /// Key values (as text) to continue after, from `after` or `since`.
    pub after: Option<Vec<String>>,
}

pub fn parse(
    query_string: &str,
    dataset: &str,
    catalog: &Catalog,
    signer: &Signer,
    tenant: &str,
) -> Result<StreamRequest, ApiError> {
    let query: RowsQuery = serde_urlencoded::from_str(query_string)
        .map_err(|e| ApiError::unprocessable("invalid-query", format!("query string: {e}")))?;
    let format = query.format.clone().unwrap_or_else(|| "ndjson".into());
    let filter = match &query.filter {
        None => None,
        Some(text) => Some(
            serde_json::from_str::<BTreeMap<String, BTreeMap<String, Value>>>(text).map_err(
                |e| {
                    ApiError::unprocessable(
                        "invalid-filter",
                        format!("filter: not a JSON object of column → {{operator: value}}: {e}"),
                    )
                },
            )?,
        ),
    };
    let request = ExportRequest {
        dataset: dataset.to_string(),
        format: Some(format),
        columns: query
            .columns
            .as_deref()
            .map(|c| c.split(',').map(|s| s.trim().to_string()).collect()),
        filter,
        since: query.since.clone(),
        header: query.header,
        timezone: query.timezone.clone(),
        ..ExportRequest::default()
    };
    let spec = ExportSpec::from_request(&request, catalog, signer, tenant, "stream")?;
    if spec.format == Format::Json {
        return Err(ApiError::unprocessable(
            "format-not-supported",
            "format: a stream is ndjson, csv or tsv (json is one array: use an export)",
        ));
    }
    let ds = catalog
        .get(dataset)
        .expect("from_request checked the dataset");
    if let Some(missing) = ds.key.iter().find(|k| !spec.columns.contains(k)) {
        return Err(ApiError::unprocessable(
            "key-columns-required",
            format!(
                "columns: a stream must include the key column `{missing}`, so that a client can resume after its last row"
            ),
        ));
    }
    let after = match &query.after {
        None => spec.since.clone(),
        Some(text) => Some(parse_after(text, ds.key.len())?),
    };
    Ok(StreamRequest { spec, after })
}

/// `after` holds one JSON scalar per key column; they are type-checked
/// against the columns by the caller and only ever rendered as literals.
fn parse_after(text: &str, key_len: usize) -> Result<Vec<String>, ApiError> {
    let bad = |why: &str| ApiError::unprocessable("invalid-after", format!("after: {why}"));
    let values: Vec<Value> = serde_json::from_str(text)
        .map_err(|_| bad("must be a JSON array of the last row's key values"))?;
    if values.len() != key_len {
        return Err(bad(&format!(
            "the dataset's key has {key_len} column(s), the array {}",
            values.len()
        )));
    }
    values
        .into_iter()
        .map(|v| match v {
            Value::String(s) => Ok(s),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(bad("key values are strings, numbers or booleans")),
        })
        .collect()
}
