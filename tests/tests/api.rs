//! The HTTP contract around exports: authentication, tenant isolation,
//! readiness, and the problem+json errors of bad requests.

use haul_tests::{TestEnv, TestOptions};
use serde_json::{Value, json};
use std::time::Duration;

const TABLE: &str = "CREATE TABLE events (id bigint PRIMARY KEY, kind text, at timestamptz);
    INSERT INTO events SELECT i, 'k' || (i % 3), timestamptz '2024-01-01' + i * interval '1 hour' FROM generate_series(1, 500) i;";

fn options() -> TestOptions {
    let mut o = TestOptions::default().dataset("events", "public.events", &["id"]);
    o.datasets.get_mut("events").unwrap().filterable = vec!["kind".into(), "at".into()];
    o
}

async fn problem(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let ct = res.headers()["content-type"].to_str().unwrap().to_string();
    assert_eq!(ct, "application/problem+json", "status {status}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], status);
    for field in ["type", "title", "detail", "code"] {
        assert!(body[field].is_string(), "problem lacks {field}: {body}");
    }
    (status, body)
}

#[tokio::test]
async fn keys_and_tenants_guard_every_route() {
    // No workers: exports stay queued, so "not ready" is observable.
    let env = TestEnv::start(
        TABLE,
        TestOptions {
            workers: false,
            ..options()
        },
    )
    .await;
    let acme = env.api_key("acme").await;
    let globex = env.api_key("globex").await;

    let anonymous = env
        .http
        .post(env.url("/v1/exports"))
        .json(&json!({"dataset": "events"}))
        .send()
        .await
        .unwrap();
    let (status, body) = problem(anonymous).await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (401, "unauthorized")
    );
    let forged = env
        .post_export(
            "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v",
            &json!({"dataset": "events"}),
        )
        .await;
    assert_eq!(problem(forged).await.0, 401);

    let id = env
        .create_export(&acme, &json!({"dataset": "events"}))
        .await;
    let (status, export) = env.get_json(&acme, &format!("/v1/exports/{id}")).await;
    assert_eq!(
        (status, export["status"].as_str().unwrap()),
        (200, "queued")
    );

    // Another tenant's export is indistinguishable from a missing one.
    for path in [
        format!("/v1/exports/{id}"),
        format!("/v1/exports/{id}/download"),
    ] {
        let res = env
            .http
            .get(env.url(&path))
            .bearer_auth(&globex)
            .send()
            .await
            .unwrap();
        let (status, body) = problem(res).await;
        assert_eq!(
            (status, body["code"].as_str().unwrap()),
            (404, "export-not-found"),
            "{path}"
        );
    }
    let missing = format!("/v1/exports/{}", uuid::Uuid::now_v7());
    let res = env
        .http
        .get(env.url(&missing))
        .bearer_auth(&acme)
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res).await.1["code"], "export-not-found");

    // Not finished yet: 409 naming the status.
    let res = env
        .http
        .get(env.url(&format!("/v1/exports/{id}/download")))
        .bearer_auth(&acme)
        .send()
        .await
        .unwrap();
    let (status, body) = problem(res).await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (409, "export-not-ready")
    );
    assert!(body["detail"].as_str().unwrap().contains("queued"));

    // Download without key or token: 401; with a forged token: 403.
    let res = env
        .http
        .get(env.url(&format!("/v1/exports/{id}/download")))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res).await.0, 401);
    let res = env
        .http
        .get(env.url(&format!("/v1/exports/{id}/download?token=abc.def")))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res).await.0, 403);

    // A revoked key stops working at once: the API drops it from its key
    // cache when the revocation is announced, long before the entry's
    // 30-second TTL would.
    let meta = haul_db::MetaDb::connect(&env.db_url, 1).await.unwrap();
    haul::keys::revoke(&meta, &acme[..8]).await.unwrap();
    let path = format!("/v1/exports/{id}");
    assert_eq!(
        env.status_within(&acme, &path, 401, Duration::from_secs(2))
            .await,
        401
    );
    env.stop().await;
}

#[tokio::test]
async fn bad_requests_get_specific_problems() {
    let env = TestEnv::start(
        TABLE,
        TestOptions {
            workers: false,
            ..options()
        }
        .with(|s| s.server.max_body = haul_core::units::Size(4096)),
    )
    .await;
    let key = env.api_key("acme").await;
    let cases = [
        (json!({"dataset": "nope"}), 422, "dataset-not-found", "nope"),
        (
            json!({"dataset": "events", "columns": ["id", "ghost"]}),
            422,
            "column-not-found",
            "ghost",
        ),
        (
            json!({"dataset": "events", "colour": "red"}),
            422,
            "invalid-request",
            "colour",
        ),
        (
            json!({"dataset": "events", "format": "xml"}),
            422,
            "format-not-supported",
            "xml",
        ),
        (
            json!({"dataset": "events", "filter": {"id": {"eq": 1}}}),
            422,
            "column-not-filterable",
            "filter.id",
        ),
        (
            json!({"dataset": "events", "filter": {"at": {"gte": "yesterday-ish"}}}),
            422,
            "invalid-filter-value",
            "filter.at",
        ),
        (
            json!({"dataset": "events", "timezone": "Mars/Olympus"}),
            422,
            "invalid-timezone",
            "Mars/Olympus",
        ),
        (json!({"dataset": 7}), 422, "invalid-request", "dataset"),
    ];
    for (body, status, code, needle) in cases {
        let (got, problem) = problem(env.post_export(&key, &body).await).await;
        assert_eq!(
            (got, problem["code"].as_str().unwrap()),
            (status, code),
            "{body}: {problem}"
        );
        assert!(
            problem["detail"].as_str().unwrap().contains(needle),
            "{problem} should name {needle}"
        );
    }
    let post = |body: &'static str, ct: &'static str| {
        env.http
            .post(env.url("/v1/exports"))
            .bearer_auth(&key)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let (status, body) = problem(post("{\"dataset\": ", "application/json").await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (400, "malformed-json")
    );
    let (status, body) = problem(
        post("dataset=events", "application/x-www-form-urlencoded")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (415, "unsupported-media-type")
    );
    let big = env
        .http
        .post(env.url("/v1/exports"))
        .bearer_auth(&key)
        .json(&json!({"dataset": "events", "filename": "x".repeat(10_000)}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(big).await.0, 413);
    let res = env
        .http
        .get(env.url("/v1/nowhere"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res).await.0, 404);
    let res = env
        .http
        .put(env.url("/v1/exports"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(problem(res).await.0, 405);
    env.stop().await;
}

#[tokio::test]
async fn datasets_route_describes_columns_and_keys() {
    let env = TestEnv::start(
        TABLE,
        TestOptions {
            workers: false,
            ..options()
        },
    )
    .await;
    let key = env.api_key("acme").await;
    let (status, body) = env.get_json(&key, "/v1/datasets").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"datasets": [{"name": "events", "key": ["id"], "filterable": ["kind", "at"], "columns": [
            {"name": "id", "type": "bigint"}, {"name": "kind", "type": "text"}, {"name": "at", "type": "timestamp with time zone"}]}]})
    );
    env.stop().await;
}
