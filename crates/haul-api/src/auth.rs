//! Who is calling: a Bearer API key names the tenant; the download route
//! also accepts a signed, expiring token from `links.download`.

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{FromRequest, HttpRequest, dev::Payload, http::StatusCode, http::header, web};
use futures::future::LocalBoxFuture;
use haul_core::api_key;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// A live key as last read from the database.
#[derive(Clone, Debug)]
pub struct KnownKey {
    pub tenant: String,
    pub key_hash: Vec<u8>,
}

/// The authenticated tenant.
#[derive(Debug, Clone)]
pub struct Tenant(pub String);

impl FromRequest for Tenant {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let bearer = bearer(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| anyhow::anyhow!("AppState is not registered"))?;
            let key = bearer
                .ok_or_else(|| ApiError::unauthorized("send Authorization: Bearer <api-key>"))?;
            tenant_for_key(&state, &key)
                .await?
                .map(Tenant)
                .ok_or_else(|| ApiError::unauthorized("the API key is unknown or revoked"))
        })
    }
}

pub fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| key.trim().to_string())
}

/// Looks the key up by prefix (in the key cache, else the database) and
/// compares hashes in constant time, then takes the request from the key's
/// rate limit (429 `rate-limited`).
pub async fn tenant_for_key(state: &AppState, key: &str) -> Result<Option<String>, ApiError> {
    let Some(prefix) = api_key::prefix(key) else {
        return Ok(None);
    };
    let known = match state.key_cache.get(prefix) {
        Some(known) => known,
        None => {
            let read_at = state.key_cache.generation();
            let Some(row) = state.meta.live_key(prefix).await? else {
                return Ok(None);
            };
            let known = KnownKey {
                tenant: row.tenant,
                key_hash: row.key_hash,
            };
            state.key_cache.put(prefix, known.clone(), read_at);
            known
        }
    };
    let matches: bool = api_key::hash(key).ct_eq(known.key_hash.as_slice()).into();
    if !matches {
        return Ok(None);
    }
    state.rate_limiter.check(prefix)?;
    Ok(Some(known.tenant))
}

const DOWNLOAD_PURPOSE: &str = "download";

/// What a download token grants: one export, one tenant, until `exp`.
#[derive(Debug, Serialize, Deserialize)]
pub struct DownloadGrant {
    pub id: Uuid,
    #[serde(rename = "t")]
    pub tenant: String,
    pub exp: i64,
}

pub fn download_token(state: &AppState, id: Uuid, tenant: &str) -> String {
    let exp = chrono::Utc::now().timestamp() + state.settings.download.link_ttl.0.as_secs() as i64;
    state.signer.seal(
        DOWNLOAD_PURPOSE,
        &DownloadGrant {
            id,
            tenant: tenant.to_string(),
            exp,
        },
    )
}

/// The tenant a download token grants `id` to; 403 when it is forged,
/// altered, expired or for another export.
pub fn check_download_token(state: &AppState, token: &str, id: Uuid) -> Result<String, ApiError> {
    let forbidden =
        |why: &str| ApiError::new(StatusCode::FORBIDDEN, "invalid-token", why.to_string());
    let grant: DownloadGrant = state
        .signer
        .open(DOWNLOAD_PURPOSE, token)
        .map_err(|_| forbidden("the download token is not valid"))?;
    if grant.id != id {
        return Err(forbidden("the download token is for another export"));
    }
    if grant.exp < chrono::Utc::now().timestamp() {
        return Err(forbidden(
            "the download token has expired; fetch the export again for a fresh link",
        ));
    }
    Ok(grant.tenant)
}
