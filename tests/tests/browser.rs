//! A real browser opening `links.download`: headless Chromium follows the
//! 303 to S3 and saves the file under `result.filename`, byte for byte the
//! export (also a gzip file, which a browser must not decompress). And the
//! page at `/`: paste a key, see the exports, click a download link.

use haul_tests::browser::Browser;
use haul_tests::env::sha256_hex;
use haul_tests::{TestEnv, TestOptions};
use serde_json::json;

const EVENTS: &str = r#"
CREATE TABLE events (id bigint PRIMARY KEY, kind text, note text);
INSERT INTO events
SELECT i, (ARRAY['buy', 'sell'])[1 + i % 2], 'note "' || i || '", ünïcödé'
  FROM generate_series(1, 20000) AS i;
"#;

#[tokio::test]
async fn browser_saves_the_export_under_its_filename() {
    let env = TestEnv::start(
        EVENTS,
        TestOptions::default().dataset("events", "public.events", &["id"]),
    )
    .await;
    let key = env.api_key("acme").await;
    let plain = env.create_export(&key, &json!({"dataset": "events"})).await;
    let gzip = env
        .create_export(
            &key,
            &json!({"dataset": "events", "compression": "gzip", "filename": "events-archive"}),
        )
        .await;
    let expected_csv = env
        .copy("COPY (SELECT id, kind, note FROM events ORDER BY id) TO STDOUT (FORMAT csv, HEADER)")
        .await;

    let downloads = tempfile::tempdir().unwrap();
    let mut browser = Browser::launch().await;
    browser.allow_downloads(downloads.path()).await;

    for id in [&plain, &gzip] {
        let export = env.wait_until_done(&key, id).await;
        assert_eq!(export["status"], "succeeded", "{export}");
        let link = export["links"]["download"].as_str().unwrap();
        assert!(
            link.contains("token="),
            "the link carries its own token: {link}"
        );

        browser.open(link).await;
        let (name, path) = browser.finished_download(downloads.path()).await;
        let filename = export["result"]["filename"].as_str().unwrap();
        assert_eq!(name, filename, "the browser's file name");
        let saved = std::fs::read(&path).unwrap();
        eprintln!("browser saved {name}: {} bytes", saved.len());
        assert_eq!(
            saved.len() as u64,
            export["result"]["bytes"].as_u64().unwrap()
        );
        assert_eq!(sha256_hex(&saved), export["result"]["sha256"]);
        assert!(
            saved == env.download_bytes(&key, id).await,
            "{name} differs from the export"
        );
        if id == &plain {
            assert!(saved == expected_csv, "the CSV differs from COPY");
        } else {
            assert_eq!(filename, "events-archive.csv.gz");
            assert_eq!(
                &saved[..2],
                b"\x1f\x8b",
                "the browser kept the file gzipped"
            );
        }
    }
    browser.close().await;
    env.stop().await;
}

#[tokio::test]
async fn page_at_root_lists_exports_and_its_links_download() {
    let env = TestEnv::start(
        EVENTS,
        TestOptions::default().dataset("events", "public.events", &["id"]),
    )
    .await;
    let key = env.api_key("acme").await;
    let other_tenant = env.api_key("globex").await;
    let id = env
        .create_export(&key, &json!({"dataset": "events", "format": "ndjson"}))
        .await;
    let export = env.wait_until_done(&key, &id).await;
    assert_eq!(export["status"], "succeeded", "{export}");
    env.create_export(&other_tenant, &json!({"dataset": "events"}))
        .await;

    let res = env.http.get(env.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    assert!(res.headers().contains_key("content-security-policy"));

    let downloads = tempfile::tempdir().unwrap();
    let mut browser = Browser::launch().await;
    browser.allow_downloads(downloads.path()).await;
    let page = browser.open_page(&env.url("/")).await;
    browser
        .wait_for(
            &page,
            "document.readyState === 'complete' && !!document.getElementById('login')",
        )
        .await;

    // A wrong key shows Haul's answer.
    browser
        .evaluate(
            &page,
            "document.getElementById('key').value = 'not-a-key'; \
             document.getElementById('login').requestSubmit(); true",
        )
        .await;
    let error = browser
        .wait_for(&page, "document.getElementById('error').textContent")
        .await;
    assert!(error.as_str().unwrap().starts_with("401"), "{error}");

    browser
        .evaluate(
            &page,
            &format!(
                "document.getElementById('key').value = '{key}'; \
                 document.getElementById('login').requestSubmit(); true"
            ),
        )
        .await;
    let rows = browser
        .wait_for(
            &page,
            "[...document.querySelectorAll('#exports tbody tr')].map(r => ({ \
               id: r.dataset.id, \
               status: r.querySelector('.status').textContent, \
               link: r.querySelector('a.download')?.href ?? null, \
               name: r.querySelector('a.download')?.textContent ?? null }))",
        )
        .await;
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1, "only this tenant's export: {rows:?}");
    assert_eq!(rows[0]["id"], id.as_str());
    assert_eq!(rows[0]["status"], "succeeded");
    // links.download is signed afresh on every read: same URL, newer token.
    let link = rows[0]["link"].as_str().unwrap();
    assert!(
        link.starts_with(&env.url(&format!("/v1/exports/{id}/download?token="))),
        "{link}"
    );
    assert_eq!(rows[0]["name"], export["result"]["filename"]);

    browser
        .evaluate(&page, "document.querySelector('a.download').click(); true")
        .await;
    let (name, path) = browser.finished_download(downloads.path()).await;
    assert_eq!(name, export["result"]["filename"].as_str().unwrap());
    let saved = std::fs::read(&path).unwrap();
    assert_eq!(sha256_hex(&saved), export["result"]["sha256"]);
    assert!(saved == env.download_bytes(&key, &id).await);
    browser.close().await;
    env.stop().await;
}
