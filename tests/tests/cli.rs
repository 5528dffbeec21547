//! `haul export …`, the real binary against the real API, PostgreSQL and
//! LocalStack: create/wait/download compared with COPY, an interrupted
//! download resumed with `Range`, a corrupt partial file caught by the
//! SHA-256 check, and status/list/cancel output.

use haul_client::Client;
use haul_tests::env::sha256_hex;
use haul_tests::haul_bin::{run_export, text};
use haul_tests::tap::Tap;
use haul_tests::{TestEnv, TestOptions};
use serde_json::Value;

/// ~40 MB of CSV: big enough that a download is cut mid-body.
const BIG: &str = r#"
CREATE TABLE big (
    id bigint PRIMARY KEY,
    kind text NOT NULL,
    label text,
    payload text,
    amount numeric(12,2),
    seen_at timestamptz
);
INSERT INTO big
SELECT i,
       (ARRAY['buy', 'sell', 'view'])[1 + i % 3],
       CASE WHEN i % 13 = 0 THEN NULL ELSE 'label "' || i || '", ok' END,
       md5(i::text) || repeat('x', 40) || md5((i * 7)::text),
       (i * 0.37)::numeric(12,2),
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second'
  FROM generate_series(1, 250000) AS i;
"#;

const ALL_COLUMNS_COPY: &str = "COPY (SELECT id, kind, label, payload, amount, seen_at FROM big ORDER BY id) TO STDOUT (FORMAT csv, HEADER)";

fn big_env() -> TestOptions {
    TestOptions::default()
        .dataset("big", "public.big", &["id"])
        .with(|s| s.datasets.get_mut("big").unwrap().filterable = vec!["kind".into()])
}

fn stdout_of(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "haul failed ({}): {}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[tokio::test]
async fn create_wait_output_downloads_exactly_what_copy_writes() {
    let env = TestEnv::start(BIG, big_env()).await;
    let key = env.api_key("acme").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("buys.csv");

    let out = run_export(
        &env.base_url,
        &key,
        &[
            "create",
            "big",
            "--columns",
            "id,label,amount,seen_at",
            "--filter",
            r#"{"kind": {"eq": "buy"}}"#,
            "--no-header",
            "--filename",
            "buys",
            "--timezone",
            "Asia/Kolkata",
            "--wait",
            "--output",
            file.to_str().unwrap(),
        ],
    )
    .await;
    let stdout = stdout_of(&out);
    let id: uuid::Uuid = stdout.trim().parse().expect("create prints the export id");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("verified"), "{stderr}");

    env.source
        .batch_execute("SET TimeZone = 'Asia/Kolkata'")
        .await
        .unwrap();
    let expected = env
        .copy("COPY (SELECT id, label, amount, seen_at FROM big WHERE kind = 'buy' ORDER BY id) TO STDOUT (FORMAT csv)")
        .await;
    let got = std::fs::read(&file).unwrap();
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "the downloaded file differs from COPY");

    // status --json is the resource; the human form names the essentials.
    let status: Value = serde_json::from_str(&stdout_of(
        &run_export(&env.base_url, &key, &["status", &id.to_string(), "--json"]).await,
    ))
    .unwrap();
    assert_eq!(status["status"], "succeeded");
    assert_eq!(status["result"]["filename"], "buys.csv");
    assert_eq!(status["result"]["sha256"], sha256_hex(&expected));
    assert_eq!(status["result"]["rows"], 250000 / 3);
    let human = stdout_of(&run_export(&env.base_url, &key, &["status", &id.to_string()]).await);
    assert!(human.contains("status:    succeeded"), "{human}");
    assert!(human.contains(&sha256_hex(&expected)), "{human}");
    assert!(human.contains("download:  http"), "{human}");

    let list = stdout_of(&run_export(&env.base_url, &key, &["list"]).await);
    let row = list
        .lines()
        .find(|l| l.starts_with(&id.to_string()))
        .unwrap_or_else(|| panic!("list shows the export: {list}"));
    assert!(row.contains("succeeded") && row.contains("big"), "{row}");
    let listed: Value = serde_json::from_str(&stdout_of(
        &run_export(
            &env.base_url,
            &key,
            &["list", "--status", "succeeded", "--json"],
        )
        .await,
    ))
    .unwrap();
    assert_eq!(listed["exports"][0]["id"], id.to_string());
    env.stop().await;
}

#[tokio::test]
async fn interrupted_download_resumes_with_range_and_corruption_is_caught() {
    // Presigned URLs name the tap, which stands in front of LocalStack.
    let target = haul_tests::s3::endpoint()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let tap = Tap::start(target).await;
    let tap_url = tap.url();
    let env = TestEnv::start(
        BIG,
        big_env().with(move |s| s.s3.public_endpoint = Some(tap_url)),
    )
    .await;
    let key = env.api_key("acme").await;
    let client = Client::new(&env.base_url, &key).unwrap();
    let export = client
        .create_export(&haul_client::ExportRequest::new("big"), None)
        .await
        .unwrap();
    let id = export.id.to_string();
    let done = env.wait_until_done(&key, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let expected = env.copy(ALL_COLUMNS_COPY).await;
    let total = expected.len() as u64;
    assert!(total > 30_000_000, "a large file: {total} bytes");

    // 1. The connection to S3 dies after 12 MB: the CLI fails and keeps
    //    what arrived.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.csv");
    let path = file.to_str().unwrap();
    tap.limit_responses(Some(12_000_000));
    let out = run_export(&env.base_url, &key, &["download", &id, "--output", path]).await;
    assert!(!out.status.success(), "the cut download must fail");
    assert!(
        text(&out.stderr).contains("run the download again to resume"),
        "{}",
        text(&out.stderr)
    );
    let partial = std::fs::metadata(&file).unwrap().len();
    eprintln!(
        "interrupted: {partial} of {total} bytes on disk; stderr: {}",
        text(&out.stderr).trim()
    );
    assert!(partial > 1_000_000 && partial < total, "partial: {partial}");
    assert!(
        std::fs::read(&file).unwrap() == expected[..partial as usize],
        "the partial file is a prefix of the export"
    );

    // 2. Run again: it asks S3 for the rest only and completes the file.
    tap.limit_responses(None);
    let requests_before = tap.requests().len();
    let bytes_before = tap.response_bytes();
    let out = run_export(&env.base_url, &key, &["download", &id, "--output", path]).await;
    let stderr = text(&out.stderr);
    stdout_of(&out);
    let resumed_bytes = tap.response_bytes() - bytes_before;
    eprintln!(
        "resumed: {resumed_bytes} bytes through the tap; stderr: {}",
        stderr.trim()
    );
    let second: Vec<String> = tap.requests()[requests_before..].to_vec();
    assert!(
        second.iter().any(|r| r
            .to_ascii_lowercase()
            .contains(&format!("\r\nrange: bytes={partial}-\r\n"))),
        "the second run asked for `Range: bytes={partial}-`: {second:?}"
    );
    assert!(
        stderr.contains(&format!("resumed at byte {partial}")),
        "{stderr}"
    );
    assert!(
        resumed_bytes < total - partial + 64 * 1024,
        "only the rest was transferred: {resumed_bytes} bytes for {} missing",
        total - partial
    );
    assert!(
        std::fs::read(&file).unwrap() == expected,
        "resumed file differs"
    );

    // 3. A partial file with one flipped byte: resumed, then the SHA-256
    //    check fails loudly with a non-zero exit.
    let mut corrupt = expected[..(total / 2) as usize].to_vec();
    corrupt[1000] ^= 0x20;
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, &corrupt).unwrap();
    let out = run_export(
        &env.base_url,
        &key,
        &["download", &id, "--output", bad.to_str().unwrap()],
    )
    .await;
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "a corrupt file must fail: {stderr}");
    assert!(stderr.contains("sha256 mismatch"), "{stderr}");
    assert!(
        stderr.contains(&sha256_hex(&expected)),
        "names the expected sha: {stderr}"
    );
    assert_eq!(std::fs::metadata(&bad).unwrap().len(), total);

    //    --restart discards it and downloads from the first byte.
    let out = run_export(
        &env.base_url,
        &key,
        &[
            "download",
            &id,
            "--output",
            bad.to_str().unwrap(),
            "--restart",
        ],
    )
    .await;
    stdout_of(&out);
    assert!(std::fs::read(&bad).unwrap() == expected);
    env.stop().await;
}

#[tokio::test]
async fn status_cancel_and_errors_from_the_command_line() {
    // No workers: the export stays queued until it is cancelled.
    let env = TestEnv::start(
        BIG,
        TestOptions {
            workers: false,
            ..big_env()
        },
    )
    .await;
    let key = env.api_key("acme").await;

    let id = stdout_of(
        &run_export(
            &env.base_url,
            &key,
            &["create", "big", "--format", "ndjson"],
        )
        .await,
    )
    .trim()
    .to_string();
    let status = stdout_of(&run_export(&env.base_url, &key, &["status", &id]).await);
    assert!(status.contains("status:    queued"), "{status}");
    assert!(status.contains("dataset:   big (ndjson"), "{status}");

    // Nothing to download yet: Haul's problem code reaches the user.
    let out = run_export(
        &env.base_url,
        &key,
        &["download", &id, "--output", "/dev/null"],
    )
    .await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("queued, not succeeded"),
        "{}",
        text(&out.stderr)
    );

    let cancelled = stdout_of(&run_export(&env.base_url, &key, &["cancel", &id]).await);
    assert_eq!(cancelled.trim(), format!("{id} cancelled"));
    let out = run_export(&env.base_url, &key, &["wait", &id]).await;
    assert!(!out.status.success(), "waiting on a cancelled export fails");
    assert!(
        text(&out.stderr).contains("cancelled"),
        "{}",
        text(&out.stderr)
    );

    let list =
        stdout_of(&run_export(&env.base_url, &key, &["list", "--status", "cancelled"]).await);
    assert!(
        list.lines()
            .any(|l| l.starts_with(&id) && l.contains("cancelled")),
        "{list}"
    );

    let out = run_export(
        &env.base_url,
        &key,
        &["status", &uuid::Uuid::now_v7().to_string()],
    )
    .await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("404 export-not-found"),
        "{}",
        text(&out.stderr)
    );

    let out = run_export(&env.base_url, "not-a-key", &["list"]).await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("401"), "{}", text(&out.stderr));

    let out = run_export(&env.base_url, &key, &["create", "nope"]).await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("dataset-not-found"),
        "{}",
        text(&out.stderr)
    );
    env.stop().await;
}
