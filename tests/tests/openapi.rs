//! `GET /openapi.json` is generated from the code: it parses as OpenAPI 3.1,
//! and it names exactly the routes the server answers.

use haul_tests::{TestEnv, TestOptions};
use serde_json::Value;

const TABLE: &str = "CREATE TABLE events (id bigint PRIMARY KEY, kind text);";

/// Every route API.md promises, plus routes announced for later; each one
/// the server answers must be documented, and every documented one answered.
const KNOWN_ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/exports"),
    ("get", "/v1/exports"),
    ("get", "/v1/exports/{id}"),
    ("delete", "/v1/exports/{id}"),
    ("get", "/v1/exports/{id}/download"),
    ("get", "/v1/datasets"),
    ("get", "/v1/datasets/{name}/rows"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
];

/// Whether the server routes `method path` (anything but its own
/// "no route" / "method not allowed" answers).
async fn served(env: &TestEnv, key: &str, method: &str, path: &str) -> bool {
    let concrete = path
        .replace("{id}", &uuid::Uuid::now_v7().to_string())
        .replace("{name}", "events");
    let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let res = env
        .http
        .request(method, env.url(&concrete))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    !matches!(
        body["code"].as_str(),
        Some("not-found" | "method-not-allowed")
    ) && status != 405
}

#[tokio::test]
async fn openapi_document_names_every_served_route() {
    let env = TestEnv::start(
        TABLE,
        TestOptions {
            workers: false,
            ..TestOptions::default().dataset("events", "public.events", &["id"])
        },
    )
    .await;
    let key = env.api_key("acme").await;
    let res = env.http.get(env.url("/openapi.json")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let doc: Value = res.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");

    let mut documented = Vec::new();
    for (path, item) in paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            if let Some(op) = item.get(method) {
                documented.push((method.to_string(), path.clone()));
                assert!(
                    op["responses"].is_object(),
                    "{method} {path} has no responses"
                );
            }
        }
    }
    for (method, path) in &documented {
        assert!(
            served(&env, &key, method, path).await,
            "{method} {path} is documented but not served"
        );
    }
    for (method, path) in KNOWN_ROUTES {
        if served(&env, &key, method, path).await {
            assert!(
                documented.contains(&(method.to_string(), path.to_string())),
                "{method} {path} is served but missing from /openapi.json"
            );
        }
    }
    for required in [
        "/v1/exports",
        "/v1/exports/{id}",
        "/v1/exports/{id}/download",
        "/v1/datasets",
        "/healthz",
        "/readyz",
        "/openapi.json",
    ] {
        assert!(paths.contains_key(required), "{required} is not documented");
    }

    // Bodies and errors are described, errors as problem+json.
    let create = &paths["/v1/exports"]["post"];
    assert!(create["requestBody"]["content"]["application/json"]["schema"].is_object());
    for status in ["202", "400", "401", "413", "415", "422", "429"] {
        assert!(
            create["responses"][status].is_object(),
            "POST /v1/exports {status}"
        );
    }
    assert!(create["responses"]["422"]["content"]["application/problem+json"].is_object());
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for schema in [
        "ExportRequest",
        "ExportResource",
        "Problem",
        "ExportList",
        "DatasetList",
    ] {
        assert!(schemas.contains_key(schema), "schema {schema} missing");
    }
    let request = &schemas["ExportRequest"];
    assert_eq!(request["required"], serde_json::json!(["dataset"]));
    assert_eq!(
        request["additionalProperties"], false,
        "unknown fields are refused"
    );
    env.stop().await;
}
