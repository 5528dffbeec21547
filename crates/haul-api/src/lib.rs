//! The HTTP API (actix-web): routes per resource, Bearer and signed-token
//! authentication, problem+json errors.

pub mod announced_cache;
pub mod auth;
pub mod error;
pub mod openapi;
pub mod problem_layer;
pub mod rate_limit;
pub mod resource;
pub mod routes;
pub mod startup;
pub mod state;
pub mod streaming;
pub mod webhooks;

pub use startup::{build_server, configure};
pub use state::AppState;
