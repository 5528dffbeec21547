//! Builds the actix-web application on any listener (port 0 in tests).

use crate::problem_layer::problem_errors;
use crate::routes::{datasets, download, exports, ops};
use crate::state::AppState;
use actix_web::{App, HttpServer, dev::Server, middleware, web};
use std::net::TcpListener;
use std::time::Duration;

/// Registers every route and the shared state on an app or scope.
pub fn configure(state: AppState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        let max_body = state.settings.server.max_body.0 as usize;
        cfg.app_data(web::Data::new(state))
            .app_data(web::PayloadConfig::new(max_body))
            .service(exports::create_export)
            .service(exports::list_exports)
            .service(download::download)
            .service(exports::get_export)
            .service(exports::delete_export)
            .service(datasets::list_datasets)
            .service(ops::healthz)
            .service(ops::readyz);
    }
}

/// The HTTP server. On SIGTERM/SIGINT actix stops accepting and drains
/// in-flight requests for up to `drain` before exiting.
pub fn build_server(
    state: AppState,
    listener: TcpListener,
    drain: Duration,
) -> std::io::Result<Server> {
    let workers = state.settings.server.workers;
    let server = HttpServer::new(move || {
        App::new()
            .wrap(problem_errors())
            .wrap(middleware::Logger::new("%U %s %Dms").exclude("/healthz"))
            .configure(configure(state.clone()))
            .default_service(web::to(not_found))
    })
    .workers(workers)
    .shutdown_timeout(drain.as_secs().max(1))
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}

async fn not_found(req: actix_web::HttpRequest) -> actix_web::HttpResponse {
    crate::error::Problem::new(
        actix_web::http::StatusCode::NOT_FOUND,
        "not-found",
        format!("no route for {}", req.path()),
    )
    .response()
}
