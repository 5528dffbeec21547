//! Multi-tenant safety: API keys, tenant isolation (also inside the SQL the
//! worker runs), signed download links, hostile input, idempotency under
//! concurrency, quotas, rate limits and the tenant-scoped list.

use haul_core::Signer;
use haul_tests::{TestEnv, TestOptions};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;

const EVENTS: &str = "CREATE TABLE events (id bigint PRIMARY KEY, kind text, at timestamptz);
    INSERT INTO events SELECT i, 'k' || (i % 3), timestamptz '2024-01-01' + i * interval '1 hour' FROM generate_series(1, 300) i;
    CREATE TABLE canary (note text); INSERT INTO canary VALUES ('still here');";

fn events() -> TestOptions {
    let mut o = TestOptions::default().dataset("events", "public.events", &["id"]);
    o.datasets.get_mut("events").unwrap().filterable = vec!["kind".into(), "at".into()];
    o
}

fn queued_only(o: TestOptions) -> TestOptions {
    TestOptions {
        workers: false,
        ..o
    }
}

/// Asserts the answer is problem+json with `status` and `code`; returns it.
async fn expect_problem(res: reqwest::Response, status: u16, code: &str) -> Value {
    let got = res.status().as_u16();
    let ct = res.headers()["content-type"].to_str().unwrap().to_string();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{body}");
    assert_eq!(ct, "application/problem+json", "{body}");
    for field in ["type", "title", "detail"] {
        assert!(body[field].is_string(), "problem lacks {field}: {body}");
    }
    body
}

async fn count(env: &TestEnv, sql: &str) -> i64 {
    env.source.query_one(sql, &[]).await.unwrap().get(0)
}

async fn send(env: &TestEnv, method: reqwest::Method, key: &str, path: &str) -> reqwest::Response {
    env.http
        .request(method, env.url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn api_keys_are_random_hashed_listed_without_secrets_and_revoked_at_once() {
    let env = TestEnv::start(EVENTS, queued_only(events())).await;
    let keys = [env.api_key("acme").await, env.api_key("acme").await];
    let meta = haul_db::MetaDb::connect(&env.db_url, 1).await.unwrap();
    for key in &keys {
        // 43 base62 characters: 256 bits from the CSPRNG.
        assert_eq!(key.len(), 43);
        assert!(key.bytes().all(|b| b.is_ascii_alphanumeric()), "{key}");
        let stored: Vec<u8> = env
            .source
            .query_one(
                "SELECT key_hash FROM haul.api_keys WHERE prefix = $1",
                &[&&key[..8]],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            hex::encode(stored),
            haul_tests::env::sha256_hex(key.as_bytes())
        );
    }
    assert_ne!(keys[0], keys[1]);
    let table: String = env
        .source
        .query_one(
            "SELECT string_agg(row_to_json(k)::text, '') FROM haul.api_keys k",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let listing = haul::keys::list(&meta).await.unwrap();
    for key in &keys {
        assert!(!table.contains(key.as_str()), "the key itself is stored");
        assert!(!listing.contains(key.as_str()), "`keys list` shows a key");
        assert!(listing.contains(&key[..8]), "{listing}");
    }
    assert!(
        listing.contains("acme") && listing.contains("CREATED"),
        "{listing}"
    );

    // The right prefix with a wrong remainder is refused.
    let mut wrong = keys[0].clone();
    wrong.replace_range(42.., if wrong.ends_with('a') { "b" } else { "a" });
    let res = send(&env, reqwest::Method::GET, &wrong, "/v1/datasets").await;
    expect_problem(res, 401, "unauthorized").await;

    assert_eq!(
        send(&env, reqwest::Method::GET, &keys[0], "/v1/datasets")
            .await
            .status(),
        200
    );
    haul::keys::revoke(&meta, &keys[0][..8]).await.unwrap();
    // The key was just used, so the API has it cached: the revocation must
    // reach it through the key-change announcement (its TTL is 30 s).
    assert_eq!(
        env.status_within(&keys[0], "/v1/datasets", 401, Duration::from_secs(2))
            .await,
        401
    );
    let res = send(&env, reqwest::Method::GET, &keys[0], "/v1/datasets").await;
    expect_problem(res, 401, "unauthorized").await;
    assert_eq!(
        send(&env, reqwest::Method::GET, &keys[1], "/v1/datasets")
            .await
            .status(),
        200,
        "revoking one key leaves the tenant's others alone"
    );
    assert!(
        haul::keys::list(&meta)
            .await
            .unwrap()
            .lines()
            .any(|l| l.starts_with(&keys[0][..8]) && !l.trim_end().ends_with('-')),
        "the listing shows when the key was revoked"
    );
    assert!(haul::keys::revoke(&meta, &keys[0][..8]).await.is_err());
    env.stop().await;
}

#[tokio::test]
async fn another_tenants_export_looks_missing_on_every_route() {
    let env = TestEnv::start(EVENTS, events()).await;
    let acme = env.api_key("acme").await;
    let globex = env.api_key("globex").await;
    let id = env
        .create_export(&acme, &json!({"dataset": "events"}))
        .await;
    let done = env.wait_until_done(&acme, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let missing = uuid::Uuid::now_v7();

    use reqwest::Method;
    for (method, suffix) in [
        (Method::GET, ""),
        (Method::GET, "/download"),
        (Method::DELETE, ""),
    ] {
        let theirs = send(
            &env,
            method.clone(),
            &globex,
            &format!("/v1/exports/{id}{suffix}"),
        )
        .await;
        let theirs = expect_problem(theirs, 404, "export-not-found").await;
        let none = send(
            &env,
            method.clone(),
            &globex,
            &format!("/v1/exports/{missing}{suffix}"),
        )
        .await;
        let none = expect_problem(none, 404, "export-not-found").await;
        assert_eq!(
            theirs, none,
            "{method} {suffix}: differs from a missing export"
        );
    }
    let (_, list) = env.get_json(&globex, "/v1/exports").await;
    assert_eq!(list["exports"], json!([]), "{list}");
    let (_, list) = env.get_json(&acme, "/v1/exports").await;
    assert_eq!(list["exports"][0]["id"], id.as_str());

    // globex's DELETE changed nothing, and the link still works for anyone holding it.
    let (_, again) = env.get_json(&acme, &format!("/v1/exports/{id}")).await;
    assert_eq!(again["status"], "succeeded");
    let link = again["links"]["download"].as_str().unwrap();
    assert_eq!(env.http.get(link).send().await.unwrap().status(), 303);
    // A Bearer key of another tenant does not borrow the link's rights.
    let res = env
        .http
        .get(link)
        .bearer_auth(&globex)
        .send()
        .await
        .unwrap();
    expect_problem(res, 404, "export-not-found").await;
    env.stop().await;
}

#[tokio::test]
async fn tenant_column_limits_rows_in_the_sql_the_worker_runs() {
    // `guarded` divides by zero when it computes a row of tenant globex: an
    // export of acme's rows through it only succeeds if the tenant condition
    // is part of the query, so globex's rows are never read into the result.
    let setup = "CREATE TABLE shared (id bigint PRIMARY KEY, tenant_id text NOT NULL, amount int);
        INSERT INTO shared SELECT i, (ARRAY['acme', 'globex', 'initech'])[i % 3 + 1], i * 7 FROM generate_series(1, 3000) i;
        CREATE VIEW guarded AS SELECT id, tenant_id, amount, 1 / (tenant_id <> 'globex')::int AS one FROM shared;";
    let mut opts = TestOptions::default()
        .dataset("shared", "public.shared", &["id"])
        .dataset("guarded", "public.guarded", &["id"]);
    for ds in opts.datasets.values_mut() {
        ds.tenant_column = Some("tenant_id".into());
    }
    let env = TestEnv::start(setup, opts).await;
    for tenant in ["acme", "globex"] {
        let key = env.api_key(tenant).await;
        let id = env.create_export(&key, &json!({"dataset": "shared"})).await;
        let done = env.wait_until_done(&key, &id).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        let expected = env
            .copy(&format!(
                "COPY (SELECT * FROM shared WHERE tenant_id = '{tenant}' ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)"
            ))
            .await;
        assert_eq!(done["result"]["rows"], 1000);
        assert!(env.download_bytes(&key, &id).await == expected, "{tenant}");
    }
    let acme = env.api_key("acme").await;
    let id = env
        .create_export(&acme, &json!({"dataset": "guarded"}))
        .await;
    let done = env.wait_until_done(&acme, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let expected = env
        .copy("COPY (SELECT * FROM guarded WHERE tenant_id = 'acme' ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)")
        .await;
    assert!(env.download_bytes(&acme, &id).await == expected);
    env.stop().await;
}

#[tokio::test]
async fn download_links_are_signed_bound_expiring_and_presigned_afresh() {
    let env = TestEnv::start(EVENTS, events()).await;
    let acme = env.api_key("acme").await;
    let first = env
        .create_export(&acme, &json!({"dataset": "events"}))
        .await;
    let second = env
        .create_export(&acme, &json!({"dataset": "events", "format": "ndjson"}))
        .await;
    let first_export = env.wait_until_done(&acme, &first).await;
    env.wait_until_done(&acme, &second).await;
    let link = first_export["links"]["download"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(link.starts_with(&format!(
        "{}/v1/exports/{first}/download?token=",
        env.base_url
    )));
    let token = link.split_once("token=").unwrap().1.to_string();
    let download = |id: &str, token: &str| {
        env.http
            .get(env.url(&format!("/v1/exports/{id}/download")))
            .query(&[("token", token)])
            .send()
    };

    // The link works without a key, and each call presigns a new URL.
    let a = download(&first, &token).await.unwrap();
    assert_eq!(a.status(), 303);
    assert_eq!(a.headers()["cache-control"], "no-store");
    // SigV4 signs with a one-second clock: the next second must sign anew.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let b = download(&first, &token).await.unwrap();
    let (a, b) = (
        a.headers()["location"].to_str().unwrap().to_string(),
        b.headers()["location"].to_str().unwrap().to_string(),
    );
    assert_ne!(a, b, "the redirect target is presigned on every request");
    let expected = env
        .copy("COPY (SELECT * FROM events ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)")
        .await;
    for url in [a, b] {
        assert!(
            env.http
                .get(url)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                == expected
        );
    }

    // Altered: each part of the token, one character changed.
    let (payload, tag) = token.split_once('.').unwrap();
    let flip = |s: &str| {
        let mut c: Vec<char> = s.chars().collect();
        c[1] = if c[1] == 'A' { 'B' } else { 'A' };
        c.into_iter().collect::<String>()
    };
    for altered in [
        format!("{}.{tag}", flip(payload)),
        format!("{payload}.{}", flip(tag)),
        format!("{payload}.{tag}x"),
        payload.to_string(),
        String::new(),
        "' OR 1=1 --".to_string(),
    ] {
        let res = download(&first, &altered).await.unwrap();
        expect_problem(res, 403, "invalid-token").await;
    }
    // Foreign: the first export's token on the second export.
    expect_problem(
        download(&second, &token).await.unwrap(),
        403,
        "invalid-token",
    )
    .await;
    // Expired: a correctly signed grant whose time has passed.
    let signer = Signer::new(env.settings.auth.signing_secret.as_bytes());
    let grant = |exp: i64| signer.seal("download", &json!({"id": first, "t": "acme", "exp": exp}));
    let now = chrono_now();
    assert_eq!(
        download(&first, &grant(now + 60)).await.unwrap().status(),
        303
    );
    let body = expect_problem(
        download(&first, &grant(now - 1)).await.unwrap(),
        403,
        "invalid-token",
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("expired"),
        "{body}"
    );
    // Neither key nor token.
    let res = env
        .http
        .get(env.url(&format!("/v1/exports/{first}/download")))
        .send()
        .await
        .unwrap();
    expect_problem(res, 401, "unauthorized").await;
    env.stop().await;
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

const INJECTION: &str = "'; DROP TABLE canary; --";

#[tokio::test]
async fn sql_injection_through_every_field_is_refused_before_the_database() {
    let env = TestEnv::start(EVENTS, queued_only(events())).await;
    let acme = env.api_key("acme").await;
    let globex = env.api_key("globex").await;
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"dataset": format!("events{INJECTION}")}),
            "dataset-not-found",
        ),
        (
            json!({"dataset": "events\"; DROP TABLE canary; --"}),
            "dataset-not-found",
        ),
        (
            json!({"dataset": "events", "columns": ["id", format!("kind{INJECTION}")]}),
            "column-not-found",
        ),
        (
            json!({"dataset": "events", "columns": ["id\", (SELECT 1) AS \"x"]}),
            "column-not-found",
        ),
        (
            json!({"dataset": "events", "filter": {format!("kind{INJECTION}"): {"eq": "x"}}}),
            "column-not-found",
        ),
        (
            json!({"dataset": "events", "filter": {"id": {"eq": "1"}}}),
            "column-not-filterable",
        ),
        (
            json!({"dataset": "events", "filter": {"kind": {format!("eq{INJECTION}"): "x"}}}),
            "unknown-filter-operator",
        ),
        (
            json!({"dataset": "events", "filter": {"kind": {"= 'x' OR 1=1 --": "x"}}}),
            "unknown-filter-operator",
        ),
        (
            json!({"dataset": "events", "filter": {"at": {"gte": format!("2024-01-01{INJECTION}")}}}),
            "invalid-filter-value",
        ),
        (
            json!({"dataset": "events", "filter": {"at": {"in": ["2024-01-01", format!("x{INJECTION}")]}}}),
            "invalid-filter-value",
        ),
        (
            json!({"dataset": "events", "filter": {"kind": {"eq": "a\u{0}b"}}}),
            "invalid-filter-value",
        ),
        (
            json!({"dataset": "events", "since": INJECTION}),
            "invalid-since",
        ),
        (
            json!({"dataset": "events", "since": "eyJkIjoiZXZlbnRzIiwidCI6ImFjbWUiLCJrIjpbIjEnOyBEUk9QIFRBQkxFIGNhbmFyeTsgLS0iXX0.AAAA"}),
            "invalid-since",
        ),
        (
            json!({"dataset": "events", "filename": format!("x{INJECTION}")}),
            "invalid-filename",
        ),
        (
            json!({"dataset": "events", "filename": "../../etc/passwd"}),
            "invalid-filename",
        ),
        (
            json!({"dataset": "events", "timezone": format!("UTC{INJECTION}")}),
            "invalid-timezone",
        ),
        (
            json!({"dataset": "events", "timezone": "UTC'::text)--"}),
            "invalid-timezone",
        ),
        (
            json!({"dataset": "events", "timezone": "Mars/Olympus_Mons"}),
            "invalid-timezone",
        ),
        (
            json!({"dataset": "events", "format": format!("csv{INJECTION}")}),
            "format-not-supported",
        ),
        (
            json!({"dataset": "events", "compression": format!("gzip{INJECTION}")}),
            "compression-not-supported",
        ),
        (
            json!({"dataset": "events", "sql": "SELECT 1"}),
            "invalid-request",
        ),
        (
            json!({"dataset": "events", "columns": "id; DROP TABLE canary"}),
            "invalid-request",
        ),
        (
            json!({"dataset": "events", "columns": vec!["id"; 1601]}),
            "too-many-columns",
        ),
        (
            json!({"dataset": "events", "filter": {"kind": {"in": vec!["x"; 1001]}}}),
            "invalid-filter-value",
        ),
    ];
    for (body, code) in &cases {
        let res = env.post_export(&acme, body).await;
        expect_problem(res, 422, code).await;
    }

    // Cursors are authenticated: one of another tenant or dataset is refused.
    let signer = Signer::new(env.settings.auth.signing_secret.as_bytes());
    let since = |d: &str, t: &str| signer.seal("since", &json!({"d": d, "t": t, "k": ["10"]}));
    for (cursor, code) in [
        (since("events", "globex"), "invalid-since"),
        (since("orders", "acme"), "invalid-since"),
        (
            signer.seal(
                "download",
                &json!({"d": "events", "t": "acme", "k": ["10"]}),
            ),
            "invalid-since",
        ),
    ] {
        let res = env
            .post_export(&acme, &json!({"dataset": "events", "since": cursor}))
            .await;
        expect_problem(res, 422, code).await;
    }
    assert_eq!(count(&env, "SELECT count(*) FROM haul.exports").await, 0);

    // A hostile value for a text column is just a value: the export is
    // accepted, and the value reaches SQL only as a quoted literal.
    let id = env
        .create_export(
            &globex,
            &json!({"dataset": "events", "filter": {"kind": {"eq": INJECTION}}}),
        )
        .await;
    let list_cases = [
        ("status", format!("queued{INJECTION}"), "invalid-status"),
        ("limit", "0".to_string(), "invalid-limit"),
        ("cursor", id.clone(), "invalid-cursor"),
        ("cursor", INJECTION.to_string(), "invalid-cursor"),
    ];
    for (name, value, code) in list_cases {
        let res = env
            .http
            .get(env.url("/v1/exports"))
            .bearer_auth(&acme)
            .query(&[(name, value)])
            .send()
            .await
            .unwrap();
        expect_problem(res, 422, code).await;
    }
    let res = send(
        &env,
        reqwest::Method::GET,
        &acme,
        &format!("/v1/exports/{id}{INJECTION}"),
    )
    .await;
    expect_problem(res, 404, "export-not-found").await;
    assert_eq!(count(&env, "SELECT count(*) FROM haul.exports").await, 1);
    assert_eq!(count(&env, "SELECT count(*) FROM canary").await, 1);
    env.stop().await;
}

#[tokio::test]
async fn hostile_filter_values_are_matched_as_plain_data() {
    let setup = r#"CREATE TABLE notes (id int PRIMARY KEY, body text);
        INSERT INTO notes VALUES (1, 'plain'), (2, 'it''s'), (3, 'back\slash\'), (4, '''; DROP TABLE notes; --'),
            (5, E'tab\there\nnewline'), (6, 'ünïcødé ✓ 𝄞'), (7, '$$dollar$$'), (8, '"double"'), (9, '\x27');"#;
    let mut opts = TestOptions::default().dataset("notes", "public.notes", &["id"]);
    opts.datasets.get_mut("notes").unwrap().filterable = vec!["body".into()];
    let env = TestEnv::start(setup, opts).await;
    let key = env.api_key("acme").await;
    let rows = env
        .source
        .query("SELECT id, body FROM notes ORDER BY id", &[])
        .await
        .unwrap();
    for row in rows {
        let (id, body): (i32, String) = (row.get(0), row.get(1));
        let export = env
            .create_export(
                &key,
                &json!({"dataset": "notes", "filter": {"body": {"eq": body}}}),
            )
            .await;
        let done = env.wait_until_done(&key, &export).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        let expected = env
            .copy(&format!(
                "COPY (SELECT * FROM notes WHERE id = {id}) TO STDOUT WITH (FORMAT csv, HEADER)"
            ))
            .await;
        assert!(
            env.download_bytes(&key, &export).await == expected,
            "value {body:?}"
        );
    }
    assert_eq!(count(&env, "SELECT count(*) FROM notes").await, 9);
    env.stop().await;
}

#[tokio::test]
async fn sql_literals_round_trip_through_postgres() {
    use haul_db::source::sql::{ident, literal, typed_literal};
    let client = haul_tests::pg::connect(&haul_tests::pg::admin_url()).await;
    // The encoder relies on this setting, which Haul sets on every source session.
    client
        .batch_execute("SET standard_conforming_strings = on")
        .await
        .unwrap();
    let nasty = [
        "",
        "'",
        "''",
        "\\",
        "\\'",
        "'\\",
        "a'b\"c",
        "'); DROP TABLE x; --",
        "$$",
        "$tag$ x $tag$",
        "\n\r\t",
        "E'\\x41'",
        "ünïcødé ✓ 𝄞 \u{202e}",
        "\u{feff}bom",
        "-- comment",
        "/* open",
    ];
    for value in nasty {
        // A zero-length identifier is not valid SQL at all.
        let name = if value.is_empty() {
            ident("x")
        } else {
            ident(value)
        };
        let sql = format!(
            "SELECT {}, {}::text AS {name}",
            literal(value),
            typed_literal(value, "text"),
        );
        let rows = client.simple_query(&sql).await.unwrap();
        let row = rows
            .iter()
            .find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => Some(r),
                _ => None,
            })
            .unwrap();
        assert_eq!(row.get(0), Some(value), "literal of {value:?}");
        assert_eq!(row.get(1), Some(value), "typed literal of {value:?}");
        if !value.is_empty() {
            assert_eq!(row.columns()[1].name(), value, "identifier {value:?}");
        }
    }
    let nul = std::panic::catch_unwind(|| literal("a\0b"));
    assert!(nul.is_err(), "NUL is refused, never truncated");
}

#[tokio::test]
async fn concurrent_requests_with_one_idempotency_key_create_one_export() {
    let env = TestEnv::start(
        EVENTS,
        queued_only(events()).with(|s| s.exports.max_active_per_tenant = 3),
    )
    .await;
    let acme = env.api_key("acme").await;
    let body = json!({"dataset": "events", "filter": {"kind": {"eq": "k1"}}});
    let post = |key: &'static str, body: Value| {
        let req = env
            .http
            .post(env.url("/v1/exports"))
            .bearer_auth(&acme)
            .header("Idempotency-Key", key)
            .json(&body);
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let location = res
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_string());
            let body: Value = res.json().await.unwrap();
            (status, location, body)
        }
    };
    let answers = futures::future::join_all((0..10).map(|_| post("same-key", body.clone()))).await;
    let ids: HashSet<_> = answers.iter().map(|(_, _, b)| b["id"].clone()).collect();
    assert_eq!(ids.len(), 1, "{answers:?}");
    let id = answers[0].2["id"].as_str().unwrap().to_string();
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
    statuses.sort();
    assert_eq!(statuses, [vec![200; 9], vec![202]].concat());
    for (_, location, _) in &answers {
        assert_eq!(
            location.as_deref(),
            Some(format!("/v1/exports/{id}").as_str())
        );
    }
    let stored = count(
        &env,
        "SELECT count(*) FROM haul.exports WHERE idempotency_key = 'same-key'",
    )
    .await;
    assert_eq!(stored, 1);
    let jobs = count(&env, "SELECT count(*) FROM haul.exports").await;
    assert_eq!(jobs, 1);

    // The same key with another body is refused; a new key is a new export.
    let (status, _, problem) = post("same-key", json!({"dataset": "events"})).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("idempotency-key-reused"))
    );
    let (status, _, other) = post("other-key", body.clone()).await;
    assert_eq!(status, 202);
    assert_ne!(other["id"], id.as_str());
    // A replay is answered even when the tenant is at its quota.
    post("third-key", body.clone()).await;
    let (status, _, _) = post("fourth-key", body.clone()).await;
    assert_eq!(status, 429);
    let (status, _, again) = post("same-key", body.clone()).await;
    assert_eq!((status, again["id"].as_str()), (200, Some(id.as_str())));

    // Another tenant's identical key is its own.
    let globex = env.api_key("globex").await;
    let res = env
        .http
        .post(env.url("/v1/exports"))
        .bearer_auth(&globex)
        .header("Idempotency-Key", "same-key")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);

    // After 24 hours the key is forgotten and names a new export.
    env.source
        .batch_execute("UPDATE haul.exports SET created_at = now() - interval '25 hours', status = 'cancelled'")
        .await
        .unwrap();
    let (status, _, fresh) = post("same-key", json!({"dataset": "events"})).await;
    assert_eq!(status, 202, "{fresh}");
    assert_ne!(fresh["id"], id.as_str());

    let res = env
        .http
        .post(env.url("/v1/exports"))
        .bearer_auth(&acme)
        .header("Idempotency-Key", "k".repeat(256))
        .json(&body)
        .send()
        .await
        .unwrap();
    expect_problem(res, 422, "invalid-idempotency-key").await;
    env.stop().await;
}

#[tokio::test]
async fn active_export_quota_answers_429_with_retry_after() {
    let env = TestEnv::start(
        EVENTS,
        queued_only(events()).with(|s| s.exports.max_active_per_tenant = 2),
    )
    .await;
    let acme = env.api_key("acme").await;
    let globex = env.api_key("globex").await;
    let body = json!({"dataset": "events"});
    let first = env.create_export(&acme, &body).await;
    env.create_export(&acme, &body).await;
    let res = env.post_export(&acme, &body).await;
    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    let problem = expect_problem(res, 429, "too-many-active-exports").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("limit 2"),
        "{problem}"
    );
    // Quotas are per tenant; a cancelled export frees its slot.
    env.create_export(&globex, &body).await;
    let res = send(
        &env,
        reqwest::Method::DELETE,
        &acme,
        &format!("/v1/exports/{first}"),
    )
    .await;
    assert_eq!(res.status(), 202);
    env.create_export(&acme, &body).await;
    assert_eq!(count(&env, "SELECT count(*) FROM haul.exports").await, 4);
    env.stop().await;
}

#[tokio::test]
async fn concurrent_requests_never_pass_the_quota_together() {
    let env = TestEnv::start(
        EVENTS,
        queued_only(events()).with(|s| s.exports.max_active_per_tenant = 3),
    )
    .await;
    let acme = env.api_key("acme").await;
    let body = json!({"dataset": "events"});
    let answers = futures::future::join_all((0..12).map(|_| env.post_export(&acme, &body))).await;
    let mut statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses, [vec![202; 3], vec![429; 9]].concat());
    assert_eq!(count(&env, "SELECT count(*) FROM haul.exports").await, 3);
    // Each queued export has exactly one job, and a refused one has none.
    let jobs = count(
        &env,
        "SELECT count(*) FROM apalis.jobs j JOIN haul.exports e ON j.idempotency_key = e.id::text",
    )
    .await;
    assert_eq!(jobs, 3);
    assert_eq!(count(&env, "SELECT count(*) FROM apalis.jobs").await, 3);
    env.stop().await;
}

#[tokio::test]
async fn per_key_rate_limit_answers_429_with_retry_after() {
    let env = TestEnv::start(
        EVENTS,
        queued_only(events()).with(|s| {
            s.server.rate_limit_per_second = 1;
            s.server.rate_limit_burst = 3;
        }),
    )
    .await;
    let acme = env.api_key("acme").await;
    let other = env.api_key("acme").await;
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..10 {
        let res = send(&env, reqwest::Method::GET, &acme, "/v1/exports").await;
        statuses.push(res.status().as_u16());
        if res.status() == 429 && limited.is_none() {
            let retry_after: u64 = res.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            expect_problem(res, 429, "rate-limited").await;
            limited = Some(retry_after);
        }
    }
    assert_eq!(statuses[..3], [200, 200, 200], "the burst passes");
    let retry_after = limited.unwrap_or_else(|| panic!("never limited: {statuses:?}"));
    assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
    // Each key has its own bucket, and waiting refills it.
    assert_eq!(
        send(&env, reqwest::Method::GET, &other, "/v1/exports")
            .await
            .status(),
        200
    );
    tokio::time::sleep(std::time::Duration::from_secs(retry_after)).await;
    assert_eq!(
        send(&env, reqwest::Method::GET, &acme, "/v1/exports")
            .await
            .status(),
        200
    );
    env.stop().await;
}

#[tokio::test]
async fn list_pages_by_keyset_filters_by_status_and_stays_in_the_tenant() {
    let env = TestEnv::start(
        EVENTS,
        queued_only(events()).with(|s| s.exports.max_active_per_tenant = 100),
    )
    .await;
    let acme = env.api_key("acme").await;
    let globex = env.api_key("globex").await;
    let mut created = Vec::new();
    for _ in 0..11 {
        created.push(
            env.create_export(&acme, &json!({"dataset": "events"}))
                .await,
        );
    }
    for _ in 0..2 {
        env.create_export(&globex, &json!({"dataset": "events"}))
            .await;
    }
    let cancelled: Vec<String> = created.iter().step_by(4).cloned().collect();
    for id in &cancelled {
        let res = send(
            &env,
            reqwest::Method::DELETE,
            &acme,
            &format!("/v1/exports/{id}"),
        )
        .await;
        assert_eq!(res.status(), 202);
    }

    let pages = |status: Option<&'static str>| {
        let env = &env;
        let acme = acme.clone();
        async move {
            let mut seen = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let mut query = vec![("limit", "3".to_string())];
                if let Some(s) = status {
                    query.push(("status", s.to_string()));
                }
                if let Some(c) = &cursor {
                    query.push(("cursor", c.clone()));
                }
                let res = env
                    .http
                    .get(env.url("/v1/exports"))
                    .bearer_auth(&acme)
                    .query(&query)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
                let page: Value = res.json().await.unwrap();
                let exports = page["exports"].as_array().unwrap();
                assert!(exports.len() <= 3);
                for e in exports {
                    if let Some(s) = status {
                        assert_eq!(e["status"], s);
                    }
                    seen.push(e["id"].as_str().unwrap().to_string());
                }
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_string()),
                    None => return seen,
                }
            }
        }
    };
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();
    assert_eq!(
        pages(None).await,
        newest_first,
        "no repeats, no misses, newest first"
    );
    let mut expected: Vec<String> = cancelled.iter().rev().cloned().collect();
    assert_eq!(pages(Some("cancelled")).await, expected);
    expected = newest_first
        .iter()
        .filter(|id| !cancelled.contains(id))
        .cloned()
        .collect();
    assert_eq!(pages(Some("queued")).await, expected);
    assert!(pages(Some("succeeded")).await.is_empty());

    // A cursor is authenticated: altered, it is refused.
    let (_, first) = env.get_json(&acme, "/v1/exports?limit=2").await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let last = if cursor.ends_with('A') { "B" } else { "A" };
    let tampered = format!("{}{last}", &cursor[..cursor.len() - 1]);
    let res = env
        .http
        .get(env.url("/v1/exports"))
        .bearer_auth(&acme)
        .query(&[("cursor", tampered.as_str())])
        .send()
        .await
        .unwrap();
    expect_problem(res, 422, "invalid-cursor").await;
    // Another tenant's genuine cursor is refused too.
    let (_, theirs) = env.get_json(&globex, "/v1/exports?limit=1").await;
    let res = env
        .http
        .get(env.url("/v1/exports"))
        .bearer_auth(&acme)
        .query(&[("cursor", theirs["next_cursor"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    expect_problem(res, 422, "invalid-cursor").await;
    env.stop().await;
}
