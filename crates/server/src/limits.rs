//! Per-key request rate limits (a token bucket per key: a rate per second, bursts of twice
//! that), shared by SCIM credentials and sign-in clients.

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

    /// Spends one request of `key`'s budget; past it, the whole seconds to wait (at least 1).
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(&key.to_string()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }
}
