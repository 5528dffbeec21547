//! Builds the actix-web application on any listener (port 0 in tests).

use crate::problem_layer::problem_errors;
use crate::routes::{datasets, download, exports, metrics, ops};
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
            .service(
                web::resource("/v1/exports")
                    .route(web::post().to(exports::create_export))
                    .route(web::get().to(exports::list_exports))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/v1/exports/{id}")
                    .route(web::get().to(exports::get_export))
                    .route(web::delete().to(exports::delete_export))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/v1/exports/{id}/download")
                    .route(web::get().to(download::download))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(web::resource("/v1/datasets").route(web::get().to(datasets::list_datasets)))
            .service(
                web::resource("/v1/datasets/{name}/rows")
                    .route(web::get().to(crate::streaming::route::stream_rows))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(web::resource("/").route(web::get().to(crate::routes::console::index)))
            .service(web::resource("/healthz").route(web::get().to(ops::healthz)))
            .service(web::resource("/readyz").route(web::get().to(ops::readyz)))
            .service(
                web::resource("/openapi.json").route(web::get().to(crate::openapi::openapi_json)),
            )
            .service(web::resource("/metrics").route(web::get().to(metrics::metrics)));
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

/// `haul work`'s metrics endpoint (`worker.metrics_bind`): `/metrics` only.
pub fn build_metrics_server(listener: TcpListener) -> std::io::Result<Server> {
    Ok(HttpServer::new(|| {
        App::new().service(web::resource("/metrics").route(web::get().to(metrics::process_metrics)))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run())
}

async fn method_not_allowed(req: actix_web::HttpRequest) -> actix_web::HttpResponse {
    crate::error::Problem::new(
        actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        format!("{} is not allowed on {}", req.method(), req.path()),
    )
    .response()
}

async fn not_found(req: actix_web::HttpRequest) -> actix_web::HttpResponse {
    crate::error::Problem::new(
        actix_web::http::StatusCode::NOT_FOUND,
        "not-found",
        format!("no route for {}", req.path()),
    )
    .response()
}
