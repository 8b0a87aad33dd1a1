//! Per-key request rate limits (a token bucket per key: a rate per second, bursts of twice
//! that), for SCIM credentials, and per minute for password sign-in attempts.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

#[derive(Clone)]
pub struct KeyedLimit {
    limiter: Option<Arc<DefaultKeyedRateLimiter<String>>>,
    /// When keys were last forgotten (Unix seconds).
    pruned_at: Arc<AtomicU64>,
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
        KeyedLimit {
            limiter,
            pruned_at: Arc::default(),
        }
    }

    /// `per_minute` requests a minute after a first burst of `burst` (sign-in attempts).
    pub fn per_minute(per_minute: u32, burst: u32) -> KeyedLimit {
        let rate = NonZeroU32::new(per_minute.max(1)).expect("at least 1");
        let burst = NonZeroU32::new(burst.max(1)).expect("at least 1");
        KeyedLimit {
            limiter: Some(Arc::new(RateLimiter::keyed(
                Quota::per_minute(rate).allow_burst(burst),
            ))),
            pruned_at: Arc::default(),
        }
    }

    /// Spends one request of `key`'s budget; past it, the whole seconds to wait (at least 1).
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        // Keys that are full again are forgotten once many pile up, so a stream of new keys
        // (client addresses, identifiers) cannot grow the map without end.
        // At most once a second: the sweep walks every key.
        if limiter.len() > 10_000 {
            let now = lanyard_store::now_ms().unsigned_abs() / 1000;
            let last = self.pruned_at.load(Ordering::Relaxed);
            if now > last
                && self
                    .pruned_at
                    .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                limiter.retain_recent();
            }
        }
        limiter.check_key(&key.to_string()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }
}

/// The key a client address is limited by: an IPv6 client is one /64 (a single host is
/// commonly handed a whole /64, so counting each address would let it rotate freely).
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_limited_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.7");
        assert_eq!(address_key("192.0.2.7".parse().unwrap()), "192.0.2.7");
    }

    #[test]
    fn a_key_past_its_burst_waits() {
        let limit = KeyedLimit::per_minute(1, 2);
        assert!(limit.check("k").is_ok());
        assert!(limit.check("k").is_ok());
        assert!(limit.check("k").unwrap_err() >= 1);
        assert!(limit.check("other").is_ok());
    }
}
