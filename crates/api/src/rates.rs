//! How fast and how much a token may write: token buckets per token (a rate with a burst, and
//! a day's volume) and per administration (the sum of its staff tokens), so one token — or one
//! administration's tokens together — cannot fill the disk or the Land's inbox for everyone.
//! Every root field of a mutation counts as one write (an alias counts again), checked before
//! anything runs; admin tokens are not limited (the first start's token, the operators').
//! A refusal is `LIMIT_EXCEEDED` in German with `retryAfterSeconds`, and counted in
//! `rollout_write_refusals_total{limit}`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use app::Caller;

/// The limits (0 turns one off).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WriteLimits {
    /// Writes per second of one token, sustained; it may write [`BURST_SECONDS`] times that at
    /// once.
    pub per_token_per_second: f64,
    /// Writes of one token in a day (refilled evenly: a day's volume in 24 hours).
    pub per_token_per_day: f64,
    /// Writes per second of all tokens of one administration together (staff tokens).
    pub per_authority_per_second: f64,
}

/// How many seconds' worth of writes a token may spend at once.
pub const BURST_SECONDS: f64 = 5.0;

impl Default for WriteLimits {
    fn default() -> WriteLimits {
        WriteLimits {
            per_token_per_second: 20.0,
            per_token_per_day: 20_000.0,
            per_authority_per_second: 50.0,
        }
    }
}

/// Which limit refused a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    TokenRate,
    TokenDay,
    AuthorityRate,
    /// Folds of the whole log (time travel, progress over time) per token.
    FoldRate,
}

impl Limit {
    /// The label in metrics and in `extensions.limit`.
    pub fn name(self) -> &'static str {
        match self {
            Limit::TokenRate => "WRITES_PER_TOKEN_PER_SECOND",
            Limit::TokenDay => "WRITES_PER_TOKEN_PER_DAY",
            Limit::AuthorityRate => "WRITES_PER_AUTHORITY_PER_SECOND",
            Limit::FoldRate => "LOG_FOLDS_PER_TOKEN",
        }
    }
}

/// A refused write: which limit, and when to try again.
#[derive(Clone, Debug, PartialEq)]
pub struct Refused {
    pub limit: Limit,
    pub retry_after_seconds: u64,
    pub message: String,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    level: f64,
    at: Instant,
}

impl Bucket {
    /// The level now, refilled at `rate` per second up to `capacity`.
    fn refilled(self, now: Instant, rate: f64, capacity: f64) -> f64 {
        (self.level + now.saturating_duration_since(self.at).as_secs_f64() * rate).min(capacity)
    }
}

/// Folds of the whole log one token may ask for: one every [`FOLD_EVERY_SECONDS`] seconds,
/// [`FOLDS_AT_ONCE`] at once (a report with a comparison date is two). Every role, admins too:
/// a fold takes a core for as long as the log is long.
pub const FOLD_EVERY_SECONDS: f64 = 1.0;
pub const FOLDS_AT_ONCE: f64 = 20.0;

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
enum Key {
    Folds(uuid::Uuid),
    TokenRate(uuid::Uuid),
    TokenDay(uuid::Uuid),
    Authority(String),
}

/// The buckets of every token and administration that wrote since the server started (tokens
/// and administrations number in the hundreds to thousands: in memory).
#[derive(Debug)]
pub struct WriteRates {
    limits: WriteLimits,
    buckets: Mutex<HashMap<Key, Bucket>>,
}

impl Default for WriteRates {
    fn default() -> WriteRates {
        WriteRates::new(WriteLimits::default())
    }
}

impl WriteRates {
    pub fn new(limits: WriteLimits) -> WriteRates {
        WriteRates { limits, buckets: Mutex::default() }
    }

    /// Takes `writes` writes for `caller` at `now`, or says which limit refuses them (then
    /// nothing is taken).
    pub fn take(&self, caller: &Caller, writes: usize, now: Instant) -> Result<(), Refused> {
        if caller.writes_unlimited() || writes == 0 {
            return Ok(());
        }
        let n = writes as f64;
        let l = self.limits;
        let mut wanted: Vec<(Key, f64, f64, Limit)> = Vec::with_capacity(2 + caller.authorities.len());
        if l.per_token_per_second > 0.0 {
            let capacity = (l.per_token_per_second * BURST_SECONDS).max(1.0);
            wanted.push((
                Key::TokenRate(caller.token_id),
                l.per_token_per_second,
                capacity,
                Limit::TokenRate,
            ));
        }
        if l.per_token_per_day > 0.0 {
            wanted.push((
                Key::TokenDay(caller.token_id),
                l.per_token_per_day / 86_400.0,
                l.per_token_per_day,
                Limit::TokenDay,
            ));
        }
        if l.per_authority_per_second > 0.0 {
            let capacity = (l.per_authority_per_second * BURST_SECONDS).max(1.0);
            for ars in caller.rated_authorities() {
                wanted.push((
                    Key::Authority(ars.clone()),
                    l.per_authority_per_second,
                    capacity,
                    Limit::AuthorityRate,
                ));
            }
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        // First check every bucket, then take from all: a refusal takes nothing.
        for (key, rate, capacity, limit) in &wanted {
            let level = buckets.get(key).map_or(*capacity, |b| b.refilled(now, *rate, *capacity));
            if level < n {
                let retry_after_seconds =
                    if n > *capacity { u64::MAX } else { ((n - level) / rate).ceil() as u64 };
                return Err(refusal(*limit, l, writes, retry_after_seconds.max(1)));
            }
        }
        for (key, rate, capacity, _) in wanted {
            let level = buckets.get(&key).map_or(capacity, |b| b.refilled(now, rate, capacity));
            buckets.insert(key, Bucket { level: level - n, at: now });
        }
        Ok(())
    }
}

impl WriteRates {
    /// Takes `folds` folds of the whole log for `caller` at `now`, or says when it may again.
    pub fn take_folds(&self, caller: &Caller, folds: usize, now: Instant) -> Result<(), Refused> {
        let rate = 1.0 / FOLD_EVERY_SECONDS;
        let n = folds as f64;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let key = Key::Folds(caller.token_id);
        let level = buckets.get(&key).map_or(FOLDS_AT_ONCE, |b| b.refilled(now, rate, FOLDS_AT_ONCE));
        if level < n {
            let retry_after_seconds = ((n - level) / rate).ceil().max(1.0) as u64;
            return Err(Refused {
                limit: Limit::FoldRate,
                retry_after_seconds,
                message: format!(
                    "Zu viele Auswertungen des ganzen Protokolls (asOf, progressOverTime, Bericht zu einem früheren Stand): höchstens eine alle {FOLD_EVERY_SECONDS} s je Token ({FOLDS_AT_ONCE} auf einmal); erneut versuchen in {retry_after_seconds} s."
                ),
            });
        }
        buckets.insert(key, Bucket { level: level - n, at: now });
        Ok(())
    }
}

fn refusal(limit: Limit, l: WriteLimits, writes: usize, retry_after_seconds: u64) -> Refused {
    let what = match limit {
        Limit::TokenRate => format!(
            "dieses Token darf höchstens {} Änderungen pro Sekunde schreiben ({} auf einmal)",
            l.per_token_per_second,
            l.per_token_per_second * BURST_SECONDS
        ),
        Limit::TokenDay => {
            format!("dieses Token darf höchstens {} Änderungen am Tag schreiben", l.per_token_per_day)
        }
        Limit::AuthorityRate => format!(
            "die Tokens einer Verwaltung dürfen zusammen höchstens {} Änderungen pro Sekunde schreiben",
            l.per_authority_per_second
        ),
        Limit::FoldRate => "dieses Token fragt zu oft nach Auswertungen des ganzen Protokolls".to_owned(),
    };
    let when = if retry_after_seconds == u64::MAX {
        format!("; {writes} Änderungen in einer Anfrage sind mehr als je erlaubt")
    } else {
        format!("; erneut versuchen in {retry_after_seconds} s")
    };
    Refused { limit, retry_after_seconds, message: format!("Zu viele Änderungen: {what}{when}.") }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use engine::TokenRole;

    fn caller(role: TokenRole, authorities: &[&str]) -> Caller {
        Caller {
            token_id: uuid::Uuid::now_v7(),
            name: "t".into(),
            role,
            authorities: authorities.iter().map(|a| (*a).to_owned()).collect(),
            services: vec![],
            person: None,
            association: None,
            signed_in: None,
        }
    }

    #[test]
    fn a_token_writes_its_burst_then_its_rate_and_admins_are_free() {
        let rates = WriteRates::new(WriteLimits {
            per_token_per_second: 2.0,
            per_token_per_day: 0.0,
            per_authority_per_second: 0.0,
        });
        let staff = caller(TokenRole::AuthorityStaff, &["120540000000"]);
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(rates.take(&staff, 1, t0).is_ok());
        }
        let refused = rates.take(&staff, 1, t0).expect_err("over the burst");
        assert_eq!((refused.limit, refused.retry_after_seconds), (Limit::TokenRate, 1));
        assert!(refused.message.contains("erneut versuchen in 1 s"), "{}", refused.message);
        assert!(rates.take(&staff, 1, t0 + Duration::from_millis(500)).is_ok());
        assert!(rates.take(&staff, 1, t0 + Duration::from_millis(500)).is_err());
        let admin = caller(TokenRole::Admin, &[]);
        for _ in 0..1000 {
            assert!(rates.take(&admin, 1, t0).is_ok());
        }
    }

    #[test]
    fn a_day_and_an_administration_are_limits_of_their_own_and_a_refusal_takes_nothing() {
        let rates = WriteRates::new(WriteLimits {
            per_token_per_second: 0.0,
            per_token_per_day: 5.0,
            per_authority_per_second: 1.0,
        });
        let t0 = Instant::now();
        let (a, b) = (
            caller(TokenRole::AuthorityStaff, &["120540000000"]),
            caller(TokenRole::AuthorityStaff, &["120540000000"]),
        );
        assert!(rates.take(&a, 3, t0).is_ok());
        // The administration's burst (5) is shared: b gets the 2 left.
        assert_eq!(rates.take(&b, 3, t0).expect_err("shared").limit, Limit::AuthorityRate);
        assert!(rates.take(&b, 2, t0).is_ok());
        let later = t0 + Duration::from_secs(10);
        assert!(rates.take(&a, 2, later).is_ok());
        assert_eq!(rates.take(&a, 1, later).expect_err("a day's 5").limit, Limit::TokenDay);
        // A request larger than a limit ever allows says so.
        let c = caller(TokenRole::AuthorityStaff, &["120120000000"]);
        assert!(rates.take(&c, 6, later).expect_err("too many").message.contains("mehr als je erlaubt"));
    }

    #[test]
    fn folds_of_the_log_have_an_allowance_per_token_admins_included() {
        let rates = WriteRates::default();
        let admin = caller(TokenRole::Admin, &[]);
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(rates.take_folds(&admin, 2, t0).is_ok());
        }
        let refused = rates.take_folds(&admin, 1, t0).expect_err("twenty at once");
        assert_eq!((refused.limit, refused.retry_after_seconds), (Limit::FoldRate, 1));
        assert!(rates.take_folds(&admin, 1, t0 + Duration::from_secs(1)).is_ok());
        // Another token has its own.
        assert!(rates.take_folds(&caller(TokenRole::Auditor, &[]), 20, t0).is_ok());
    }
}
