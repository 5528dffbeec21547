//! The four formats, end to end: csv and tsv byte-identical to PostgreSQL's
//! COPY with the header on and off, ndjson and json parse-equal to
//! `row_to_json` / `json_agg`, across several 5 MiB parts, and an empty
//! result as a valid file in each format.

use haul_tests::golden::{export_ok, json_agg, ndjson_values, object_parts, row_to_json};
use haul_tests::{TestEnv, TestOptions};
use serde_json::{Value, json};

/// About 14 MB of CSV and 20 MB of JSON: several parts in every format. The
/// json column keeps its newlines and tabs (json stores text verbatim), so
/// JSON framing meets raw whitespace inside rows and across COPY chunks.
const EVENTS: &str = r#"
CREATE TABLE events (
    id bigint PRIMARY KEY,
    kind text NOT NULL,
    "Amount" numeric(12,2),
    at timestamptz,
    payload json,
    tags text[]
);
INSERT INTO events
SELECT i,
       (ARRAY['buy', 'sell', 'it''s "x"', E'tab\there', E'multi\nline', E'back\\slash', '🚀 ünï', '', 'a,b'])[1 + i % 9],
       CASE WHEN i % 13 = 0 THEN NULL ELSE (i * 3.17)::numeric(12,2) END,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '61.5 seconds',
       CASE WHEN i % 5 = 0 THEN NULL
            ELSE format(E'{"i": %s,\n\t"s": %s, "pad": "%s"}', i, to_json(md5(i::text)), repeat('x', i % 200))::json END,
       ARRAY[i::text, NULL, 'a,b', E'q"\\']
  FROM generate_series(1, 60000) AS i;
"#;

const COLUMNS: &str = r#"id, kind, "Amount", at, payload, tags"#;

async fn events_env() -> TestEnv {
    TestEnv::start(
        EVENTS,
        TestOptions::default().dataset("events", "public.events", &["id"]),
    )
    .await
}

#[tokio::test]
async fn csv_and_tsv_are_byte_identical_to_copy_with_and_without_header() {
    let env = events_env().await;
    let key = env.api_key("acme").await;
    for (format, copy_format) in [("csv", "csv"), ("tsv", "text")] {
        for header in [true, false] {
            let body = json!({"dataset": "events", "format": format, "header": header});
            let (export, file) = export_ok(&env, &key, &body).await;
            let options = if header {
                format!("FORMAT {copy_format}, HEADER")
            } else {
                format!("FORMAT {copy_format}")
            };
            let expected = env
                .copy(&format!(
                    "COPY (SELECT {COLUMNS} FROM events ORDER BY id) TO STDOUT ({options})"
                ))
                .await;
            assert!(file == expected, "{body}: differs from COPY ({options})");
            assert_eq!(export["result"]["rows"], 60000);
            assert!(
                object_parts(&env, "acme", &export).await >= 2,
                "{body}: several parts"
            );
            if header {
                let first = file.split(|b| *b == b'\n').next().unwrap();
                let sep = if format == "csv" { "," } else { "\t" };
                let names = ["id", "kind", "Amount", "at", "payload", "tags"].join(sep);
                assert_eq!(first, names.as_bytes(), "{format} header line");
            }
        }
    }
    let (export, _) = export_ok(&env, &key, &json!({"dataset": "events", "format": "tsv"})).await;
    assert_eq!(
        export["result"]["content_type"],
        "text/tab-separated-values"
    );
    assert!(
        export["result"]["filename"]
            .as_str()
            .unwrap()
            .ends_with(".tsv")
    );
    env.stop().await;
}

#[tokio::test]
async fn ndjson_and_json_parse_equal_to_row_to_json_across_parts() {
    let env = events_env().await;
    let key = env.api_key("acme").await;

    let (export, ndjson) = export_ok(
        &env,
        &key,
        &json!({"dataset": "events", "format": "ndjson"}),
    )
    .await;
    assert!(
        object_parts(&env, "acme", &export).await >= 3,
        "several parts"
    );
    assert_eq!(export["result"]["content_type"], "application/x-ndjson");
    let lines = ndjson_values(&ndjson);
    let expected = row_to_json(&env, "UTC", "events AS e", "e.*", "true", "e.id").await;
    assert_eq!(lines.len(), 60000);
    assert!(lines == expected, "ndjson lines differ from row_to_json");

    let (export, array) =
        export_ok(&env, &key, &json!({"dataset": "events", "format": "json"})).await;
    assert!(
        object_parts(&env, "acme", &export).await >= 3,
        "several parts"
    );
    assert_eq!(export["result"]["content_type"], "application/json");
    assert!(array.starts_with(b"[") && array.ends_with(b"]\n"));
    let parsed: Value = serde_json::from_slice(&array).expect("one JSON array");
    let expected = json_agg(&env, "UTC", "events AS e", "e.*", "true", "e.id").await;
    assert!(parsed == expected, "json array differs from json_agg");

    // A column subset keeps its order in the JSON objects too.
    let (_, subset) = export_ok(
        &env,
        &key,
        &json!({"dataset": "events", "format": "ndjson", "columns": ["tags", "id"]}),
    )
    .await;
    let first = std::str::from_utf8(&subset)
        .unwrap()
        .lines()
        .next()
        .unwrap();
    assert_eq!(first, r#"{"tags":["1",null,"a,b","q\"\\"],"id":1}"#);
    let expected = row_to_json(&env, "UTC", "events AS e", "e.tags, e.id", "true", "e.id").await;
    assert!(ndjson_values(&subset) == expected);
    env.stop().await;
}

#[tokio::test]
async fn an_empty_result_is_a_valid_file_in_every_format() {
    let env = TestEnv::start(
        r#"CREATE TABLE nothing (id int PRIMARY KEY, "Odd Name" text, "select" int, "tab	name" text);"#,
        TestOptions::default().dataset("nothing", "public.nothing", &["id"]),
    )
    .await;
    let key = env.api_key("acme").await;
    let cases: [(&str, Option<bool>, &[u8]); 7] = [
        ("csv", None, b"id,Odd Name,select,tab\tname\n"),
        ("csv", Some(false), b""),
        ("tsv", None, b"id\tOdd Name\tselect\ttab\\tname\n"),
        ("tsv", Some(false), b""),
        ("ndjson", None, b""),
        ("json", None, b"[]\n"),
        ("json", Some(false), b"[]\n"),
    ];
    for (format, header, expected) in cases {
        let mut body = json!({"dataset": "nothing", "format": format});
        if let Some(h) = header {
            body["header"] = json!(h);
        }
        let (export, file) = export_ok(&env, &key, &body).await;
        assert_eq!(
            String::from_utf8_lossy(&file),
            String::from_utf8_lossy(expected),
            "{body}"
        );
        assert_eq!(export["result"]["rows"], 0);
    }
    // The header-only files are still exactly what COPY prints.
    for (format, copy_format) in [("csv", "csv"), ("tsv", "text")] {
        let (_, file) =
            export_ok(&env, &key, &json!({"dataset": "nothing", "format": format})).await;
        let copy = env
            .copy(&format!(
                r#"COPY (SELECT * FROM nothing ORDER BY id) TO STDOUT (FORMAT {copy_format}, HEADER)"#
            ))
            .await;
        assert_eq!(file, copy, "{format}");
    }
    let (_, json) = export_ok(&env, &key, &json!({"dataset": "nothing", "format": "json"})).await;
    assert_eq!(
        serde_json::from_slice::<Value>(&json).unwrap(),
        json_agg(&env, "UTC", "nothing AS n", "n.*", "true", "n.id").await
    );
    env.stop().await;
}
