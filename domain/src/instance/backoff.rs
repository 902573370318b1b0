//! Retry delays: fixed, linear or exponential, capped, with deterministic
//! jitter drawn from the entropy the caller passes in.

use std::time::Duration;

use crate::definition::{Backoff, RetryPolicy};

/// The delay after `failed_attempt` (1-based) failed.
pub fn retry_delay(policy: &RetryPolicy, failed_attempt: u32, entropy: u64) -> Duration {
    let initial = policy.initial.as_secs_f64();
    let n = f64::from(failed_attempt.max(1));
    let base = match policy.backoff {
        Backoff::Fixed => initial,
        Backoff::Linear => initial * n,
        Backoff::Exponential => initial * policy.multiplier.powf(n - 1.0),
    };
    let capped = base.min(policy.max.as_secs_f64()).max(0.0);
    let seconds = if policy.jitter {
        capped * (0.5 + 0.5 * unit(entropy, failed_attempt))
    } else {
        capped
    };
    Duration::from_secs_f64(seconds)
}

/// A number in [0, 1) from the entropy and the attempt (splitmix64).
fn unit(entropy: u64, attempt: u32) -> f64 {
    let mut z = entropy ^ (u64::from(attempt).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy(backoff: Backoff, jitter: bool) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 10,
            backoff,
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            multiplier: 2.0,
            jitter,
        }
    }

    #[test]
    fn exponential_doubles_up_to_the_cap() {
        let policy = policy(Backoff::Exponential, false);
        let delays: Vec<u64> = (1..=8)
            .map(|n| retry_delay(&policy, n, 0).as_secs())
            .collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 32, 60, 60]);
    }

    #[test]
    fn linear_and_fixed() {
        assert_eq!(
            retry_delay(&policy(Backoff::Linear, false), 3, 0),
            Duration::from_secs(3)
        );
        assert_eq!(
            retry_delay(&policy(Backoff::Fixed, false), 5, 0),
            Duration::from_secs(1)
        );
    }

    proptest! {
        #[test]
        fn jitter_stays_within_half_and_whole_delay(attempt in 1u32..20, entropy: u64) {
            let with = retry_delay(&policy(Backoff::Exponential, true), attempt, entropy);
            let without = retry_delay(&policy(Backoff::Exponential, false), attempt, entropy);
            prop_assert!(with <= without);
            prop_assert!(with.as_secs_f64() >= without.as_secs_f64() / 2.0 - 1e-9);
            prop_assert_eq!(with, retry_delay(&policy(Backoff::Exponential, true), attempt, entropy));
        }
    }
}
