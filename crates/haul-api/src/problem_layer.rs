//! Errors the framework answers by itself (unknown route, wrong method, body
//! too large, bad extractor input) become problem+json too, like every other
//! error of the API.

use crate::error::{PROBLEM_JSON, Problem};
use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::{StatusCode, header};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};

pub fn problem_errors() -> ErrorHandlers<BoxBody> {
    ErrorHandlers::new().default_handler(to_problem)
}

fn to_problem(res: ServiceResponse<BoxBody>) -> actix_web::Result<ErrorHandlerResponse<BoxBody>> {
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if is_problem {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (code, detail) = match status {
        StatusCode::NOT_FOUND => (
            "not-found",
            format!("no route for {}", res.request().path()),
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method-not-allowed",
            format!(
                "{} is not allowed on {}",
                res.request().method(),
                res.request().path()
            ),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "body-too-large",
            "the request body exceeds server.max_body".to_string(),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported-media-type",
            "send application/json".to_string(),
        ),
        s if s.is_server_error() => ("internal-error", "an internal error occurred".to_string()),
        s => (
            "bad-request",
            s.canonical_reason().unwrap_or("bad request").to_string(),
        ),
    };
    let (req, _) = res.into_parts();
    let problem = Problem::new(status, code, detail).response();
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, problem).map_into_right_body(),
    ))
}
