//! `GET /v1/datasets/{name}/rows`: rows streamed at once, compared with
//! PostgreSQL's own output for the same WHERE; in-band end records, resuming
//! with `after` and with `resume_since`, and a disconnected client's query
//! stopped in Postgres.

use futures::StreamExt;
use haul_tests::{TestEnv, TestOptions};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Two tenants in one table, awkward text, a composite-free bigint key.
const EVENTS: &str = r#"
CREATE TABLE events (
    id bigint PRIMARY KEY,
    tenant text NOT NULL,
    kind text NOT NULL,
    note text,
    amount numeric(10,2),
    at timestamptz NOT NULL
);
INSERT INTO events
SELECT i,
       (ARRAY['acme', 'globex'])[1 + i % 2],
       (ARRAY['buy', 'sell', 'hold'])[1 + i % 3],
       (ARRAY['plain', 'with "quotes"', E'new\nline', E'tab\there', 'ünï 🚀', NULL, E'back\\slash'])[1 + i % 7],
       (i * 0.25)::numeric(10,2),
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute'
  FROM generate_series(1, 20000) AS i;
"#;

fn options() -> TestOptions {
    TestOptions {
        workers: false,
        ..TestOptions::default()
    }
    .dataset("events", "public.events", &["id"])
    .with(|s| {
        let ds = s.datasets.get_mut("events").unwrap();
        ds.tenant_column = Some("tenant".into());
        ds.filterable = vec!["kind".into(), "amount".into()];
        // Small pages: the stream crosses many page boundaries.
        s.worker.page_rows = 997;
    })
}

async fn get(env: &TestEnv, key: &str, query: &str) -> reqwest::Response {
    env.http
        .get(env.url(&format!("/v1/datasets/events/rows?{query}")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

/// Percent-encodes a query value (everything but unreserved characters).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Splits an NDJSON stream into its row objects and its `@haul` end record.
fn split_ndjson(body: &[u8]) -> (Vec<Value>, Option<Value>) {
    let text = std::str::from_utf8(body).expect("NDJSON is UTF-8");
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "every line ends with \\n"
    );
    let mut rows: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let end = match rows.last() {
        Some(v) if v.get("@haul").is_some() => rows.pop().map(|v| v["@haul"].clone()),
        _ => None,
    };
    (rows, end)
}

async fn row_to_json(env: &TestEnv, where_sql: &str) -> Vec<Value> {
    let sql = format!(
        "COPY (SELECT row_to_json(t.*) FROM (SELECT id, tenant, kind, note, amount, at FROM events WHERE {where_sql} ORDER BY id) AS t) TO STDOUT"
    );
    let text = env.copy(&sql).await;
    std::str::from_utf8(&text)
        .unwrap()
        .lines()
        // COPY text escapes backslashes; the JSON itself has none unescaped.
        .map(|l| serde_json::from_str(&l.replace("\\\\", "\\")).unwrap())
        .collect()
}

#[tokio::test]
async fn ndjson_stream_is_row_to_json_of_the_tenants_filtered_rows() {
    let env = TestEnv::start(EVENTS, options()).await;
    let key = env.api_key("acme").await;
    let filter = encode(r#"{"kind": {"in": ["buy", "hold"]}, "amount": {"gte": "100"}}"#);
    let res = get(&env, &key, &format!("filter={filter}")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "application/x-ndjson; charset=utf-8"
    );
    let body = res.bytes().await.unwrap();
    let (rows, end) = split_ndjson(&body);
    let want = row_to_json(
        &env,
        "tenant = 'acme' AND kind IN ('buy', 'hold') AND amount >= 100",
    )
    .await;
    assert!(want.len() > 3000, "the stream spans several pages");
    assert_eq!(rows, want, "streamed rows differ from row_to_json");
    let end = end.expect("a complete stream ends with its @haul record");
    assert_eq!(end["complete"], true);
    assert_eq!(end["rows"], want.len());
    assert!(end["next_since"].is_string());
    env.stop().await;
}

#[tokio::test]
async fn csv_stream_is_byte_identical_to_copy() {
    let env = TestEnv::start(EVENTS, options()).await;
    let key = env.api_key("globex").await;
    let res = get(&env, &key, "format=csv&columns=id,note,kind").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let body = res.bytes().await.unwrap();
    let want = env
        .copy("COPY (SELECT id, note, kind FROM events WHERE tenant = 'globex' ORDER BY id) TO STDOUT (FORMAT csv, HEADER)")
        .await;
    assert!(
        body.as_ref() == want.as_slice(),
        "CSV stream differs from COPY"
    );
    env.stop().await;
}

#[tokio::test]
async fn since_from_the_end_record_returns_only_newer_rows() {
    let env = TestEnv::start(EVENTS, options()).await;
    let key = env.api_key("acme").await;
    let first = get(&env, &key, "").await.bytes().await.unwrap();
    let (_, end) = split_ndjson(&first);
    let since = end.unwrap()["next_since"].as_str().unwrap().to_string();
    env.source
        .batch_execute(
            "INSERT INTO events SELECT i, 'acme', 'buy', 'late', 1, now() FROM generate_series(20001, 20040) AS i",
        )
        .await
        .unwrap();
    let second = get(&env, &key, &format!("since={}", encode(&since)))
        .await
        .bytes()
        .await
        .unwrap();
    let (rows, end) = split_ndjson(&second);
    let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, (20001..=20040).collect::<Vec<_>>());
    assert_eq!(end.unwrap()["rows"], 40);
    env.stop().await;
}

#[tokio::test]
async fn a_broken_stream_resumes_after_the_last_row_received() {
    let env = TestEnv::start(EVENTS, options()).await;
    let key = env.api_key("acme").await;
    let full = get(&env, &key, "").await.bytes().await.unwrap();
    let (all_rows, _) = split_ndjson(&full);

    // Read part of a stream, then hang up mid-way.
    let res = get(&env, &key, "").await;
    let mut body = res.bytes_stream();
    let mut received = Vec::new();
    while received.len() < 200_000 {
        received.extend_from_slice(&body.next().await.unwrap().unwrap());
    }
    drop(body);
    // Keep whole lines only: the last one may be cut.
    let cut = received.iter().rposition(|&b| b == b'\n').unwrap() + 1;
    let (mut rows, end) = split_ndjson(&received[..cut]);
    assert!(end.is_none(), "a cut stream has no end record");
    let last_id = rows.last().unwrap()["id"].clone();

    let after = encode(&format!("[{last_id}]"));
    let rest = get(&env, &key, &format!("after={after}"))
        .await
        .bytes()
        .await
        .unwrap();
    let (more, end) = split_ndjson(&rest);
    assert_eq!(end.unwrap()["complete"], true);
    rows.extend(more);
    assert_eq!(rows, all_rows, "resumed rows differ from one full stream");
    env.stop().await;
}

/// Enough extra rows (~60 MB as CSV) that a stream cannot finish into
/// socket and channel buffers while its client is not reading.
async fn add_bulk_rows(env: &TestEnv) {
    env.source
        .batch_execute("INSERT INTO events SELECT i, 'acme', 'buy', repeat('x', 200), 1, now() FROM generate_series(20001, 300000) AS i")
        .await
        .unwrap();
}

fn ids(rows: &[Value]) -> Vec<i64> {
    rows.iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

/// Connections the stream reader holds on the test database.
async fn reader_backends(env: &TestEnv) -> i64 {
    let row = env
        .source
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'haul'",
            &[],
        )
        .await
        .unwrap();
    row.get(0)
}

#[tokio::test]
async fn a_failure_mid_stream_ends_with_an_error_record_and_resume_since() {
    let env = TestEnv::start(EVENTS, options()).await;
    add_bulk_rows(&env).await;
    let key = env.api_key("acme").await;
    let full = get(&env, &key, "").await.bytes().await.unwrap();
    let all_ids = ids(&split_ndjson(&full).0);

    let res = get(&env, &key, "").await;
    let mut body = res.bytes_stream();
    let mut received = body.next().await.unwrap().unwrap().to_vec();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The reader now waits on the client; kill its Postgres session.
    let killed = env
        .source
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'haul'",
            &[],
        )
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(killed, 1, "one stream reader session to terminate");
    while let Some(chunk) = body.next().await {
        received.extend_from_slice(&chunk.unwrap());
    }
    let (mut rows, end) = split_ndjson(&received);
    let end = end.expect("a failed ndjson stream still ends with an @haul record");
    assert_eq!(end["complete"], false, "{end}");
    assert_eq!(end["error"]["code"], "stream-failed");
    assert!(rows.len() < all_ids.len());

    // resume_since points after the last whole page sent; rows of the
    // broken page past it may have arrived, so drop those before resuming.
    let resumed = get(
        &env,
        &key,
        &format!("since={}", encode(end["resume_since"].as_str().unwrap())),
    )
    .await
    .bytes()
    .await
    .unwrap();
    let (more, end) = split_ndjson(&resumed);
    assert_eq!(end.unwrap()["complete"], true);
    let first_new = more.first().map(|r| r["id"].as_i64().unwrap());
    if let Some(first_new) = first_new {
        rows.retain(|r| r["id"].as_i64().unwrap() < first_new);
    }
    rows.extend(more);
    assert_eq!(ids(&rows), all_ids, "rows before and after the resume");
    env.stop().await;
}

#[tokio::test]
async fn a_disconnected_client_stops_the_query() {
    let env = TestEnv::start(EVENTS, options()).await;
    add_bulk_rows(&env).await;
    let key = env.api_key("acme").await;
    let res = get(&env, &key, "format=csv").await;
    let mut body = res.bytes_stream();
    body.next().await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        reader_backends(&env).await,
        1,
        "the stream holds its reader while the client is connected"
    );
    drop(body);
    let deadline = Instant::now() + Duration::from_secs(20);
    while reader_backends(&env).await > 0 {
        assert!(
            Instant::now() < deadline,
            "the reader's Postgres session outlived its client by 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    env.stop().await;
}

#[tokio::test]
async fn stream_requests_are_validated_before_the_200() {
    let env = TestEnv::start(EVENTS, options()).await;
    let key = env.api_key("acme").await;
    for (query, code) in [
        ("format=json", "format-not-supported"),
        ("columns=note,kind", "key-columns-required"),
        ("columns=id,nope", "column-not-found"),
        ("filter=%7Bnot-json", "invalid-filter"),
        (
            "filter=%7B%22note%22%3A%7B%22eq%22%3A%22x%22%7D%7D",
            "column-not-filterable",
        ),
        (
            "filter=%7B%22amount%22%3A%7B%22eq%22%3A%22ten%22%7D%7D",
            "invalid-filter-value",
        ),
        ("after=%5B%22x%22%5D", "invalid-after"),
        ("after=%5B1%2C2%5D", "invalid-after"),
        ("since=forged", "invalid-since"),
        ("bogus=1", "invalid-query"),
    ] {
        let res = get(&env, &key, query).await;
        assert_eq!(res.status(), 422, "{query}");
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{query}"
        );
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["code"], code, "{query}: {problem}");
    }
    let res = env
        .http
        .get(env.url("/v1/datasets/nope/rows"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let res = env
        .http
        .get(env.url("/v1/datasets/events/rows"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    env.stop().await;
}

/// `haul serve` on SIGTERM stops accepting but lets a request in flight
/// finish: a stream that is mid-way when the signal arrives is delivered
/// whole, and then the process exits 0.
#[tokio::test]
async fn sigterm_on_serve_drains_a_stream_in_flight() {
    let env = TestEnv::start(EVENTS, options()).await;
    add_bulk_rows(&env).await;
    let key = env.api_key("acme").await;
    let port = haul_tests::process::free_local_addr().port();
    let mut settings = env.settings.clone();
    settings.server.bind = format!("127.0.0.1:{port}");
    settings.worker.shutdown_grace = "60s".parse().unwrap();
    let mut serve = haul_tests::process::HaulProcess::spawn("drain", "serve", &settings).await;
    serve
        .wait_for_log("API listening", Duration::from_secs(60))
        .await;

    // No idle connection kept: the server may exit as soon as the stream ends.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let res = http
        .get(format!(
            "http://127.0.0.1:{port}/v1/datasets/events/rows?format=csv"
        ))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut body = res.bytes_stream();
    let mut received = body.next().await.unwrap().unwrap().to_vec();
    serve.signal("TERM").await;
    serve
        .wait_for_log("SIGTERM received; shutting down", Duration::from_secs(10))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "a draining server accepts no new connections"
    );
    while let Some(chunk) = body.next().await {
        received.extend_from_slice(&chunk.expect("the stream is not cut by SIGTERM"));
    }
    let want = env
        .copy("COPY (SELECT id, tenant, kind, note, amount, at FROM events WHERE tenant = 'acme' ORDER BY id) TO STDOUT (FORMAT csv, HEADER)")
        .await;
    assert!(
        want.len() > 50_000_000,
        "the stream is far from done at SIGTERM"
    );
    assert!(received == want, "the drained stream differs from COPY");
    let status = serve
        .wait_exit(Duration::from_secs(30))
        .await
        .expect("serve exits once the stream is done");
    assert!(status.success(), "exit status {status:?}");
    env.stop().await;
}
