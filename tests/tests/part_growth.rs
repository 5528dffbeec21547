//! S3 allows 10,000 parts per upload, so an export larger than
//! `part_size × 10,000` only fits if parts grow as the upload proceeds. With
//! `worker.max_parts` lowered to 3, a file of more than three base parts must
//! still succeed, in at most three parts, byte-identical to COPY.

use haul_tests::{TestEnv, TestOptions};
use serde_json::json;

/// About 30 MB of CSV: six 5 MiB parts at a fixed size.
const WIDE: &str = "CREATE TABLE wide (id int PRIMARY KEY, payload text NOT NULL);
    INSERT INTO wide SELECT i, repeat(md5(i::text), 6) FROM generate_series(1, 160000) AS i;";

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn parts_grow_so_a_large_export_fits_a_small_part_limit() {
    let env = TestEnv::start(
        WIDE,
        TestOptions::default()
            .dataset("wide", "public.wide", &["id"])
            .with(|s| {
                s.worker.part_size = "5MiB".parse().unwrap();
                s.worker.max_parts = 3;
            }),
    )
    .await;
    let key = env.api_key("acme").await;
    let id = env.create_export(&key, &json!({"dataset": "wide"})).await;
    let export = env.wait_until_done(&key, &id).await;
    assert_eq!(export["status"], "succeeded", "{export}");

    let expected = env
        .copy("COPY (SELECT id, payload FROM wide ORDER BY id) TO STDOUT (FORMAT csv, HEADER)")
        .await;
    assert!(
        expected.len() > 5 * 5 * MIB,
        "at a fixed 5 MiB the file would need more than 3 parts"
    );
    let body = env.download_bytes(&key, &id).await;
    assert!(body == expected, "the file differs from COPY's output");

    // A multipart object's ETag ends in -<number of parts>.
    let keys = haul_tests::s3::object_keys(&env.storage).await;
    assert_eq!(keys.len(), 1);
    let head = env
        .storage
        .client
        .head_object()
        .bucket(&env.storage.bucket)
        .key(&keys[0])
        .send()
        .await
        .unwrap();
    let etag = head.e_tag().unwrap().trim_matches('"').to_string();
    let parts: usize = etag
        .rsplit_once('-')
        .map(|(_, n)| n.parse().unwrap())
        .unwrap_or_else(|| panic!("not a multipart ETag: {etag}"));
    assert!(
        (2..=3).contains(&parts),
        "{parts} parts for {} MiB with max_parts 3",
        expected.len() / MIB
    );
    env.stop().await;
}
