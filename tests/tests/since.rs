//! Incremental exports: every succeeded export reports `result.next_since`,
//! and an export with that `since` holds exactly the rows added after the
//! first export's high-water key (compared with COPY of `key > high-water`),
//! for single and composite keys, across empty steps and an empty start.

use haul_tests::golden::export_ok;
use haul_tests::{TestEnv, TestOptions};
use serde_json::{Value, json};

const TABLES: &str = r#"
CREATE TABLE items (id bigint PRIMARY KEY, v text);
INSERT INTO items SELECT i, md5(i::text) FROM generate_series(1, 1000) AS i;

CREATE TABLE daily (day date NOT NULL, seq int NOT NULL, v text, PRIMARY KEY (day, seq));
INSERT INTO daily SELECT date '2024-01-01' + d, s, d || '/' || s FROM generate_series(0, 29) AS d, generate_series(1, 20) AS s;

CREATE TABLE later (id int PRIMARY KEY, v text);
"#;

async fn since_env() -> TestEnv {
    TestEnv::start(
        TABLES,
        TestOptions::default()
            .dataset("items", "public.items", &["id"])
            .dataset("daily", "public.daily", &["day", "seq"])
            .dataset("later", "public.later", &["id"])
            .with(|s| s.worker.page_rows = 64),
    )
    .await
}

fn next_since(export: &Value) -> String {
    export["result"]["next_since"]
        .as_str()
        .unwrap_or_else(|| panic!("a succeeded export reports next_since: {export}"))
        .to_string()
}

/// Exports `dataset` from `since` and compares with COPY of `where_sql`.
async fn export_since(
    env: &TestEnv,
    key: &str,
    dataset: &str,
    since: Option<&str>,
    columns: &str,
    where_sql: &str,
    order: &str,
) -> (Value, i64) {
    let mut body = json!({"dataset": dataset});
    if let Some(s) = since {
        body["since"] = json!(s);
    }
    let (export, file) = export_ok(env, key, &body).await;
    let expected = env
        .copy(&format!(
            "COPY (SELECT {columns} FROM {dataset} WHERE {where_sql} ORDER BY {order}) TO STDOUT (FORMAT csv, HEADER)"
        ))
        .await;
    assert_eq!(
        String::from_utf8(file).unwrap(),
        String::from_utf8(expected).unwrap(),
        "{dataset} since {since:?}: rows with {where_sql}"
    );
    let rows = export["result"]["rows"].as_i64().unwrap();
    (export, rows)
}

#[tokio::test]
async fn since_returns_exactly_the_rows_added_after_a_single_key() {
    let env = since_env().await;
    let key = env.api_key("acme").await;
    let (first, rows) = export_since(&env, &key, "items", None, "*", "true", "id").await;
    assert_eq!(rows, 1000);
    let cursor = next_since(&first);

    // Rows appended after the first export; the second sees only them.
    env.source
        .batch_execute(
            "INSERT INTO items SELECT i, 'new ' || i FROM generate_series(1001, 1500) AS i",
        )
        .await
        .unwrap();
    let (second, rows) =
        export_since(&env, &key, "items", Some(&cursor), "*", "id > 1000", "id").await;
    assert_eq!(rows, 500);

    // Nothing new: an empty file, and the cursor still points at 1500.
    let (third, rows) = export_since(
        &env,
        &key,
        "items",
        Some(&next_since(&second)),
        "*",
        "id > 1500",
        "id",
    )
    .await;
    assert_eq!(rows, 0);
    env.source
        .batch_execute("INSERT INTO items VALUES (1501, 'a'), (1502, 'b'), (9000, 'c')")
        .await
        .unwrap();
    let (_, rows) = export_since(
        &env,
        &key,
        "items",
        Some(&next_since(&third)),
        "*",
        "id > 1500",
        "id",
    )
    .await;
    assert_eq!(rows, 3);

    // The first cursor still means "after 1000".
    let (_, rows) = export_since(&env, &key, "items", Some(&cursor), "*", "id > 1000", "id").await;
    assert_eq!(rows, 503);

    // A cursor belongs to its dataset.
    let res = env
        .post_export(&key, &json!({"dataset": "daily", "since": cursor}))
        .await;
    assert_eq!(res.status(), 422);
    env.stop().await;
}

#[tokio::test]
async fn since_with_a_composite_key_continues_inside_the_last_leading_value() {
    let env = since_env().await;
    let key = env.api_key("acme").await;
    let (first, rows) = export_since(&env, &key, "daily", None, "*", "true", "day, seq").await;
    assert_eq!(rows, 600);
    // Later rows in the same last day (higher seq), and in later days; rows
    // that sort before the high-water key are not "after" it.
    env.source
        .batch_execute(
            "INSERT INTO daily SELECT date '2024-01-30', s, 'late ' || s FROM generate_series(21, 40) AS s;
             INSERT INTO daily SELECT date '2024-01-31' + d, s, 'next' FROM generate_series(0, 2) AS d, generate_series(1, 5) AS s;
             INSERT INTO daily VALUES (date '2024-01-30', 0, 'before the high-water key');",
        )
        .await
        .unwrap();
    let (second, rows) = export_since(
        &env,
        &key,
        "daily",
        Some(&next_since(&first)),
        "*",
        "(day, seq) > ('2024-01-30', 20)",
        "day, seq",
    )
    .await;
    assert_eq!(rows, 35);
    let (_, rows) = export_since(
        &env,
        &key,
        "daily",
        Some(&next_since(&second)),
        "*",
        "(day, seq) > ('2024-02-02', 5)",
        "day, seq",
    )
    .await;
    assert_eq!(rows, 0);
    env.stop().await;
}

#[tokio::test]
async fn since_from_an_empty_dataset_starts_at_the_beginning() {
    let env = since_env().await;
    let key = env.api_key("acme").await;
    let (first, rows) = export_since(&env, &key, "later", None, "*", "true", "id").await;
    assert_eq!(rows, 0);
    env.source
        .batch_execute("INSERT INTO later SELECT i, 'v' || i FROM generate_series(-5, 300) AS i")
        .await
        .unwrap();
    let (second, rows) = export_since(
        &env,
        &key,
        "later",
        Some(&next_since(&first)),
        "*",
        "true",
        "id",
    )
    .await;
    assert_eq!(rows, 306);
    let (_, rows) = export_since(
        &env,
        &key,
        "later",
        Some(&next_since(&second)),
        "*",
        "id > 300",
        "id",
    )
    .await;
    assert_eq!(rows, 0);
    env.stop().await;
}
