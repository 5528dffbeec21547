//! The test's view of S3: the real LocalStack, reached directly.

use haul_core::config::S3Settings;
use haul_s3::Storage;

pub fn endpoint() -> String {
    std::env::var("HAUL_TEST_S3_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:4566".into())
}

/// S3 settings for a test bucket on LocalStack.
pub fn settings(bucket: &str, endpoint: &str) -> S3Settings {
    assert!(
        std::env::var_os("AWS_ACCESS_KEY_ID").is_some(),
        "set AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test for LocalStack (scripts/test.sh does)"
    );
    S3Settings {
        bucket: bucket.into(),
        region: "us-east-1".into(),
        endpoint: Some(endpoint.into()),
        public_endpoint: None,
        force_path_style: true,
        prefix: "exports/".into(),
    }
}

pub async fn create_bucket(storage: &Storage) {
    storage
        .client
        .create_bucket()
        .bucket(&storage.bucket)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot create bucket on {} ({e:?}); is LocalStack running? see scripts/test.sh",
                endpoint()
            )
        });
}

/// Every object key in the bucket.
pub async fn object_keys(storage: &Storage) -> Vec<String> {
    let out = storage
        .client
        .list_objects_v2()
        .bucket(&storage.bucket)
        .send()
        .await
        .expect("list objects");
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(String::from))
        .collect()
}

/// Multipart uploads still open in the bucket.
pub async fn open_uploads(storage: &Storage) -> Vec<String> {
    let out = storage
        .client
        .list_multipart_uploads()
        .bucket(&storage.bucket)
        .send()
        .await
        .expect("list multipart uploads");
    out.uploads()
        .iter()
        .filter_map(|u| u.upload_id().map(String::from))
        .collect()
}
