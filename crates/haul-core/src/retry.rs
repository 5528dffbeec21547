//! The exponential part of every retry schedule in Haul (export attempts,
//! webhook deliveries); each caller adds the jitter that suits it.

use std::time::Duration;

/// `base` doubled once per earlier attempt, never above `cap`.
pub fn exponential_ceiling(base: Duration, attempt: i32, cap: Duration) -> Duration {
    base.saturating_mul(1u32 << attempt.clamp(0, 20)).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_per_attempt_up_to_the_cap() {
        let s = Duration::from_secs;
        assert_eq!(exponential_ceiling(s(1), 0, s(60)), s(1));
        assert_eq!(exponential_ceiling(s(1), 3, s(60)), s(8));
        assert_eq!(exponential_ceiling(s(1), 40, s(60)), s(60));
        assert_eq!(exponential_ceiling(s(1), -2, s(60)), s(1));
    }
}
