//! The end of an export's file: after `exports.ttl` the sweeper deletes it,
//! and `DELETE` of a succeeded export deletes it at once. Either way the
//! export becomes `expired`, the object is gone and downloads answer 410.

use haul_core::units::Span;
use haul_tests::{TestEnv, TestOptions, s3};
use serde_json::{Value, json};

const TABLE: &str = "CREATE TABLE t (id int PRIMARY KEY, v text);
    INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 2000) i;";

fn options() -> TestOptions {
    TestOptions::default().dataset("t", "public.t", &["id"])
}

async fn succeeded_export(env: &TestEnv, key: &str) -> String {
    let id = env.create_export(key, &json!({"dataset": "t"})).await;
    let export = env.wait_until_done(key, &id).await;
    assert_eq!(export["status"], "succeeded", "{export}");
    assert_eq!(s3::object_keys(&env.storage).await.len(), 1);
    id
}

/// The download route answers 410 `export-expired`.
async fn assert_gone(env: &TestEnv, key: &str, id: &str) {
    let res = env
        .http
        .get(env.url(&format!("/v1/exports/{id}/download")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 410);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "export-expired", "{body}");
}

#[tokio::test]
async fn exports_expire_after_the_ttl_and_their_file_is_deleted() {
    // The test settings sweep every second.
    let env = TestEnv::start(TABLE, options().with(|s| s.exports.ttl = Span::secs(3))).await;
    let key = env.api_key("acme").await;
    let id = succeeded_export(&env, &key).await;
    let export = env
        .wait_for(&key, &id, "expired", |e| e["status"] == "expired")
        .await;
    assert!(export["links"]["download"].is_null(), "{export}");
    assert!(s3::object_keys(&env.storage).await.is_empty());
    assert_gone(&env, &key, &id).await;
    env.stop().await;
}

#[tokio::test]
async fn deleting_a_succeeded_export_deletes_its_file() {
    let env = TestEnv::start(TABLE, options()).await;
    let key = env.api_key("acme").await;
    let id = succeeded_export(&env, &key).await;
    for _ in 0..2 {
        // Repeating it is harmless.
        let res = env
            .http
            .delete(env.url(&format!("/v1/exports/{id}")))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
        let export: Value = res.json().await.unwrap();
        assert_eq!(export["status"], "expired", "{export}");
    }
    assert!(s3::object_keys(&env.storage).await.is_empty());
    assert_gone(&env, &key, &id).await;
    env.stop().await;
}
