//! Golden tests for every PostgreSQL type a real schema holds: one table with
//! a column of each type (NULL in every column, extremes, NaN and infinities,
//! awkward text, a 1 MiB value, odd column names), exported in every format
//! and compared with PostgreSQL's own output on the same server: COPY for
//! csv/tsv, `row_to_json` / `json_agg` for ndjson/json, in the export's time
//! zone (UTC by default, and America/New_York).

use haul_tests::golden::{copy_in_zone, export_ok, json_agg, ndjson_values, row_to_json};
use haul_tests::{TestEnv, TestOptions};
use serde_json::{Value, json};

const GOLDEN: &str = r#"
CREATE TYPE mood AS ENUM ('sad', 'ok', 'it''s "complicated"');
CREATE TABLE golden (
    id int PRIMARY KEY,
    "Small Int" smallint,
    "Integer" integer,
    "select" bigint,
    num numeric,
    "num(20,6)" numeric(20,6),
    r real,
    d double precision,
    txt text,
    vc varchar(20),
    ch char(5),
    b boolean,
    dt date,
    tm time,
    ttz timetz,
    ts timestamp,
    tstz timestamptz,
    iv interval,
    u uuid,
    j json,
    jb jsonb,
    "by" bytea,
    int_arr int[],
    txt_arr text[],
    nested int[][],
    m mood,
    ip inet,
    net cidr,
    t text,
    "order" text,
    r4 int4range,
    tr tstzrange,
    bits bit varying,
    cash money,
    pt point
);
INSERT INTO golden (id) VALUES (1);
INSERT INTO golden VALUES
(2, 1, 2, 3, 1.5, 2.5, 1.5, 2.25, 'plain', 'varchar', 'ab', true,
 '2024-02-29', '13:45:00', '13:45:00+02', '2024-03-10 02:30:00', '2024-03-10 06:59:59.999999+00',
 '1 day 02:00:00', '00000000-0000-0000-0000-000000000000', '{"a": 1}', '{"a": 1}', '\x', '{}', '{}', '{}',
 'sad', '192.168.0.1', '10.0.0.0/8', 'the t column', 'the order column'),
(3, -32768, -2147483648, -9223372036854775808, 'NaN', -0.000001, 'NaN', 'NaN', '', '', '', false,
 '4713-01-01 BC', '00:00:00', '00:00:00-15:59', '-infinity', '-infinity',
 '-178000000 years', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'null', 'null', '\x00', '{NULL}', '{NULL,"NULL",""}', '{{1,NULL},{NULL,4}}',
 'ok', '::1', '::/0', '', 'NULL'),
(4, 32767, 2147483647, 9223372036854775807, 'Infinity', 99999999999999.999999, 'Infinity', 'Infinity', '\.', '\N', 'x y', NULL,
 '5874897-12-31', '24:00:00', '24:00:00+15:59', 'infinity', 'infinity',
 '178000000 years', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '[1, 2.50, "x", true, null, {"k": []}]', '[1, 2.50, "x", true, null, {"k": []}]',
 '\xdeadbeef5c0a0d09', '{-2147483648,2147483647}', '{"a,b","c\"d","e\\f","g h","{x}"," "}', '{{{1},{2}},{{3},{4}}}',
 'it''s "complicated"', '2001:db8::ff00:42:8329/64', '2001:db8::/32', E'\\', E'\t'),
(5, 0, 0, 0, '-Infinity', 0, '-Infinity', '-Infinity', E'quote " apostrophe \' comma , semicolon ;', E'tab\there', E'a\tb', true,
 '0001-01-01', '23:59:59.999999', '23:59:59.999999+14', '1999-12-31 23:59:59.999999', '1999-12-31 23:59:59.999999-08',
 '-1 years -2 mons +3 days -04:05:06.789', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12',
 E'{"b": 1,\n "a":\r\n\t[1, 2],  "b": "dup key kept by json", "s": "esc \\" \\\\ \\n \\t \\u00e9 \\ud83d\\ude80"}',
 E'{"bb": 1, "a": 2, "ccc": {"z": 1, "y": [true, false]}, "b": "dup", "b": "last wins", "s": "esc \\" \\\\ \\n \\t \\u00e9 \\ud83d\\ude80"}',
 '\x000102037f80fffe', '{1,2,3}', E'{"line\nbreak","tab\there","cr\rhere"}', '{{1,2,3},{4,5,6}}',
 'sad', '0.0.0.0', '255.255.255.255/32', E'CR\rLF\nCRLF\r\nend', 'back\slash \\ double'),
(6, 7, 8, 9, 123456789012345678901234567890.123456789012345678901234567890, 0.000001, 3.4028235e38, 1.7976931348623157e308,
 E'non-BMP 🚀 𝄞 😀 and BMP ü 日本 and zero-width \u200b', 'ünïcödé 🚀', '日本', false,
 '1970-01-01', '12:00:00.5', '12:00:00.5-03:30', '1970-01-01 00:00:00', '1970-01-01 00:00:00+00',
 '0', 'c0ffee00-0000-4000-8000-000000000001', '"just a string"', '"just a string"', '\x5c5c', '{0}', E'{"🚀","日本"}', '{{7}}',
 'ok', '10.1.2.3/24', '10.1.2.0/24', 'comma, "quoted", and ''single''', 'select'),
(7, -1, -1, -1, -0.5, -123.456, 1.17549435e-38, 5e-324, E'\r\n', E'\n', E'\r', true,
 '2000-01-01', '00:00:00.000001', '00:00:00.000001+00', '2024-11-03 01:30:00', '2024-11-03 05:30:00+00',
 '1 mon -1 days 00:00:00.000001', 'c0ffee00-0000-4000-8000-000000000002', '12345678901234567890123', '0.1',
 '\x0a', '{-1}', '{"\\\\","\""}', '{{NULL,NULL}}', 'ok', '::ffff:1.2.3.4', '::ffff:1.2.3.0/120', 'x', 'y'),
(8, 1, 1, 1, 0.1, 0.1, 0.1, 0.1, repeat(E'ab"c,\t\\\n🚀;''', 87382), repeat('v', 20), 'abcde', true,
 '2024-01-01', '01:02:03', '01:02:03+00', '2024-01-01 01:02:03', '2024-01-01 01:02:03+00',
 '1 hour', 'c0ffee00-0000-4000-8000-000000000003', '{}', '{}', '\x01', '{1}', '{"x"}', '{{1}}', 'sad', '1.1.1.1', '1.1.1.1/32', 'big', 'row');
-- Types beyond the list, filled in afterwards so row 1 stays all NULL.
UPDATE golden SET r4 = CASE WHEN id % 2 = 0 THEN '[1,10)'::int4range ELSE 'empty' END,
                  tr = tstzrange('2024-03-10 06:59:59.5+00', CASE WHEN id % 2 = 0 THEN 'infinity'::timestamptz END, '(]'),
                  bits = B'1011' || (id::bit(3))::varbit,
                  cash = 12.34 * id,
                  pt = point(id, -id / 3.0)
 WHERE id <> 1;
"#;

/// Zones the golden file is checked in: the default (no `timezone` field,
/// so UTC) and one with DST, whose offset differs across the rows.
const ZONES: [Option<&str>; 2] = [None, Some("America/New_York")];

async fn golden_env() -> TestEnv {
    TestEnv::start(
        GOLDEN,
        TestOptions::default().dataset("golden", "public.golden", &["id"]),
    )
    .await
}

fn request(format: &str, zone: Option<&str>) -> Value {
    let mut body = json!({"dataset": "golden", "format": format});
    if let Some(z) = zone {
        body["timezone"] = json!(z);
    }
    body
}

#[tokio::test]
async fn every_type_in_csv_and_tsv_is_byte_identical_to_copy() {
    let env = golden_env().await;
    let key = env.api_key("acme").await;
    for zone in ZONES {
        for (format, copy_format) in [("csv", "csv"), ("tsv", "text")] {
            let (export, body) = export_ok(&env, &key, &request(format, zone)).await;
            let expected = copy_in_zone(
                &env,
                zone.unwrap_or("UTC"),
                &format!("COPY (SELECT * FROM golden ORDER BY id) TO STDOUT (FORMAT {copy_format}, HEADER)"),
            )
            .await;
            assert!(expected.len() > 1 << 20, "the 1 MiB value is in the file");
            assert!(
                body == expected,
                "{format} in {zone:?} differs from COPY:\n{}\n---\n{}",
                String::from_utf8_lossy(&body[..body.len().min(3000)]),
                String::from_utf8_lossy(&expected[..expected.len().min(3000)])
            );
            assert_eq!(export["result"]["rows"], 8);
        }
    }
    env.stop().await;
}

#[tokio::test]
async fn every_type_in_ndjson_and_json_parses_equal_to_row_to_json() {
    let env = golden_env().await;
    let key = env.api_key("acme").await;
    for zone in ZONES {
        let tz = zone.unwrap_or("UTC");
        let (_, ndjson) = export_ok(&env, &key, &request("ndjson", zone)).await;
        let expected = row_to_json(&env, tz, "golden AS g", "g.*", "true", "g.id").await;
        let lines = ndjson_values(&ndjson);
        assert_eq!(lines.len(), 8);
        for (got, want) in lines.iter().zip(&expected) {
            assert_eq!(got, want, "ndjson row in {tz}");
        }

        let (_, array) = export_ok(&env, &key, &request("json", zone)).await;
        let parsed: Value = serde_json::from_slice(&array).expect("the json file is one value");
        let expected = json_agg(&env, tz, "golden AS g", "g.*", "true", "g.id").await;
        assert_eq!(parsed, expected, "json array in {tz}");

        // Parsing as f64 would hide lost digits: the text must carry
        // PostgreSQL's exact numeric and shortest-exact float digits.
        for file in [&ndjson, &array] {
            let text = String::from_utf8(file.clone()).unwrap();
            for digits in [
                r#""num":123456789012345678901234567890.123456789012345678901234567890"#,
                r#""num(20,6)":99999999999999.999999"#,
                r#""r":3.4028235e+38"#,
                r#""d":1.7976931348623157e+308"#,
                r#""d":5e-324"#,
                r#""select":-9223372036854775808"#,
                r#""num":"NaN""#,
                // jsonb's own key order and spacing, json's text verbatim.
                r#""jb":{"a": 2, "b": "last wins", "s": "esc \" \\ \n \t é 🚀", "bb": 1, "ccc": {"y": [true, false], "z": 1}}"#,
                r#""j":[1, 2.50, "x", true, null, {"k": []}]"#,
                r#""d":"-Infinity""#,
            ] {
                assert!(text.contains(digits), "{digits} in the JSON file");
            }
        }
    }
    // The zone shows in timestamptz values, in both text and JSON renderings.
    let (_, ny) = export_ok(&env, &key, &request("ndjson", Some("America/New_York"))).await;
    let ny = String::from_utf8(ny).unwrap();
    assert!(
        ny.contains(r#""tstz":"2024-03-10T01:59:59.999999-05:00""#),
        "{ny:.2000}"
    );
    assert!(ny.contains(r#""tstz":"2024-11-03T01:30:00-04:00""#));
    env.stop().await;
}

#[tokio::test]
async fn unknown_time_zones_are_refused_and_known_ones_in_any_case_are_not() {
    let env = golden_env().await;
    let key = env.api_key("acme").await;
    // "CEST" is an abbreviation PostgreSQL knows for input but refuses as
    // the session TimeZone, so the export could never run.
    for zone in [
        "Mars/Olympus",
        "CEST",
        "UTC'; SELECT 1; --",
        "",
        "Not A Zone",
    ] {
        let res = env
            .post_export(&key, &json!({"dataset": "golden", "timezone": zone}))
            .await;
        assert_eq!(res.status(), 422, "timezone {zone:?}");
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["code"], "invalid-timezone", "{problem}");
        assert!(problem["detail"].as_str().unwrap().contains("timezone"));
    }
    // PostgreSQL accepts zone names in any case and POSIX offsets.
    for zone in ["america/new_york", "Europe/Berlin", "+05:30"] {
        let (export, body) = export_ok(
            &env,
            &key,
            &json!({"dataset": "golden", "timezone": zone, "columns": ["id", "tstz"]}),
        )
        .await;
        let expected = copy_in_zone(
            &env,
            zone,
            "COPY (SELECT id, tstz FROM golden ORDER BY id) TO STDOUT (FORMAT csv, HEADER)",
        )
        .await;
        assert_eq!(
            String::from_utf8(body).unwrap(),
            String::from_utf8(expected).unwrap(),
            "timezone {zone}"
        );
        assert_eq!(export["status"], "succeeded");
    }
    env.stop().await;
}
