//! Per-key request rate limits (a token bucket per key: a rate per second, bursts of twice
//! that), for SCIM credentials, and per minute for password sign-in attempts.

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

#[derive(Clone)]
pub struct KeyedLimit {
    limiter: Option<Arc<DefaultKeyedRateLimiter<String>>>,
}

impl KeyedLimit {
    /// `per_second` = 0 turns the limit off.
    pub fn new(per_second: u32) -> KeyedLimit {
        let limiter = NonZeroU32::new(per_second).map(|rate| {
            let burst = rate.saturating_mul(NonZeroU32::new(2).expect("2 is not 0"));
            Arc::new(RateLimiter::keyed(
                Quota::per_second(rate).allow_burst(burst),
            ))
        });
        KeyedLimit { limiter }
    }

    /// `per_minute` requests a minute after a first burst of `burst` (sign-in attempts).
    pub fn per_minute(per_minute: u32, burst: u32) -> KeyedLimit {
        let rate = NonZeroU32::new(per_minute.max(1)).expect("at least 1");
        let burst = NonZeroU32::new(burst.max(1)).expect("at least 1");
        KeyedLimit {
            limiter: Some(Arc::new(RateLimiter::keyed(
                Quota::per_minute(rate).allow_burst(burst),
            ))),
        }
    }

    /// Spends one request of `key`'s budget; past it, the whole seconds to wait (at least 1).
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        // Keys that are full again are forgotten once many pile up, so a stream of new keys
        // (client addresses, identifiers) cannot grow the map without end.
        if limiter.len() > 10_000 {
            limiter.retain_recent();
        }
        limiter.check_key(&key.to_string()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }
}
