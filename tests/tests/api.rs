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

/// No workers: exports stay queued.
fn queued_only() -> TestOptions {
    TestOptions {
        workers: false,
        ..options()
    }
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
    // Exports stay queued, so "not ready" is observable.
    let env = TestEnv::start(TABLE, queued_only()).await;
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
        queued_only().with(|s| s.server.max_body = haul_core::units::Size(4096)),
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
    let env = TestEnv::start(TABLE, queued_only()).await;
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

/// A POST's job is announced to listening workers once, with apalis's
/// channel and payload, by Haul after the export commits: apalis's insert
/// trigger stays quiet, so POSTs need not take turns committing (migration 5).
#[tokio::test]
async fn a_queued_job_is_announced_once_after_its_export_commits() {
    let env = TestEnv::start(TABLE, queued_only()).await;
    let key = env.api_key("acme").await;
    let mut listener = haul_tests::pg::Listener::start(&env.db_url, "apalis::job::insert").await;
    let id = env.create_export(&key, &json!({"dataset": "events"})).await;
    let payload = listener
        .next(Duration::from_secs(5))
        .await
        .expect("the job was announced");
    let announced: Value = serde_json::from_str(&payload).unwrap();
    let job_id = haul_db::queue::JobRow::for_export(id.parse().unwrap())
        .unwrap()
        .id;
    assert_eq!(
        announced["job_type"],
        haul_db::queue::EXPORT_QUEUE,
        "{payload}"
    );
    assert_eq!(announced["id"], job_id.as_str(), "{payload}");
    assert_eq!(
        listener.next(Duration::from_millis(500)).await,
        None,
        "announced twice: apalis's trigger fired inside the POST's transaction"
    );
    env.stop().await;
}

/// Polls of an export within `server.status_cache_ttl` are answered from
/// what the API last read (progress may lag by that much), while a status
/// change is announced once committed and shows at once; a cached export is
/// still another tenant's 404.
#[tokio::test]
async fn polls_answer_from_the_cache_until_the_status_changes() {
    let opts = queued_only().with(|s| s.server.status_cache_ttl = haul_core::units::Span::secs(60));
    let env = TestEnv::start(TABLE, opts).await;
    let key = env.api_key("acme").await;
    let other = env.api_key("globex").await;
    let id = env.create_export(&key, &json!({"dataset": "events"})).await;
    let path = format!("/v1/exports/{id}");
    let (_, first) = env.get_json(&key, &path).await;
    assert_eq!(first["status"], "queued", "{first}");

    // A progress change, unannounced: polls keep the answer already read.
    let db = haul_tests::pg::connect(&env.db_url).await;
    db.execute(
        "UPDATE haul.exports SET rows_estimate = 12345 WHERE id = $1::text::uuid",
        &[&id],
    )
    .await
    .unwrap();
    // However the client spells the id.
    let shouted = format!("/v1/exports/{}", id.to_uppercase());
    for poll in [&path, &shouted] {
        let (_, cached) = env.get_json(&key, poll).await;
        assert_eq!(cached, first, "polls within the TTL answer from the cache");
    }
    assert_eq!(env.get_json(&other, &path).await.0, 404);

    // A worker claims it: the status change is announced.
    let meta = haul_db::MetaDb::connect(&env.db_url, 1).await.unwrap();
    meta.claim_export(id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        let (_, now) = env.get_json(&key, &path).await;
        if now["status"] == "running" {
            assert_eq!(now["progress"]["rows_estimate"], 12345, "{now}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the status change never reached the cache: {now}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    env.stop().await;
}
