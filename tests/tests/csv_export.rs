//! CSV exports, end to end: POST, the worker's keyset pages and multipart
//! upload, then the presigned download compared byte for byte with
//! PostgreSQL's own `COPY … (FORMAT csv, HEADER)`.

use haul_tests::env::sha256_hex;
use haul_tests::golden::{copy_in_zone, export_ok};
use haul_tests::{TestEnv, TestOptions};
use serde_json::json;

/// Text that CSV gets wrong when it is escaped by hand: quotes, commas,
/// CR/LF, tabs, backslashes, COPY's end marker, non-BMP unicode, empty
/// strings next to NULLs; ids with gaps so keyset pages are not dense.
const AWKWARD: &str = r#"
CREATE TABLE awkward (
    id bigint PRIMARY KEY,
    label text,
    note varchar(80),
    amount numeric(12,2),
    seen_at timestamptz,
    flag boolean,
    data jsonb
);
INSERT INTO awkward
SELECT i,
       (ARRAY['plain', 'with "quotes"', 'comma, inside', E'new\nline', E'crlf\r\nhere', E'tab\there',
              'ünïcödé 日本 🚀', '', NULL, '\.', E'back\\slash', ' leading space', '"', 'NULL'])[1 + i % 14],
       CASE WHEN i % 7 = 0 THEN NULL ELSE repeat('x,"', i % 20) END,
       (i * 1.37)::numeric(12,2),
       timestamptz '2024-01-01 00:00:00+00' + i * interval '17.5 seconds',
       CASE WHEN i % 11 = 0 THEN NULL ELSE i % 3 = 0 END,
       jsonb_build_object('i', i, 's', E'q"t\n')
  FROM generate_series(1, 330000) AS i
 WHERE i % 10 <> 3;
"#;

#[tokio::test]
async fn csv_export_is_byte_identical_to_copy() {
    let env = TestEnv::start(
        AWKWARD,
        TestOptions::default().dataset("awkward", "public.awkward", &["id"]),
    )
    .await;
    let key = env.api_key("acme").await;
    let id = env
        .create_export(&key, &json!({"dataset": "awkward"}))
        .await;
    let export = env.wait_until_done(&key, &id).await;
    assert_eq!(export["status"], "succeeded", "{export}");

    let expected = env
        .copy("COPY (SELECT id, label, note, amount, seen_at, flag, data FROM awkward ORDER BY id) TO STDOUT (FORMAT csv, HEADER)")
        .await;
    assert!(
        expected.len() > 3 * 5 * 1024 * 1024,
        "the export spans several 5 MiB parts"
    );

    let res = env.download(&key, &id).await;
    assert_eq!(res.status(), 200);
    let headers = res.headers().clone();
    let body = res.bytes().await.unwrap();
    assert!(
        body.as_ref() == expected.as_slice(),
        "CSV differs from COPY's output"
    );

    let result = &export["result"];
    assert_eq!(result["rows"], 297000);
    assert_eq!(result["bytes"], expected.len());
    assert_eq!(result["sha256"], sha256_hex(&expected));
    assert_eq!(result["content_type"], "text/csv");
    assert_eq!(result["filename"], format!("awkward-{id}.csv"));
    assert_eq!(export["progress"]["rows"], 297000);
    assert_eq!(
        headers["content-length"],
        expected.len().to_string().as_str()
    );
    assert_eq!(headers["content-type"], "text/csv");
    assert_eq!(
        headers["content-disposition"],
        format!("attachment; filename=\"awkward-{id}.csv\"").as_str()
    );
    let object_key = format!("exports/acme/{id}/awkward-{id}.csv");
    assert_eq!(
        haul_tests::s3::object_keys(&env.storage).await,
        vec![object_key]
    );
    assert!(haul_tests::s3::open_uploads(&env.storage).await.is_empty());
    env.stop().await;
}

/// Composite key whose leading column repeats, with text in the second
/// column ordered by the database's collation; small pages force many
/// keyset steps across the repeats.
const COMPOSITE: &str = r#"
CREATE TABLE lines (
    order_id int NOT NULL,
    code text NOT NULL,
    qty int,
    PRIMARY KEY (order_id, code)
);
INSERT INTO lines
SELECT i % 500, (ARRAY['a', 'B', 'b', 'Z', 'ä', 'aa', 'a a', '10', '9', '_x'])[1 + (i / 500) % 10] || (i / 5000)::text, i
  FROM generate_series(0, 49999) AS i;
"#;

#[tokio::test]
async fn composite_key_export_has_every_row_once_in_key_order() {
    let env = TestEnv::start(
        COMPOSITE,
        TestOptions::default()
            .dataset("lines", "public.lines", &["order_id", "code"])
            .with(|s| s.worker.page_rows = 700),
    )
    .await;
    let key = env.api_key("acme").await;
    let id = env
        .create_export(
            &key,
            &json!({"dataset": "lines", "columns": ["qty", "code"]}),
        )
        .await;
    let export = env.wait_until_done(&key, &id).await;
    assert_eq!(export["status"], "succeeded", "{export}");
    let expected = env
        .copy("COPY (SELECT qty, code FROM lines ORDER BY order_id, code) TO STDOUT (FORMAT csv, HEADER)")
        .await;
    let body = env.download_bytes(&key, &id).await;
    assert_eq!(
        String::from_utf8(body).unwrap(),
        String::from_utf8(expected).unwrap()
    );
    assert_eq!(export["result"]["rows"], 50000);
    env.stop().await;
}

#[tokio::test]
async fn presigned_url_answers_range_requests() {
    let env = TestEnv::start(
        "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, md5(i::text) FROM generate_series(1, 20000) i;",
        TestOptions::default().dataset("t", "public.t", &["id"]),
    )
    .await;
    let key = env.api_key("acme").await;
    let id = env
        .create_export(&key, &json!({"dataset": "t", "filename": "my-file"}))
        .await;
    let export = env.wait_until_done(&key, &id).await;
    assert_eq!(export["result"]["filename"], "my-file.csv");
    let whole = env
        .copy("COPY (SELECT id, v FROM t ORDER BY id) TO STDOUT (FORMAT csv, HEADER)")
        .await;

    // The link from the resource works without an API key (a browser).
    let link = export["links"]["download"].as_str().unwrap().to_string();
    let redirect = env.http.get(&link).send().await.unwrap();
    assert_eq!(redirect.status(), 303);
    let presigned = redirect.headers()["location"].to_str().unwrap().to_string();

    let part = env
        .http
        .get(&presigned)
        .header("Range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 1000-1999/{}", whole.len()).as_str()
    );
    assert_eq!(part.bytes().await.unwrap().as_ref(), &whole[1000..2000]);

    // Resuming from an offset to the end gives the rest of the file.
    let rest = env
        .http
        .get(&presigned)
        .header("Range", format!("bytes={}-", whole.len() - 10))
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), 206);
    assert_eq!(
        rest.bytes().await.unwrap().as_ref(),
        &whole[whole.len() - 10..]
    );
    env.stop().await;
}

#[tokio::test]
async fn empty_dataset_gives_a_header_only_file() {
    let env = TestEnv::start(
        "CREATE TABLE e (id int PRIMARY KEY, \"Odd Name\" text, \"select\" int);",
        TestOptions::default().dataset("e", "public.e", &["id"]),
    )
    .await;
    let key = env.api_key("acme").await;
    let id = env.create_export(&key, &json!({"dataset": "e"})).await;
    let export = env.wait_until_done(&key, &id).await;
    assert_eq!(export["status"], "succeeded", "{export}");
    let body = env.download_bytes(&key, &id).await;
    assert_eq!(String::from_utf8(body).unwrap(), "id,Odd Name,select\n");
    assert_eq!(export["result"]["rows"], 0);
    env.stop().await;
}

const TIMES: &str = "
CREATE TABLE times (id bigint PRIMARY KEY, at timestamptz NOT NULL);
INSERT INTO times SELECT i, timestamptz '2024-03-30 22:00:00+00' + i * interval '7 hours'
  FROM generate_series(1, 200) AS i;";

/// The worker's source sessions (application_name `haul`) on this database.
async fn source_sessions(env: &TestEnv) -> Vec<i32> {
    env.source
        .query_one(
            "SELECT coalesce(array_agg(pid ORDER BY pid), '{}') FROM pg_stat_activity
              WHERE datname = current_database() AND application_name = 'haul'",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

/// A worker keeps its two source sessions between exports. Each export sets
/// its own time zone on them, so none inherits the one before. (200 rows are
/// several pages, so both sessions take turns.)
#[tokio::test]
async fn consecutive_exports_reuse_the_workers_source_sessions() {
    let env = TestEnv::start(
        TIMES,
        TestOptions::default().dataset("times", "public.times", &["id"]),
    )
    .await;
    let key = env.api_key("acme").await;
    let mut sessions = Vec::new();
    for zone in ["Asia/Tokyo", "UTC", "America/New_York"] {
        let id = env
            .create_export(&key, &json!({"dataset": "times", "timezone": zone}))
            .await;
        let export = env.wait_until_done(&key, &id).await;
        assert_eq!(export["status"], "succeeded", "{export}");
        env.source
            .execute("SELECT set_config('TimeZone', $1, false)", &[&zone])
            .await
            .unwrap();
        let expected = env
            .copy("COPY (SELECT id, at FROM times ORDER BY id) TO STDOUT (FORMAT csv, HEADER)")
            .await;
        assert!(
            env.download_bytes(&key, &id).await == expected,
            "the export in {zone} differs from COPY in {zone}"
        );
        sessions.push(source_sessions(&env).await);
    }
    assert_eq!(sessions[0].len(), 2, "{sessions:?}");
    assert!(sessions.iter().all(|s| s == &sessions[0]), "{sessions:?}");
    env.stop().await;
}

/// An export whose rows fit in its first page needs no second session: the
/// page was short of its limit, so there is no next page to look for.
#[tokio::test]
async fn an_export_of_one_page_uses_one_source_session() {
    let env = TestEnv::start(
        "CREATE TABLE few (id int PRIMARY KEY, name text);
         INSERT INTO few SELECT i, 'row ' || i FROM generate_series(1, 10) AS i;",
        TestOptions::default().dataset("few", "public.few", &["id"]),
    )
    .await;
    let key = env.api_key("acme").await;
    let (export, file) = export_ok(&env, &key, &json!({"dataset": "few"})).await;
    assert_eq!(export["result"]["rows"], 10, "{export}");
    let expected = env
        .copy("COPY (SELECT id, name FROM few ORDER BY id) TO STDOUT (FORMAT csv, HEADER)")
        .await;
    assert!(file == expected, "the export differs from COPY");
    let sessions = source_sessions(&env).await;
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    env.stop().await;
}

/// Row counts on either side of a page boundary (pages of 5 rows): a full
/// last page is followed by a look for more, a short one ends the export,
/// and either way every row is there once.
#[tokio::test]
async fn exports_ending_at_or_beside_a_page_boundary_have_every_row() {
    let env = TestEnv::start(
        TIMES,
        TestOptions::default()
            .dataset("times", "public.times", &["id"])
            .with(|s| {
                s.worker.page_rows = 5;
                s.datasets.get_mut("times").unwrap().filterable = vec!["id".into()];
            }),
    )
    .await;
    let key = env.api_key("acme").await;
    for n in [4, 5, 6, 10, 11] {
        let (export, file) = export_ok(
            &env,
            &key,
            &json!({"dataset": "times", "filter": {"id": {"lte": n}}}),
        )
        .await;
        assert_eq!(export["result"]["rows"], n, "{n} rows: {export}");
        let expected = copy_in_zone(
            &env,
            "UTC",
            &format!(
                "COPY (SELECT id, at FROM times WHERE id <= {n} ORDER BY id) TO STDOUT (FORMAT csv, HEADER)"
            ),
        )
        .await;
        assert!(file == expected, "{n} rows: the export differs from COPY");
    }
    env.stop().await;
}
