//! When S3 goes away, exports fail cleanly: a code and a message, no object
//! at the final key, and no multipart upload left open.

use haul_tests::{TestEnv, TestOptions, s3};
use serde_json::json;
use std::time::{Duration, Instant};

const BIG: &str = "CREATE TABLE big (id bigint PRIMARY KEY, payload text);
    INSERT INTO big SELECT i, repeat(md5(i::text), 4) FROM generate_series(1, 400000) i;";

fn options() -> TestOptions {
    TestOptions {
        s3_via_proxy: true,
        ..TestOptions::default().dataset("big", "public.big", &["id"])
    }
    .with(|s| {
        s.worker.parts_in_flight = 1;
        s.worker.max_attempts = 2;
    })
}

#[tokio::test]
async fn unreachable_s3_fails_the_export_and_leaves_nothing() {
    let env = TestEnv::start(BIG, options()).await;
    let key = env.api_key("acme").await;
    env.proxy.as_ref().unwrap().cut();
    let id = env.create_export(&key, &json!({"dataset": "big"})).await;
    let export = env.wait_until_done(&key, &id).await;
    assert_eq!(export["status"], "failed", "{export}");
    assert_eq!(export["error"]["code"], "storage-unavailable", "{export}");
    assert!(export["result"].is_null());
    assert!(export["links"]["download"].is_null());
    assert!(s3::object_keys(&env.storage).await.is_empty());
    assert!(s3::open_uploads(&env.storage).await.is_empty());
    env.stop().await;
}

#[tokio::test]
async fn s3_lost_mid_export_aborts_the_upload() {
    let env = TestEnv::start(BIG, options()).await;
    let key = env.api_key("acme").await;
    let id = env.create_export(&key, &json!({"dataset": "big"})).await;
    // Cut S3 off once the first part is checkpointed, mid-way through.
    env.wait_for(&key, &id, "a first part", |e| {
        e["progress"]["bytes"].as_i64() > Some(0)
    })
    .await;
    env.proxy.as_ref().unwrap().cut();
    let export = env.wait_until_done(&key, &id).await;
    assert_eq!(export["status"], "failed", "{export}");
    assert_eq!(export["error"]["code"], "storage-unavailable", "{export}");
    assert!(
        s3::object_keys(&env.storage).await.is_empty(),
        "no object at the final key"
    );

    // The abort could not reach S3 either; once S3 is back, the sweeper
    // aborts the upload.
    env.proxy.as_ref().unwrap().restore();
    let started = Instant::now();
    while !s3::open_uploads(&env.storage).await.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the upload was never aborted"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(s3::object_keys(&env.storage).await.is_empty());
    env.stop().await;
}
