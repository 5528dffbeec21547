//! Delivers the webhook outbox: when an export ends, its `callback_url`
//! receives the export resource, signed, with retries and backoff. It runs
//! beside the API (it renders the same resource) and never delays an export:
//! the worker only changes the status; a trigger queues the delivery.

use crate::resource::ExportResource;
use crate::state::AppState;
use haul_core::config::WebhookSettings;
use haul_db::meta::webhooks::{Delivery, WEBHOOK_CHANNEL};
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The header receivers verify.
pub const SIGNATURE_HEADER: &str = "Haul-Signature";
/// Longest pause between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// Fallback poll interval, for notifications lost while disconnected.
const POLL_EVERY: Duration = Duration::from_secs(5);
/// Deliveries sent at once by one process.
const BATCH: i64 = 16;

/// `t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, Stripe-style: the
/// timestamp is signed too, so receivers can reject replays of old bodies.
pub fn signature(secret: &[u8], unix_time: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(unix_time.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={unix_time},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// Pause before attempt `attempts + 1`: doubling from `base`, capped, with
/// ±25% jitter so that many failing deliveries do not retry in lockstep.
pub fn backoff(base: Duration, attempts: i32) -> Duration {
    haul_core::retry::exponential_ceiling(base, attempts, MAX_BACKOFF)
        .mul_f64(rand::rng().random_range(0.75..1.25))
}

/// Runs until `shutdown`. Does nothing when webhooks are not configured.
pub async fn run_deliverer(state: AppState, shutdown: CancellationToken) {
    let settings = state.settings.webhooks.clone();
    let Some(secret) = settings.signing_secret.clone() else {
        return;
    };
    let http = reqwest::Client::builder()
        .timeout(settings.timeout.0)
        // A callback URL is the client's; Haul does not follow it elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("haul/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a static reqwest configuration");
    let mut listener = match sqlx::postgres::PgListener::connect_with(&state.meta.pool).await {
        Ok(mut l) => match l.listen(WEBHOOK_CHANNEL).await {
            Ok(()) => Some(l),
            Err(_) => None,
        },
        Err(_) => None,
    };
    loop {
        deliver_due(&state, &http, &settings, secret.as_bytes()).await;
        let wake = async {
            match listener.as_mut() {
                Some(l) => {
                    let _ = tokio::time::timeout(POLL_EVERY, l.recv()).await;
                }
                None => tokio::time::sleep(POLL_EVERY).await,
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = wake => {}
        }
    }
}

async fn deliver_due(
    state: &AppState,
    http: &reqwest::Client,
    settings: &WebhookSettings,
    secret: &[u8],
) {
    let hold = settings.timeout.0 + Duration::from_secs(30);
    loop {
        let due = match state.meta.claim_webhooks(BATCH, hold).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the webhook outbox");
                return;
            }
        };
        if due.is_empty() {
            return;
        }
        let sends = due
            .iter()
            .map(|d| deliver_one(state, http, settings, secret, d));
        futures::future::join_all(sends).await;
    }
}

async fn deliver_one(
    state: &AppState,
    http: &reqwest::Client,
    settings: &WebhookSettings,
    secret: &[u8],
    delivery: &Delivery,
) {
    let outcome = send(state, http, secret, delivery).await;
    let result = if outcome.is_ok() {
        "delivered"
    } else {
        "failed"
    };
    haul_core::metrics::WEBHOOK_DELIVERIES
        .with_label_values(&[result])
        .inc();
    let recorded = match outcome {
        Ok(()) => {
            tracing::info!(export_id = %delivery.export_id, status = %delivery.status, "webhook delivered");
            state.meta.webhook_delivered(delivery.id).await
        }
        Err(error) => {
            let attempts = delivery.attempts + 1;
            let retry_at = (attempts < settings.max_attempts as i32)
                .then(|| chrono::Utc::now() + backoff(settings.retry_backoff.0, delivery.attempts));
            tracing::warn!(
                export_id = %delivery.export_id,
                attempts,
                gave_up = retry_at.is_none(),
                %error,
                "webhook delivery failed"
            );
            state
                .meta
                .webhook_failed(delivery.id, &error, retry_at)
                .await
        }
    };
    if let Err(e) = recorded {
        tracing::warn!(error = %e, "could not record a webhook delivery");
    }
}

async fn send(
    state: &AppState,
    http: &reqwest::Client,
    secret: &[u8],
    delivery: &Delivery,
) -> Result<(), String> {
    let row = state
        .meta
        .export(delivery.export_id)
        .await
        .map_err(|e| format!("reading the export: {e}"))?
        .ok_or("the export no longer exists")?;
    let body =
        serde_json::to_vec(&ExportResource::from_row(state, &row)).map_err(|e| e.to_string())?;
    let now = chrono::Utc::now().timestamp();
    let response = http
        .post(&delivery.url)
        .header("Content-Type", "application/json")
        .header(SIGNATURE_HEADER, signature(secret, now, &body))
        .header("Haul-Delivery", delivery.id.to_string())
        .body(body)
        .send()
        .await
        // Without the URL: reqwest's message would repeat it into the logs.
        .map_err(|e| e.without_url().to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("the receiver answered {}", response.status()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_of_time_dot_body() {
        // Computed independently with Python's hmac module:
        // hmac.new(b"k"*32, b"1700000000.{}", hashlib.sha256).hexdigest()
        let sig = signature(&[b'k'; 32], 1_700_000_000, b"{}");
        assert_eq!(
            sig,
            "t=1700000000,v1=0b3b35525c10b3757ffa78df69037021fc3168d8390a51a4fcb4a8d56a25b557"
        );
        assert_ne!(sig, signature(&[b'k'; 32], 1_700_000_001, b"{}"));
        assert_ne!(sig, signature(&[b'j'; 32], 1_700_000_000, b"{}"));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let base = Duration::from_secs(5);
        let first = backoff(base, 0);
        assert!(first >= Duration::from_millis(3750) && first <= Duration::from_millis(6250));
        let third = backoff(base, 2);
        assert!(third >= Duration::from_secs(15) && third <= Duration::from_secs(25));
        assert!(backoff(base, 40) <= MAX_BACKOFF.mul_f64(1.25));
    }
}
