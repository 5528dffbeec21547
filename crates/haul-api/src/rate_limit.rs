//! Per-API-key request rate limit: a GCRA token bucket per key prefix
//! (`server.rate_limit_per_second`, bursts of `server.rate_limit_burst`).
//!
//! Only authenticated keys get a bucket, so the map grows with the number of
//! keys in use, never with what strangers send.

use crate::error::ApiError;
use actix_web::http::StatusCode;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use haul_core::config::ServerSettings;
use std::num::NonZeroU32;

pub struct KeyRateLimiter {
    limiter: DefaultKeyedRateLimiter<String>,
}

impl std::fmt::Debug for KeyRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyRateLimiter(..)")
    }
}

impl KeyRateLimiter {
    pub fn from_settings(server: &ServerSettings) -> Self {
        // Settings::validate refuses zero; one is the safe floor regardless.
        let rate = NonZeroU32::new(server.rate_limit_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(server.rate_limit_burst).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: governor::RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
        }
    }

    /// Takes one request from the key's bucket, or answers 429 with how many
    /// whole seconds to wait.
    pub fn check(&self, key_prefix: &str) -> Result<(), ApiError> {
        let Err(not_until) = self.limiter.check_key(&key_prefix.to_string()) else {
            return Ok(());
        };
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Err(ApiError::Client {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "rate-limited",
            detail: "too many requests for this API key; retry after the Retry-After delay"
                .to_string(),
            retry_after: Some(secs.max(1)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_has_its_own_bucket() {
        let server = ServerSettings {
            rate_limit_per_second: 1,
            rate_limit_burst: 2,
            ..ServerSettings::default()
        };
        let limiter = KeyRateLimiter::from_settings(&server);
        assert!(limiter.check("aaaaaaaa").is_ok());
        assert!(limiter.check("aaaaaaaa").is_ok());
        let Err(ApiError::Client {
            status,
            code,
            retry_after,
            ..
        }) = limiter.check("aaaaaaaa")
        else {
            panic!("the third request within a second is limited");
        };
        assert_eq!(
            (status.as_u16(), code, retry_after),
            (429, "rate-limited", Some(1))
        );
        assert!(
            limiter.check("bbbbbbbb").is_ok(),
            "other keys are unaffected"
        );
    }
}
