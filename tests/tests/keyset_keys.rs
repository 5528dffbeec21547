//! Keyset pagination over every kind of key, with pages of 7 rows so that an
//! export takes well over a hundred page steps: single and composite keys of
//! int, bigint, text (the database's collation and an ICU collation, with
//! values whose order differs between the two), uuid and timestamptz, and
//! adversarial values (hundreds of rows sharing the leading column of a
//! composite key, fifty rows sharing each timestamp). Each export must equal
//! PostgreSQL's `COPY … ORDER BY key`: no row skipped, repeated or moved.

use haul_tests::golden::{copy_in_zone, export_ok};
use haul_tests::{TestEnv, TestOptions};
use serde_json::json;

/// Strings whose order differs between C and ICU collations: case, accents,
/// punctuation, spaces, digits, ligatures, non-BMP, quotes and backslashes.
const TEXT_VALUES: &str = r#"ARRAY['a', 'A', 'á', 'ä', 'b', 'B', 'a b', 'a-b', 'ab', '_x', '-x', '10', '9', 'É', 'e', 'E',
  'ß', 'ss', '', ' a', 'a ', 'Ω', '🚀', 'it''s', 'back\slash', 'quote"d', 'Z', 'z', 'ǅ', 'ﬁ', 'fi']"#;

fn setup() -> String {
    format!(
        r#"
CREATE TABLE k_int (id int PRIMARY KEY, v text);
INSERT INTO k_int SELECT i * 3 - 1500, md5(i::text) FROM generate_series(1, 1000) AS i;

CREATE TABLE k_bigint (id bigint PRIMARY KEY, v text);
INSERT INTO k_bigint SELECT i * 18014398509481 - 9000000000000000000, md5(i::text) FROM generate_series(1, 1000) AS i;
INSERT INTO k_bigint VALUES (-9223372036854775808, 'min'), (9223372036854775807, 'max'), (0, 'zero'), (-1, 'minus one');

CREATE TABLE k_text (k text PRIMARY KEY, v int);
INSERT INTO k_text SELECT b || CASE WHEN i = 0 THEN '' ELSE '#' || i END, i
  FROM unnest({TEXT_VALUES}) AS b, generate_series(0, 39) AS i;

CREATE TABLE k_text_icu (k text COLLATE "en-x-icu" PRIMARY KEY, v int);
INSERT INTO k_text_icu SELECT k, v FROM k_text;

CREATE TABLE k_uuid (u uuid PRIMARY KEY, v int);
INSERT INTO k_uuid SELECT gen_random_uuid(), i FROM generate_series(1, 1000) AS i;
INSERT INTO k_uuid VALUES ('00000000-0000-0000-0000-000000000000', -1), ('ffffffff-ffff-ffff-ffff-ffffffffffff', -2);

-- Around the America/New_York DST switch (07:00 UTC), microsecond steps.
CREATE TABLE k_tstz (at timestamptz PRIMARY KEY, v int);
INSERT INTO k_tstz SELECT timestamptz '2024-03-10 06:59:00+00' + i * interval '0.120001 seconds', i
  FROM generate_series(1, 1000) AS i;
INSERT INTO k_tstz VALUES ('-infinity', -1), ('infinity', -2), ('4713-01-01 00:00:00+00 BC', -3);

-- Composite keys whose leading column repeats hundreds of times.
CREATE TABLE k_grp (grp text COLLATE "en-x-icu" NOT NULL, n int NOT NULL, v text, PRIMARY KEY (grp, n));
INSERT INTO k_grp SELECT g, n, g || n FROM unnest(ARRAY['a', 'A', 'á', 'b b']) AS g, generate_series(1, 300) AS n;

CREATE TABLE k_at (at timestamptz NOT NULL, id bigint NOT NULL, v int, PRIMARY KEY (at, id));
INSERT INTO k_at SELECT timestamptz '2024-11-03 05:59:59.999999+00' + (i / 50) * interval '1 hour', 5000 - i, i
  FROM generate_series(0, 999) AS i;

CREATE TABLE k_text_int (k text NOT NULL, id int NOT NULL, v int, PRIMARY KEY (k, id));
INSERT INTO k_text_int SELECT b, i, i FROM unnest({TEXT_VALUES}) AS b, generate_series(-20, 19) AS i;

CREATE TABLE k_uuid_bigint (u uuid NOT NULL, id bigint NOT NULL, PRIMARY KEY (u, id));
INSERT INTO k_uuid_bigint SELECT ('00000000-0000-4000-8000-00000000000' || (i % 3))::uuid, i FROM generate_series(1, 900) AS i;
"#
    )
}

/// (dataset, key columns)
const SINGLE: [(&str, &[&str]); 6] = [
    ("k_int", &["id"]),
    ("k_bigint", &["id"]),
    ("k_text", &["k"]),
    ("k_text_icu", &["k"]),
    ("k_uuid", &["u"]),
    ("k_tstz", &["at"]),
];
const COMPOSITE: [(&str, &[&str]); 4] = [
    ("k_grp", &["grp", "n"]),
    ("k_at", &["at", "id"]),
    ("k_text_int", &["k", "id"]),
    ("k_uuid_bigint", &["u", "id"]),
];

async fn keys_env(datasets: &[(&str, &[&str])]) -> TestEnv {
    let mut opts = TestOptions::default();
    for (name, key) in datasets {
        opts = opts.dataset(name, &format!("public.{name}"), key);
    }
    TestEnv::start(
        &setup(),
        opts.with(|s| {
            s.worker.page_rows = 7;
            s.worker.concurrency = 1;
        }),
    )
    .await
}

/// Exports every dataset in every zone and compares with COPY ORDER BY key.
async fn check_keys(env: &TestEnv, datasets: &[(&str, &[&str])]) {
    let key = env.api_key("acme").await;
    for (name, cols) in datasets {
        let order = cols
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let count: i64 = env
            .source
            .query_one(&format!("SELECT count(*) FROM {name}"), &[])
            .await
            .unwrap()
            .get(0);
        for zone in ["UTC", "America/New_York"] {
            let (export, file) =
                export_ok(env, &key, &json!({"dataset": name, "timezone": zone})).await;
            let expected = copy_in_zone(
                env,
                zone,
                &format!(
                    "COPY (SELECT * FROM {name} ORDER BY {order}) TO STDOUT (FORMAT csv, HEADER)"
                ),
            )
            .await;
            assert_eq!(export["result"]["rows"], count, "{name} in {zone}");
            assert!(
                file == expected,
                "{name} in {zone}: the export differs from COPY ORDER BY {order}"
            );
        }
    }
}

#[tokio::test]
async fn single_column_keys_page_through_every_row_once_in_key_order() {
    let env = keys_env(&SINGLE).await;
    // The ICU table's order really differs from the bytewise one, so the
    // collation of the keyset comparison matters.
    let icu = env
        .copy("COPY (SELECT k FROM k_text_icu ORDER BY k) TO STDOUT")
        .await;
    let bytewise = env
        .copy(r#"COPY (SELECT k FROM k_text_icu ORDER BY k COLLATE "C") TO STDOUT"#)
        .await;
    assert_ne!(icu, bytewise);
    check_keys(&env, &SINGLE).await;
    env.stop().await;
}

#[tokio::test]
async fn composite_keys_with_repeated_leading_values_page_through_every_row_once() {
    let env = keys_env(&COMPOSITE).await;
    check_keys(&env, &COMPOSITE).await;
    env.stop().await;
}
