//! `GET /v1/datasets/{name}/rows`: every matching row, streamed now, for
//! pulls too small to be worth an export. Same datasets, columns, filters and
//! tenant scoping as exports; see `params` for the request and `producer`
//! for the in-band conventions that make completeness detectable.

pub mod params;
pub mod producer;
pub mod route;
