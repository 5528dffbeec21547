//! Webhooks: when an export ends, its `callback_url` receives the export
//! resource with a verifiable `Haul-Signature`; failed deliveries are
//! retried; a receiver that is down never holds the export back. Also
//! `/metrics` after real exports.

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use haul_tests::{TestEnv, TestOptions};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "webhook-secret-for-tests-0123456789abcdef";

const ROWS: &str = "CREATE TABLE items (id int PRIMARY KEY, name text);
    INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, 5000) AS i;";

#[derive(Clone, Debug)]
struct Received {
    signature: String,
    body: Vec<u8>,
    at: Instant,
}

/// A callback receiver on a free port that answers `500` to the first
/// `fail_first` deliveries, then `200`, and records every request.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    handle: actix_web::dev::ServerHandle,
}

impl Receiver {
    async fn start(fail_first: usize) -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let shared = got.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let server = HttpServer::new(move || {
            let got = shared.clone();
            App::new().route(
                "/hook",
                web::post().to(move |req: HttpRequest, body: web::Bytes| {
                    let got = got.clone();
                    async move {
                        let signature = req
                            .headers()
                            .get("Haul-Signature")
                            .map(|v| v.to_str().unwrap().to_string())
                            .unwrap_or_default();
                        let mut got = got.lock().unwrap();
                        got.push(Received {
                            signature,
                            body: body.to_vec(),
                            at: Instant::now(),
                        });
                        if got.len() <= fail_first {
                            HttpResponse::InternalServerError().finish()
                        } else {
                            HttpResponse::Ok().finish()
                        }
                    }
                }),
            )
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver { url, got, handle }
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} deliveries after {within:?}, wanted {n}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// What a receiver does: recompute the HMAC over "t.body" and compare.
fn verify(signature: &str, body: &[u8]) -> bool {
    let parts: Vec<(&str, &str)> = signature
        .split(',')
        .filter_map(|p| p.split_once('='))
        .collect();
    let t = parts.iter().find(|(k, _)| *k == "t").map(|(_, v)| *v);
    let v1 = parts.iter().find(|(k, _)| *k == "v1").map(|(_, v)| *v);
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    let Ok(given) = hex::decode(v1) else {
        return false;
    };
    mac.verify_slice(&given).is_ok()
}

fn options() -> TestOptions {
    TestOptions::default()
        .dataset("items", "public.items", &["id"])
        .with(|s| {
            s.webhooks.signing_secret = Some(SECRET.into());
            s.webhooks.retry_backoff = "1s".parse().unwrap();
            s.webhooks.max_attempts = 3;
        })
}

#[tokio::test]
async fn a_succeeded_export_is_delivered_signed_after_a_failed_attempt() {
    let receiver = Receiver::start(1).await;
    let env = TestEnv::start(ROWS, options()).await;
    let key = env.api_key("acme").await;
    let id = env
        .create_export(
            &key,
            &json!({"dataset": "items", "callback_url": receiver.url}),
        )
        .await;
    let export = env.wait_until_done(&key, &id).await;
    assert_eq!(export["status"], "succeeded");

    let got = receiver.wait_for(2, Duration::from_secs(30)).await;
    for delivery in &got {
        assert!(
            verify(&delivery.signature, &delivery.body),
            "bad signature {:?}",
            delivery.signature
        );
        assert!(!verify(&delivery.signature, b"{\"tampered\":true}"));
        let body: Value = serde_json::from_slice(&delivery.body).unwrap();
        assert_eq!(body["id"], id);
        assert_eq!(body["status"], "succeeded");
        assert_eq!(body["result"]["sha256"], export["result"]["sha256"]);
        assert_eq!(body["result"]["rows"], 5000);
    }
    // The retry came after the backoff, and nothing more once delivered.
    assert!(got[1].at.duration_since(got[0].at) >= Duration::from_millis(500));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(receiver.received().len(), 2, "delivered exactly once");
    receiver.handle.stop(false).await;
    env.stop().await;
}

#[tokio::test]
async fn a_receiver_that_is_down_never_holds_the_export_and_is_given_up_on() {
    // Always 500: three attempts (max_attempts), then no more.
    let receiver = Receiver::start(usize::MAX).await;
    let env = TestEnv::start(ROWS, options()).await;
    let key = env.api_key("acme").await;
    let id = env
        .create_export(
            &key,
            &json!({"dataset": "items", "callback_url": receiver.url}),
        )
        .await;
    let export = env.wait_until_done(&key, &id).await;
    assert_eq!(export["status"], "succeeded");
    receiver.wait_for(3, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(receiver.received().len(), 3, "gave up after max_attempts");
    let row = env
        .source
        .query_one(
            "SELECT attempts, abandoned_at IS NOT NULL, last_error FROM haul.webhook_deliveries",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), 3);
    assert!(row.get::<_, bool>(1));
    assert!(row.get::<_, String>(2).contains("500"));
    receiver.handle.stop(false).await;
    env.stop().await;
}

#[tokio::test]
async fn a_cancelled_export_is_delivered_too() {
    let receiver = Receiver::start(0).await;
    // No workers: the export stays queued until it is cancelled.
    let opts = TestOptions {
        workers: false,
        ..options()
    };
    let env = TestEnv::start(ROWS, opts).await;
    let key = env.api_key("acme").await;
    let id = env
        .create_export(
            &key,
            &json!({"dataset": "items", "callback_url": receiver.url}),
        )
        .await;
    let res = env
        .http
        .delete(env.url(&format!("/v1/exports/{id}")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let got = receiver.wait_for(1, Duration::from_secs(30)).await;
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["status"], "cancelled");
    assert!(verify(&got[0].signature, &got[0].body));
    receiver.handle.stop(false).await;
    env.stop().await;
}

#[tokio::test]
async fn callback_urls_need_a_webhook_secret() {
    let env = TestEnv::start(
        ROWS,
        TestOptions::default().dataset("items", "public.items", &["id"]),
    )
    .await;
    let key = env.api_key("acme").await;
    let res = env
        .post_export(
            &key,
            &json!({"dataset": "items", "callback_url": "http://127.0.0.1:9/hook"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["code"], "callbacks-disabled");
    env.stop().await;
}

/// The value of one sample line of Prometheus text, e.g.
/// `haul_exports{status="succeeded"}`.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_report_exports_rows_and_part_uploads() {
    let env = TestEnv::start(
        ROWS,
        TestOptions::default().dataset("items", "public.items", &["id"]),
    )
    .await;
    let key = env.api_key("acme").await;
    for _ in 0..2 {
        let id = env.create_export(&key, &json!({"dataset": "items"})).await;
        assert_eq!(env.wait_until_done(&key, &id).await["status"], "succeeded");
    }
    let res = env.http.get(env.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = res.text().await.unwrap();
    // Gauges come from this test's own database: exact.
    assert_eq!(
        sample(&text, r#"haul_exports{status="succeeded"}"#),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"haul_exports{status="running"}"#),
        Some(0.0)
    );
    assert_eq!(sample(&text, "haul_queue_depth"), Some(0.0));
    // Counters are per process, shared with the other tests of this file.
    assert!(sample(&text, "haul_rows_exported_total").unwrap() >= 10000.0);
    assert!(sample(&text, "haul_bytes_exported_total").unwrap() > 0.0);
    assert!(sample(&text, "haul_part_upload_seconds_count").unwrap() >= 2.0);
    assert!(sample(&text, r#"haul_job_seconds_count{outcome="finished"}"#).unwrap() >= 2.0);
    env.stop().await;
}

#[tokio::test]
async fn a_separate_worker_serves_its_own_metrics() {
    let env = TestEnv::start(
        ROWS,
        TestOptions {
            workers: false,
            ..TestOptions::default()
        }
        .dataset("items", "public.items", &["id"]),
    )
    .await;
    let port = haul_tests::process::free_local_addr().port();
    let mut settings = env.settings.clone();
    settings.worker.metrics_bind = Some(format!("127.0.0.1:{port}"));
    let _worker = haul_tests::process::HaulProcess::worker("metrics", &settings).await;
    let key = env.api_key("acme").await;
    let id = env.create_export(&key, &json!({"dataset": "items"})).await;
    let export = env.wait_until_done(&key, &id).await;
    assert_eq!(export["status"], "succeeded");
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // A fresh process that ran exactly this export: exact values.
    assert_eq!(
        sample(&text, "haul_rows_exported_total"),
        Some(5000.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "haul_bytes_exported_total"),
        export["result"]["bytes"].as_f64()
    );
    assert_eq!(sample(&text, "haul_part_upload_seconds_count"), Some(1.0));
    env.stop().await;
}
