//! `GET /`: a small page where a person pastes an API key and sees that
//! tenant's exports, their progress and download links. It is static; the
//! page calls the JSON API itself.

use actix_web::HttpResponse;

const INDEX_HTML: &str = include_str!("../../static/index.html");

/// Scripts and requests stay on this origin; the page is never framed and
/// never sends a Referer (download links carry a token).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; \
    style-src 'unsafe-inline'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; \
    base-uri 'none'";

pub async fn index() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Cache-Control", "no-cache"))
        .body(INDEX_HTML)
}
