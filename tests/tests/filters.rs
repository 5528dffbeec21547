//! `columns` and `filter`, end to end: every operator on filterable columns
//! of several types gives exactly PostgreSQL's COPY of the same WHERE; bad
//! values and unfilterable columns are 422s that name the column.

use haul_tests::golden::{copy_in_zone, export_ok};
use haul_tests::{TestEnv, TestOptions};
use serde_json::{Value, json};

const ORDERS: &str = r#"
CREATE TABLE orders (
    id int PRIMARY KEY,
    qty int,
    status text,
    placed_at timestamptz,
    paid boolean,
    amount numeric(10,2),
    code varchar(4),
    grade char(3),
    note text
);
INSERT INTO orders
SELECT i,
       CASE WHEN i % 17 = 0 THEN NULL ELSE i % 100 END,
       CASE WHEN i % 19 = 0 THEN NULL ELSE (ARRAY['buy', 'sell', 'it''s "x"', 'Buy', 'ünï', ''])[1 + i % 6] END,
       CASE WHEN i % 23 = 0 THEN NULL ELSE timestamptz '2024-01-01 00:00:00+00' + i * interval '7 minutes' END,
       CASE WHEN i % 29 = 0 THEN NULL ELSE i % 2 = 0 END,
       CASE WHEN i % 31 = 0 THEN NULL ELSE (i % 250) * 0.5 END,
       CASE WHEN i % 37 = 0 THEN NULL ELSE (ARRAY['abcd', 'abc', 'b'])[1 + i % 3] END,
       (ARRAY['a', 'ab', 'abc'])[1 + i % 3],
       'note ' || i
  FROM generate_series(1, 600) AS i;
"#;

async fn orders_env() -> TestEnv {
    TestEnv::start(
        ORDERS,
        TestOptions::default()
            .dataset("orders", "public.orders", &["id"])
            .with(|s| {
                let ds = s.datasets.get_mut("orders").unwrap();
                ds.filterable = [
                    "qty",
                    "status",
                    "placed_at",
                    "paid",
                    "amount",
                    "code",
                    "grade",
                ]
                .map(String::from)
                .to_vec();
            }),
    )
    .await
}

/// (filter, the same condition in SQL)
fn cases() -> Vec<(Value, &'static str)> {
    vec![
        (json!({"qty": {"eq": 5}}), "qty = 5"),
        (json!({"qty": {"ne": 5}}), "qty <> 5"),
        (json!({"qty": {"lt": 10}}), "qty < 10"),
        (json!({"qty": {"lte": "10"}}), "qty <= 10"),
        (json!({"qty": {"gt": 90}}), "qty > 90"),
        (
            json!({"qty": {"gte": 90, "lt": 95}}),
            "qty >= 90 AND qty < 95",
        ),
        (json!({"qty": {"in": [1, "2", 3]}}), "qty IN (1, 2, 3)"),
        (json!({"qty": {"is_null": true}}), "qty IS NULL"),
        (json!({"qty": {"is_null": false}}), "qty IS NOT NULL"),
        (
            json!({"status": {"eq": "it's \"x\""}}),
            r#"status = 'it''s "x"'"#,
        ),
        (json!({"status": {"ne": "buy"}}), "status <> 'buy'"),
        (json!({"status": {"lt": "b"}}), "status < 'b'"),
        (json!({"status": {"gte": "s"}}), "status >= 's'"),
        (
            json!({"status": {"in": ["buy", "ünï", ""]}}),
            "status IN ('buy', 'ünï', '')",
        ),
        (json!({"status": {"is_null": true}}), "status IS NULL"),
        (
            json!({"status": {"eq": "x'; DROP TABLE orders; --"}}),
            "status = 'x''; DROP TABLE orders; --'",
        ),
        (
            json!({"placed_at": {"gte": "2024-01-01T06:00:00Z", "lt": "2024-01-01T12:00:00+02:00"}}),
            "placed_at >= '2024-01-01 06:00:00+00' AND placed_at < '2024-01-01 10:00:00+00'",
        ),
        (
            json!({"placed_at": {"gt": "2024-01-03 12:00"}}),
            "placed_at > '2024-01-03 12:00:00+00'",
        ),
        (
            json!({"placed_at": {"lte": "2024-01-01T01:00:00Z"}}),
            "placed_at <= '2024-01-01 01:00:00+00'",
        ),
        (
            json!({"placed_at": {"in": ["2024-01-01T00:07:00Z", "2024-01-01T00:14:00+00:00"]}}),
            "placed_at IN ('2024-01-01 00:07:00+00', '2024-01-01 00:14:00+00')",
        ),
        (json!({"placed_at": {"is_null": true}}), "placed_at IS NULL"),
        (json!({"paid": {"eq": true}}), "paid"),
        (json!({"paid": {"eq": "f"}}), "NOT paid"),
        (json!({"paid": {"ne": true}}), "paid <> true"),
        (json!({"paid": {"is_null": true}}), "paid IS NULL"),
        (json!({"paid": {"in": [false]}}), "paid IN (false)"),
        (json!({"amount": {"gt": 100.5}}), "amount > 100.5"),
        (json!({"amount": {"lte": "2.50"}}), "amount <= 2.5"),
        (json!({"amount": {"eq": 12}}), "amount = 12"),
        (
            json!({"amount": {"in": ["1.50", 2.5, 3]}}),
            "amount IN (1.5, 2.5, 3)",
        ),
        (json!({"amount": {"ne": 0}}), "amount <> 0"),
        (
            json!({"amount": {"gte": 0, "lt": 1}}),
            "amount >= 0 AND amount < 1",
        ),
        // Values longer or finer than the column's type modifier compare as
        // given, never truncated or rounded to varchar(4) / char(3) /
        // numeric(10,2) first.
        (json!({"amount": {"lt": "0.504"}}), "amount < 0.504"),
        (json!({"code": {"lt": "abcdX"}}), "code < 'abcdX'"),
        (
            json!({"code": {"in": ["abcdX", "b"]}}),
            "code IN ('abcdX', 'b')",
        ),
        (json!({"grade": {"lt": "abcd"}}), "grade < 'abcd'"),
        (json!({"grade": {"eq": "ab"}}), "grade = 'ab'"),
        (
            json!({"qty": {"gt": 10}, "status": {"eq": "buy"}, "paid": {"eq": true}, "amount": {"is_null": false}}),
            "qty > 10 AND status = 'buy' AND paid AND amount IS NOT NULL",
        ),
        (json!({"qty": {"gt": 1000}}), "qty > 1000"),
    ]
}

#[tokio::test]
async fn every_operator_on_every_type_matches_copy_with_the_same_where() {
    let env = orders_env().await;
    let key = env.api_key("acme").await;
    let mut empty = Vec::new();
    for (filter, sql) in cases() {
        let (export, file) =
            export_ok(&env, &key, &json!({"dataset": "orders", "filter": filter})).await;
        let expected = copy_in_zone(
            &env,
            "UTC",
            &format!(
                "COPY (SELECT * FROM orders WHERE {sql} ORDER BY id) TO STDOUT (FORMAT csv, HEADER)"
            ),
        )
        .await;
        assert_eq!(
            String::from_utf8(file).unwrap(),
            String::from_utf8(expected.clone()).unwrap(),
            "filter {filter} vs WHERE {sql}"
        );
        let rows = expected.iter().filter(|b| **b == b'\n').count() - 1;
        assert_eq!(export["result"]["rows"], rows, "{filter}");
        if rows == 0 {
            empty.push(filter);
        }
    }
    // Only the injection attempt and the out-of-range case select nothing.
    assert_eq!(empty.len(), 2, "cases that select no rows: {empty:?}");
    let count: i64 = env
        .source
        .query_one("SELECT count(*) FROM orders", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 600, "the injection attempt was only a value");
    env.stop().await;
}

#[tokio::test]
async fn timestamps_without_offset_are_read_in_the_export_time_zone() {
    let env = orders_env().await;
    let key = env.api_key("acme").await;
    let zone = "America/New_York";
    let (_, file) = export_ok(
        &env,
        &key,
        &json!({"dataset": "orders", "timezone": zone, "filter": {"placed_at": {"lt": "2023-12-31 21:30"}}}),
    )
    .await;
    let expected = copy_in_zone(
        &env,
        zone,
        "COPY (SELECT * FROM orders WHERE placed_at < '2024-01-01 02:30:00+00' ORDER BY id) TO STDOUT (FORMAT csv, HEADER)",
    )
    .await;
    assert_eq!(
        String::from_utf8(file).unwrap(),
        String::from_utf8(expected).unwrap()
    );
    env.stop().await;
}

#[tokio::test]
async fn columns_subset_keeps_the_requested_order_with_filters() {
    let env = orders_env().await;
    let key = env.api_key("acme").await;
    for format in ["csv", "tsv"] {
        let (_, file) = export_ok(
            &env,
            &key,
            &json!({
                "dataset": "orders", "format": format,
                "columns": ["note", "amount", "id", "status"],
                "filter": {"status": {"in": ["buy", "Buy"]}, "qty": {"lt": 50}}
            }),
        )
        .await;
        let copy_format = if format == "csv" { "csv" } else { "text" };
        let expected = env
            .copy(&format!(
                "COPY (SELECT note, amount, id, status FROM orders WHERE status IN ('buy', 'Buy') AND qty < 50 ORDER BY id) \
                 TO STDOUT (FORMAT {copy_format}, HEADER)"
            ))
            .await;
        assert_eq!(
            String::from_utf8(file).unwrap(),
            String::from_utf8(expected).unwrap()
        );
    }
    env.stop().await;
}

async fn problem(env: &TestEnv, key: &str, body: Value) -> Value {
    let res = env.post_export(key, &body).await;
    assert_eq!(res.status(), 422, "{body}");
    res.json().await.unwrap()
}

#[tokio::test]
async fn bad_values_and_unfilterable_columns_are_422s_naming_the_column() {
    let env = orders_env().await;
    let key = env.api_key("acme").await;
    let bad_values = [
        ("qty", json!({"eq": "abc"})),
        ("qty", json!({"eq": 1.5})),
        ("qty", json!({"in": [1, "x"]})),
        ("qty", json!({"gt": 99999999999_i64})),
        ("placed_at", json!({"gte": "2024-13-45"})),
        ("paid", json!({"eq": "maybe"})),
        ("amount", json!({"lt": "1,5"})),
        ("amount", json!({"in": [1, {"a": 1}]})),
        ("amount", json!({"eq": 123456789012_i64})),
    ];
    for (column, ops) in bad_values {
        let p = problem(
            &env,
            &key,
            json!({"dataset": "orders", "filter": {column: ops}}),
        )
        .await;
        assert_eq!(p["code"], "invalid-filter-value", "{column} {ops}: {p}");
        let detail = p["detail"].as_str().unwrap();
        assert!(detail.contains(&format!("filter.{column}")), "{detail}");
    }
    let p = problem(
        &env,
        &key,
        json!({"dataset": "orders", "filter": {"qty": {"eq": null}}}),
    )
    .await;
    assert_eq!(p["code"], "invalid-filter-value");
    let p = problem(
        &env,
        &key,
        json!({"dataset": "orders", "filter": {"qty": {"in": 3}}}),
    )
    .await;
    assert_eq!(p["code"], "invalid-filter-value");
    let p = problem(
        &env,
        &key,
        json!({"dataset": "orders", "filter": {"note": {"eq": "x"}}}),
    )
    .await;
    assert_eq!(p["code"], "column-not-filterable");
    assert!(p["detail"].as_str().unwrap().contains("note"), "{p}");
    let p = problem(
        &env,
        &key,
        json!({"dataset": "orders", "filter": {"id": {"eq": 1}}}),
    )
    .await;
    assert_eq!(p["code"], "column-not-filterable");
    let p = problem(
        &env,
        &key,
        json!({"dataset": "orders", "filter": {"nope": {"eq": 1}}}),
    )
    .await;
    assert_eq!(p["code"], "column-not-found");
    assert!(p["detail"].as_str().unwrap().contains("nope"), "{p}");
    let p = problem(
        &env,
        &key,
        json!({"dataset": "orders", "filter": {"qty": {"like": "1%"}}}),
    )
    .await;
    assert_eq!(p["code"], "unknown-filter-operator");
    let p = problem(
        &env,
        &key,
        json!({"dataset": "orders", "columns": ["id", "nope"]}),
    )
    .await;
    assert_eq!(p["code"], "column-not-found");
    let p = problem(
        &env,
        &key,
        json!({"dataset": "orders", "columns": ["id", "id"]}),
    )
    .await;
    assert_eq!(p["code"], "duplicate-column");
    env.stop().await;
}
