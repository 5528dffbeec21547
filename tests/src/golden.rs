//! Golden comparisons: run an export to the end, download it, and hold it
//! against what PostgreSQL itself prints for the same rows (COPY for csv/tsv,
//! `row_to_json` / `json_agg` for ndjson/json).

use crate::TestEnv;
use crate::env::sha256_hex;
use serde_json::Value;
use std::io::Read;

/// Creates an export, waits for it to succeed and downloads it. The result's
/// `bytes` and `sha256` are checked against the downloaded bytes here, so
/// every golden test also checks them.
pub async fn export_ok(env: &TestEnv, key: &str, body: &Value) -> (Value, Vec<u8>) {
    let id = env.create_export(key, body).await;
    let export = env.wait_until_done(key, &id).await;
    assert_eq!(export["status"], "succeeded", "{body} -> {export}");
    let bytes = env.download_bytes(key, &id).await;
    let result = &export["result"];
    assert_eq!(result["bytes"], bytes.len(), "result.bytes of {body}");
    assert_eq!(
        result["sha256"],
        sha256_hex(&bytes),
        "result.sha256 of {body}"
    );
    (export, bytes)
}

/// PostgreSQL's own COPY output for `copy_sql`, with the session's
/// `TimeZone` set to `timezone` (as Haul sets it for an export).
pub async fn copy_in_zone(env: &TestEnv, timezone: &str, copy_sql: &str) -> Vec<u8> {
    set_zone(env, timezone).await;
    env.copy(copy_sql).await
}

pub async fn set_zone(env: &TestEnv, timezone: &str) {
    env.source
        .execute("SELECT set_config('TimeZone', $1, false)", &[&timezone])
        .await
        .expect("the test's time zone is valid");
}

/// The JSON values of the first column of `sql` (which must be `json` or
/// `text`), as PostgreSQL prints them, parsed.
pub async fn pg_json_rows(env: &TestEnv, timezone: &str, sql: &str) -> Vec<Value> {
    set_zone(env, timezone).await;
    let rows = env
        .source
        .query(&format!("SELECT j::text FROM ({sql}) AS q(j)"), &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    rows.iter()
        .map(|r| {
            let text: String = r.get(0);
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("PostgreSQL's JSON {text}: {e}"))
        })
        .collect()
}

/// `row_to_json` of `columns` of every row of `table` (with `where_sql`),
/// ordered by `order_by`: the reference for ndjson.
pub async fn row_to_json(
    env: &TestEnv,
    timezone: &str,
    table: &str,
    columns: &str,
    where_sql: &str,
    order_by: &str,
) -> Vec<Value> {
    pg_json_rows(
        env,
        timezone,
        &format!(
            "SELECT (SELECT row_to_json(reference_row.*) FROM (SELECT {columns}) AS reference_row) FROM {table} WHERE {where_sql} ORDER BY {order_by}"
        ),
    )
    .await
}

/// `json_agg` of the same rows: the reference for json (`[]` when empty).
pub async fn json_agg(
    env: &TestEnv,
    timezone: &str,
    table: &str,
    columns: &str,
    where_sql: &str,
    order_by: &str,
) -> Value {
    let mut one = pg_json_rows(
        env,
        timezone,
        &format!(
            "SELECT coalesce(json_agg((SELECT row_to_json(reference_row.*) FROM (SELECT {columns}) AS reference_row) ORDER BY {order_by}), '[]') FROM {table} WHERE {where_sql}"
        ),
    )
    .await;
    one.pop().expect("an aggregate answers one row")
}

/// An NDJSON file's objects: every line is one JSON value and the file ends
/// with a newline (or is empty).
pub fn ndjson_values(body: &[u8]) -> Vec<Value> {
    if body.is_empty() {
        return Vec::new();
    }
    assert_eq!(body.last(), Some(&b'\n'), "NDJSON ends with a newline");
    let text = std::str::from_utf8(body).expect("NDJSON is UTF-8");
    text.strip_suffix('\n')
        .unwrap()
        .split('\n')
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("NDJSON line {line:.200}: {e}"))
        })
        .collect()
}

pub fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(body)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

pub fn unzstd(body: &[u8]) -> Vec<u8> {
    zstd::stream::decode_all(body).expect("valid zstd")
}

/// Runs a decompressor CLI (`gzip -dc`, `zstd -dc`) over `body`, or `None`
/// when the tool is not installed.
pub fn decompress_with_cli(program: &str, body: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = match Command::new(program)
        .args(["-dc"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("{program} is not installed; skipping the CLI check");
            return None;
        }
        Err(e) => panic!("{program}: {e}"),
    };
    let mut stdin = child.stdin.take().unwrap();
    let input = body.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("decompressor runs");
    feeder
        .join()
        .unwrap()
        .expect("decompressor reads its input");
    assert!(
        out.status.success(),
        "{program} -dc failed: {:?}",
        out.status
    );
    Some(out.stdout)
}

/// How many multipart parts the export's object was assembled from, read
/// from its ETag (`"<md5>-<parts>"` for a multipart object).
pub async fn object_parts(env: &TestEnv, tenant: &str, export: &Value) -> u32 {
    object_etag(env, tenant, export)
        .await
        .rsplit_once('-')
        .map_or(1, |(_, n)| {
            n.parse().expect("multipart ETag ends in the part count")
        })
}

/// The ETag of the export's object, without quotes: a plain MD5 for an
/// object written by one PutObject, `<md5>-<parts>` for a multipart one.
pub async fn object_etag(env: &TestEnv, tenant: &str, export: &Value) -> String {
    let key = format!(
        "{}{tenant}/{}/{}",
        env.storage.prefix,
        export["id"].as_str().unwrap(),
        export["result"]["filename"].as_str().unwrap()
    );
    let head = env
        .storage
        .client
        .head_object()
        .bucket(&env.storage.bucket)
        .key(&key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("HEAD {key}: {e:?}"));
    head.e_tag()
        .unwrap_or_default()
        .trim_matches('"')
        .to_string()
}
