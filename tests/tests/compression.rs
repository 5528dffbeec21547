//! gzip and zstd exports, end to end: the object is what it says it is
//! (content type, `.gz` / `.zst` name, no Content-Encoding), `result.bytes`
//! and `result.sha256` describe the compressed bytes, and a file of several
//! parts (one gzip member / zstd frame each) decompresses, with the Rust
//! decoders and with the standard CLIs, to exactly the uncompressed export.

use haul_tests::golden::{decompress_with_cli, export_ok, gunzip, object_parts, unzstd};
use haul_tests::{TestEnv, TestOptions};
use serde_json::{Value, json};

/// Hex digests barely compress (about 2:1), so ~30 MB of them make a
/// compressed file of several 5 MiB parts.
const NOISE: &str = r#"
CREATE TABLE noise (
    id int PRIMARY KEY,
    a text,
    b text,
    note text
);
INSERT INTO noise
SELECT i, md5(i::text) || md5((i * 7)::text) || md5((i * 13)::text),
       md5((i * 17)::text) || md5((i * 19)::text) || md5((i * 23)::text),
       CASE WHEN i % 9 = 0 THEN NULL ELSE E'line\nbreak, "quoted" \\ 🚀' END
  FROM generate_series(1, 120000) AS i;
"#;

async fn noise_env() -> TestEnv {
    TestEnv::start(
        NOISE,
        TestOptions::default().dataset("noise", "public.noise", &["id"]),
    )
    .await
}

/// Exports `format` plain and compressed, and checks the compressed one
/// against the plain one and against the object's metadata.
async fn check_compressed(env: &TestEnv, key: &str, format: &str, compression: &str) -> u32 {
    let (plain_export, plain) =
        export_ok(env, key, &json!({"dataset": "noise", "format": format})).await;
    let body = json!({"dataset": "noise", "format": format, "compression": compression});
    let (export, file) = export_ok(env, key, &body).await;
    let (ext, content_type, cli) = match compression {
        "gzip" => ("gz", "application/gzip", "gzip"),
        _ => ("zst", "application/zstd", "zstd"),
    };
    let id = export["id"].as_str().unwrap();
    let filename = format!("noise-{id}.{format}.{ext}");
    let result = &export["result"];
    assert_eq!(result["filename"], filename.as_str());
    assert_eq!(result["content_type"], content_type);
    assert_eq!(result["rows"], plain_export["result"]["rows"]);
    assert!(
        file.len() < plain.len() * 3 / 4,
        "{body}: the file is compressed"
    );

    let decompressed = match compression {
        "gzip" => gunzip(&file),
        _ => unzstd(&file),
    };
    assert!(
        decompressed == plain,
        "{body}: decompresses to the plain export"
    );
    if let Some(out) = decompress_with_cli(cli, &file) {
        assert!(out == plain, "{body}: `{cli} -dc` gives the plain export");
    }

    let res = env.download(key, id).await;
    assert_eq!(res.status(), 200);
    let headers = res.headers();
    assert_eq!(headers["content-type"], content_type);
    assert!(
        headers.get("content-encoding").is_none(),
        "{body}: no Content-Encoding, or clients would inflate it"
    );
    assert_eq!(
        headers["content-disposition"],
        format!("attachment; filename=\"{filename}\"").as_str()
    );
    assert_eq!(headers["content-length"], file.len().to_string().as_str());
    assert_eq!(res.bytes().await.unwrap().as_ref(), file.as_slice());
    object_parts(env, "acme", &export).await
}

#[tokio::test]
async fn gzip_csv_of_several_members_decompresses_to_the_csv_export() {
    let env = noise_env().await;
    let key = env.api_key("acme").await;
    let parts = check_compressed(&env, &key, "csv", "gzip").await;
    assert!(parts >= 2, "several gzip members ({parts} parts)");
    // The plain export itself is COPY's CSV.
    let (_, plain) = export_ok(&env, &key, &json!({"dataset": "noise"})).await;
    let copy = env
        .copy("COPY (SELECT * FROM noise ORDER BY id) TO STDOUT (FORMAT csv, HEADER)")
        .await;
    assert!(plain == copy);
    env.stop().await;
}

#[tokio::test]
async fn zstd_ndjson_of_several_frames_decompresses_to_the_ndjson_export() {
    let env = noise_env().await;
    let key = env.api_key("acme").await;
    let parts = check_compressed(&env, &key, "ndjson", "zstd").await;
    assert!(parts >= 2, "several zstd frames ({parts} parts)");
    env.stop().await;
}

#[tokio::test]
async fn every_format_compresses_in_both_codecs_including_empty_files() {
    let env = TestEnv::start(
        "CREATE TABLE small (id int PRIMARY KEY, v text);
         INSERT INTO small SELECT i, E'v\\t' || i FROM generate_series(1, 500) AS i;
         CREATE TABLE empty (id int PRIMARY KEY, v text);",
        TestOptions::default()
            .dataset("small", "public.small", &["id"])
            .dataset("empty", "public.empty", &["id"]),
    )
    .await;
    let key = env.api_key("acme").await;
    for dataset in ["small", "empty"] {
        for format in ["csv", "tsv", "ndjson", "json"] {
            let (_, plain) =
                export_ok(&env, &key, &json!({"dataset": dataset, "format": format})).await;
            for compression in ["gzip", "zstd"] {
                let body =
                    json!({"dataset": dataset, "format": format, "compression": compression});
                let (export, file) = export_ok(&env, &key, &body).await;
                let out = if compression == "gzip" {
                    gunzip(&file)
                } else {
                    unzstd(&file)
                };
                assert_eq!(out, plain, "{body}");
                let cli = if compression == "gzip" {
                    "gzip"
                } else {
                    "zstd"
                };
                if let Some(out) = decompress_with_cli(cli, &file) {
                    assert_eq!(out, plain, "{body} with {cli} -dc");
                }
                let name: &Value = &export["result"]["filename"];
                let ext = if compression == "gzip" { "gz" } else { "zst" };
                assert!(
                    name.as_str()
                        .unwrap()
                        .ends_with(&format!(".{format}.{ext}"))
                );
            }
        }
    }
    env.stop().await;
}
