//! Retrying with the back-off schedule of Mozilla's `redo` (3.0.1), run by `backon`.
//!
//! Release tooling written against redo expects its timing: the first attempt runs at once, and the
//! n-th sleep (between attempt n and n+1) is `sleeptime·scale^(n-1) ± U(jitter·scale^(n-1))`,
//! capped at `max_sleeptime` after the jitter is added while the uncapped base keeps growing.
//! backon's own builders cannot say that (their jitter is upward and proportional), so [`Delays`]
//! is a plain iterator, which backon accepts as a `Backoff`; backon then does the looping and the
//! sleeping.
//!
//! ```no_run
//! # async fn demo() -> Result<(), std::io::Error> {
//! use relyard_core::retry::{retry_async, RetryPolicy};
//!
//! let body = retry_async(
//!     RetryPolicy::http().delays(),
//!     || async { tokio::fs::read_to_string("/etc/hostname").await },
//!     |err| err.kind() == std::io::ErrorKind::Interrupted,
//!     |err, failure| tracing::warn!(%err, ?failure, "read failed"),
//! )
//! .await?;
//! # let _ = body; Ok(()) }
//! ```

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::time::Duration;

use backon::{BlockingRetryable, Retryable, Sleeper, TokioSleeper};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Why a [`RetryPolicy`] was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    /// redo refuses this too: `sleeptime - jitter` could be negative.
    #[error(
        "jitter ({}s) must not be more than the sleep time ({}s)",
        jitter.as_secs_f64(),
        sleeptime.as_secs_f64()
    )]
    JitterExceedsSleeptime {
        jitter: Duration,
        sleeptime: Duration,
    },
    /// redo would return without calling anything at all, which hides a configuration mistake.
    #[error("attempts must be at least 1")]
    NoAttempts,
    /// A zero, negative or non-finite factor gives sleeps that are zero, negative or undefined.
    #[error("sleepscale must be a finite number above 0, not {0}")]
    BadSleepscale(f64),
}

/// How often to try and how long to sleep in between, with redo's parameters.
///
/// The fields are private so that every policy in existence has passed [`RetryPolicy::new`]'s
/// checks; [`Default`] gives redo's `retry()` defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    attempts: u32,
    sleeptime: Duration,
    max_sleeptime: Duration,
    sleepscale: f64,
    jitter: Duration,
}

impl Default for RetryPolicy {
    /// redo's `retry()`: 5 attempts, 60 s then ×1.5 each time, at most 300 s, ±1 s (scaled) jitter.
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            sleeptime: Duration::from_secs(60),
            max_sleeptime: Duration::from_secs(300),
            sleepscale: 1.5,
            jitter: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// `attempts` counts calls (not retries): there are `attempts - 1` sleeps.
    /// `max_sleeptime` below `sleeptime` is allowed, as in redo: every sleep is then the cap.
    pub fn new(
        attempts: u32,
        sleeptime: Duration,
        max_sleeptime: Duration,
        sleepscale: f64,
        jitter: Duration,
    ) -> Result<Self, PolicyError> {
        if attempts == 0 {
            return Err(PolicyError::NoAttempts);
        }
        if !(sleepscale.is_finite() && sleepscale > 0.0) {
            return Err(PolicyError::BadSleepscale(sleepscale));
        }
        if jitter > sleeptime {
            return Err(PolicyError::JitterExceedsSleeptime { jitter, sleeptime });
        }
        Ok(RetryPolicy {
            attempts,
            sleeptime,
            max_sleeptime,
            sleepscale,
            jitter,
        })
    }

    /// For an HTTP request someone is waiting on: 5 attempts sleeping about 1, 1.5, 2.25 and
    /// 3.4 s (≈ 8 s in all). Transient failures (a 503 while a service restarts, a reset
    /// connection) clear within seconds, and a caller such as a worker claiming work should not
    /// stall for redo's minutes; ±0.5 s of jitter (scaled) keeps clients that failed together
    /// from retrying in lockstep. The 10 s cap only matters if `attempts` is raised with
    /// [`RetryPolicy::with_attempts`].
    pub fn http() -> Self {
        RetryPolicy {
            attempts: 5,
            sleeptime: Duration::from_secs(1),
            max_sleeptime: Duration::from_secs(10),
            sleepscale: 1.5,
            jitter: Duration::from_millis(500),
        }
    }

    /// The same schedule with another number of calls.
    pub fn with_attempts(self, attempts: u32) -> Result<Self, PolicyError> {
        Self::new(
            attempts,
            self.sleeptime,
            self.max_sleeptime,
            self.sleepscale,
            self.jitter,
        )
    }

    pub fn attempts(&self) -> u32 {
        self.attempts
    }
    pub fn sleeptime(&self) -> Duration {
        self.sleeptime
    }
    pub fn max_sleeptime(&self) -> Duration {
        self.max_sleeptime
    }
    pub fn sleepscale(&self) -> f64 {
        self.sleepscale
    }
    pub fn jitter(&self) -> Duration {
        self.jitter
    }

    /// The sleeps of one run, with jitter drawn from OS entropy.
    pub fn delays(&self) -> Delays<StdRng> {
        self.delays_with_rng(StdRng::from_entropy())
    }

    /// The sleeps of one run, with jitter drawn from `rng` (a seeded one makes runs repeatable).
    pub fn delays_with_rng<R: Rng>(&self, rng: R) -> Delays<R> {
        Delays {
            remaining: self.attempts - 1,
            base: self.sleeptime.as_secs_f64(),
            jitter: self.jitter.as_secs_f64(),
            scale: self.sleepscale,
            max: self.max_sleeptime,
            rng,
        }
    }
}

/// The `attempts - 1` sleeps of one run of a [`RetryPolicy`], in order; a backon `Backoff` when
/// `R` is `Send + Sync + Unpin` (as [`StdRng`] is). It ends by itself, so backon needs no
/// `with_max_times` (which would count retries, not calls).
#[derive(Debug, Clone)]
pub struct Delays<R = StdRng> {
    remaining: u32,
    /// Seconds, uncapped: redo caps the jittered sleep, never the base it grows from.
    base: f64,
    jitter: f64,
    scale: f64,
    max: Duration,
    rng: R,
}

impl<R: Rng> Iterator for Delays<R> {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        // jitter <= base holds for every step (checked once, both grow by the same factor), so
        // the sum is never below 0. Scaling a draw from [-1, 1] rather than drawing from
        // [-jitter, jitter] keeps `gen_range` from panicking once the width overflows f64 after
        // some 1750 attempts; the cap then decides.
        let spread = if self.jitter > 0.0 {
            self.jitter * self.rng.gen_range(-1.0..=1.0)
        } else {
            0.0
        };
        let secs = self.base + spread;
        self.base *= self.scale;
        self.jitter *= self.scale;
        let max = self.max.as_secs_f64();
        Some(if secs.is_nan() || secs >= max {
            // The cap itself, not a float round trip of it.
            self.max
        } else {
            Duration::from_secs_f64(secs.max(0.0))
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.remaining as usize;
        (n, Some(n))
    }
}

impl<R: Rng> ExactSizeIterator for Delays<R> {}

/// What the failure hook learns about the attempt that just failed with a retryable error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// 1 for the first call.
    pub attempt: u32,
    pub attempts: u32,
    /// The sleep before the next attempt; `None` when this was the last one and its error is
    /// about to be returned.
    pub sleep: Option<Duration>,
}

/// Calls `op` until it succeeds, `when` says its error is not worth retrying, or the attempts run
/// out; returns the last result. `on_failure` runs after every failure that `when` accepted, the
/// last one included (redo's `cleanup`), before the sleep; errors `when` refuses are returned at
/// once without it. Sleeps on tokio's timer.
pub async fn retry_async<T, E, R, Op, Fut, W, N>(
    delays: Delays<R>,
    op: Op,
    when: W,
    on_failure: N,
) -> Result<T, E>
where
    R: Rng + Send + Sync + Unpin,
    Op: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    W: FnMut(&E) -> bool,
    N: FnMut(&E, Failure),
{
    retry_async_with_sleeper(delays, TokioSleeper, op, when, on_failure).await
}

/// [`retry_async`] sleeping with `sleeper`, e.g. `|d| async move { … }`: for a sleep that a
/// shutdown can cut short, or for tests that record the sleeps instead of waiting.
pub async fn retry_async_with_sleeper<T, E, R, S, Op, Fut, W, N>(
    delays: Delays<R>,
    sleeper: S,
    op: Op,
    when: W,
    mut on_failure: N,
) -> Result<T, E>
where
    R: Rng + Send + Sync + Unpin,
    S: Sleeper,
    Op: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    W: FnMut(&E) -> bool,
    N: FnMut(&E, Failure),
{
    let attempts = attempts_of(&delays);
    // backon calls `adjust` once per retryable failure with the next sleep, `None` on the last
    // one, unlike `notify`, which is skipped then. Its calls therefore count the attempts.
    let mut failed = 0;
    op.retry(delays)
        .sleep(sleeper)
        .when(when)
        .adjust(move |err, sleep| {
            failed += 1;
            on_failure(
                err,
                Failure {
                    attempt: failed,
                    attempts,
                    sleep,
                },
            );
            sleep
        })
        .await
}

/// The blocking form of [`retry_async`], sleeping the thread.
pub fn retry_blocking<T, E, R, Op, W, N>(
    delays: Delays<R>,
    mut op: Op,
    mut when: W,
    on_failure: N,
) -> Result<T, E>
where
    R: Rng + Send + Sync + Unpin,
    Op: FnMut() -> Result<T, E>,
    W: FnMut(&E) -> bool,
    N: FnMut(&E, Failure),
{
    let attempts = attempts_of(&delays);
    // Blocking backon has no `adjust`, and its `notify` does not fire after the last failure, so
    // the wrapper reports that one itself and `notify` the others; both need the hook and the
    // attempt number.
    let on_failure = RefCell::new(on_failure);
    let attempt = Cell::new(0);
    let classified = || {
        attempt.set(attempt.get() + 1);
        op().map_err(|err| {
            let retryable = when(&err);
            if retryable && attempt.get() == attempts {
                (on_failure.borrow_mut())(
                    &err,
                    Failure {
                        attempt: attempts,
                        attempts,
                        sleep: None,
                    },
                );
            }
            Classified { err, retryable }
        })
    };
    classified
        .retry(delays)
        .when(|c: &Classified<E>| c.retryable)
        .notify(|c: &Classified<E>, sleep| {
            (on_failure.borrow_mut())(
                &c.err,
                Failure {
                    attempt: attempt.get(),
                    attempts,
                    sleep: Some(sleep),
                },
            )
        })
        .call()
        .map_err(|c| c.err)
}

/// An error with `when`'s verdict, so that `when` runs once per failure.
struct Classified<E> {
    err: E,
    retryable: bool,
}

/// Calls still allowed by `delays`: one more than the sleeps left.
fn attempts_of<R: Rng>(delays: &Delays<R>) -> u32 {
    delays.remaining + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Arc, Mutex};

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn policy(attempts: u32, sleep: f64, max: f64, scale: f64, jitter: f64) -> RetryPolicy {
        RetryPolicy::new(attempts, secs(sleep), secs(max), scale, secs(jitter))
            .expect("valid test policy")
    }

    fn seeded(seed: u64) -> StdRng {
        StdRng::seed_from_u64(seed)
    }

    #[test]
    fn schedule_without_jitter_is_redos() {
        let d: Vec<Duration> = policy(5, 10.0, 300.0, 1.5, 0.0).delays().collect();
        assert_eq!(d, vec![secs(10.0), secs(15.0), secs(22.5), secs(33.75)]);
    }

    #[test]
    fn one_attempt_never_sleeps() {
        assert_eq!(policy(1, 10.0, 300.0, 1.5, 1.0).delays().count(), 0);
    }

    #[test]
    fn cap_applies_and_stays() {
        let d: Vec<Duration> = policy(7, 10.0, 30.0, 1.5, 0.0).delays().collect();
        assert_eq!(
            d,
            vec![
                secs(10.0),
                secs(15.0),
                secs(22.5),
                secs(30.0),
                secs(30.0),
                secs(30.0)
            ]
        );
    }

    #[test]
    fn max_below_sleeptime_caps_every_sleep() {
        let d: Vec<Duration> = policy(4, 10.0, 3.0, 1.5, 0.0).delays().collect();
        assert_eq!(d, vec![secs(3.0); 3]);
    }

    #[test]
    fn base_keeps_growing_under_the_cap() {
        // From the 5th sleep on, base - jitter = 5·1.5^4 ≈ 25 > 20, so every draw lands on the
        // cap. A base clamped at 20 would give 20 ± 25 and fall below the cap for most seeds.
        for seed in 0..200 {
            let d: Vec<Duration> = policy(9, 10.0, 20.0, 1.5, 5.0)
                .delays_with_rng(seeded(seed))
                .collect();
            assert!(
                d[4..].iter().all(|s| *s == secs(20.0)),
                "seed {seed}: {d:?}"
            );
        }
    }

    #[test]
    fn jitter_stays_within_its_scaled_bounds_and_spreads_both_ways() {
        let (mut below, mut above) = (0, 0);
        for seed in 0..500 {
            let d = policy(5, 10.0, 1000.0, 1.5, 2.0).delays_with_rng(seeded(seed));
            for (n, sleep) in d.enumerate() {
                let scale = 1.5f64.powi(n as i32);
                let offset = sleep.as_secs_f64() - 10.0 * scale;
                assert!(
                    offset.abs() <= 2.0 * scale + 1e-9,
                    "seed {seed} sleep {n}: {sleep:?}"
                );
                if offset < 0.0 {
                    below += 1;
                } else if offset > 0.0 {
                    above += 1;
                }
            }
        }
        assert!(below > 500 && above > 500, "below {below}, above {above}");
    }

    #[test]
    fn jitter_equal_to_sleeptime_never_goes_negative() {
        for seed in 0..200 {
            let total: Duration = policy(6, 1.0, 100.0, 2.0, 1.0)
                .delays_with_rng(seeded(seed))
                .sum();
            assert!(total <= secs(2.0 * (1.0 + 2.0 + 4.0 + 8.0 + 16.0)));
        }
    }

    #[test]
    fn same_seed_same_schedule() {
        let p = policy(6, 10.0, 300.0, 1.5, 1.0);
        let a: Vec<_> = p.delays_with_rng(seeded(42)).collect();
        let b: Vec<_> = p.delays_with_rng(seeded(42)).collect();
        let c: Vec<_> = p.delays_with_rng(seeded(43)).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn huge_attempt_counts_overflow_into_the_cap() {
        // 1.5^n overflows f64 near n = 1750; the iterator must neither panic nor leave the cap.
        let d = policy(5000, 10.0, 300.0, 1.5, 1.0).delays_with_rng(seeded(1));
        assert_eq!(d.len(), 4999);
        assert!(d.skip(20).all(|s| s == secs(300.0)));
    }

    #[test]
    fn invalid_policies_are_refused() {
        let err = RetryPolicy::new(5, secs(0.0), secs(300.0), 1.5, secs(1.0)).unwrap_err();
        assert_eq!(
            err,
            PolicyError::JitterExceedsSleeptime {
                jitter: secs(1.0),
                sleeptime: secs(0.0)
            }
        );
        assert_eq!(
            RetryPolicy::new(0, secs(1.0), secs(1.0), 1.5, secs(0.0)),
            Err(PolicyError::NoAttempts)
        );
        for scale in [0.0, -1.5, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                RetryPolicy::new(5, secs(1.0), secs(1.0), scale, secs(0.0)),
                Err(PolicyError::BadSleepscale(_))
            ));
        }
        assert!(RetryPolicy::new(5, secs(1.0), secs(1.0), 1.5, secs(1.0)).is_ok());
        assert_eq!(
            RetryPolicy::http().with_attempts(0),
            Err(PolicyError::NoAttempts)
        );
    }

    #[test]
    fn presets() {
        let redo = RetryPolicy::default();
        assert_eq!(
            (
                redo.attempts(),
                redo.sleeptime(),
                redo.max_sleeptime(),
                redo.sleepscale(),
                redo.jitter()
            ),
            (5, secs(60.0), secs(300.0), 1.5, secs(1.0))
        );
        // Both presets must be ones `new` accepts.
        for p in [RetryPolicy::default(), RetryPolicy::http()] {
            let again = RetryPolicy::new(
                p.attempts(),
                p.sleeptime(),
                p.max_sleeptime(),
                p.sleepscale(),
                p.jitter(),
            );
            assert_eq!(again.as_ref(), Ok(&p));
        }
        assert_eq!(
            RetryPolicy::http().with_attempts(9).map(|p| p.attempts()),
            Ok(9)
        );
    }

    #[derive(Debug, PartialEq)]
    enum TestError {
        Transient(u32),
        Fatal,
    }

    /// A sleeper that records instead of waiting, so real-sized schedules run instantly.
    fn recording() -> (Arc<Mutex<Vec<Duration>>>, impl Sleeper) {
        let slept = Arc::new(Mutex::new(Vec::new()));
        let log = slept.clone();
        let sleeper = move |d: Duration| {
            log.lock().expect("sleep log").push(d);
            std::future::ready(())
        };
        (slept, sleeper)
    }

    #[tokio::test]
    async fn async_attempts_count_calls_and_hook_sees_every_failure() {
        let p = policy(4, 10.0, 300.0, 1.5, 1.0);
        let expected: Vec<Duration> = p.delays_with_rng(seeded(9)).collect();
        let (slept, sleeper) = recording();
        let calls = AtomicU32::new(0);
        let mut failures = Vec::new();
        let result: Result<(), TestError> = retry_async_with_sleeper(
            p.delays_with_rng(seeded(9)),
            sleeper,
            || async {
                let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                Err(TestError::Transient(n))
            },
            |e| matches!(e, TestError::Transient(_)),
            |e, f| failures.push((format!("{e:?}"), f)),
        )
        .await;
        assert_eq!(result, Err(TestError::Transient(4)));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert_eq!(*slept.lock().expect("sleep log"), expected);
        let sleeps: Vec<Option<Duration>> = failures.iter().map(|(_, f)| f.sleep).collect();
        let mut want: Vec<Option<Duration>> = expected.into_iter().map(Some).collect();
        want.push(None);
        assert_eq!(sleeps, want);
        assert_eq!(
            failures.iter().map(|(_, f)| f.attempt).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        assert!(failures.iter().all(|(_, f)| f.attempts == 4));
        assert_eq!(failures[3].0, "Transient(4)");
    }

    #[tokio::test]
    async fn async_fatal_error_is_not_retried_nor_cleaned_up() {
        let (slept, sleeper) = recording();
        let calls = AtomicU32::new(0);
        let mut hooked = 0;
        let result: Result<(), TestError> = retry_async_with_sleeper(
            policy(5, 10.0, 300.0, 1.5, 1.0).delays(),
            sleeper,
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(TestError::Fatal)
            },
            |e| matches!(e, TestError::Transient(_)),
            |_, _| hooked += 1,
        )
        .await;
        assert_eq!(result, Err(TestError::Fatal));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(hooked, 0);
        assert!(slept.lock().expect("sleep log").is_empty());
    }

    #[tokio::test]
    async fn async_success_stops_retrying_on_tokio_time() {
        // The tokio sleeper for real, with sleeps of 1 and 1.5 ms.
        let calls = AtomicU32::new(0);
        let mut hooked = Vec::new();
        let result = retry_async(
            policy(5, 0.001, 1.0, 1.5, 0.0).delays(),
            || async {
                let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                if n < 3 {
                    Err(TestError::Transient(n))
                } else {
                    Ok(n)
                }
            },
            |_| true,
            |_, f| hooked.push(f.sleep),
        )
        .await;
        assert_eq!(result, Ok(3));
        assert_eq!(hooked, vec![Some(secs(0.001)), Some(secs(0.0015))]);
    }

    #[test]
    fn blocking_attempts_count_calls_and_hook_sees_every_failure() {
        let p = policy(3, 0.001, 1.0, 2.0, 0.0);
        let mut calls = 0;
        let mut failures = Vec::new();
        let result: Result<(), TestError> = retry_blocking(
            p.delays(),
            || {
                calls += 1;
                Err(TestError::Transient(calls))
            },
            |_| true,
            |e, f| failures.push((format!("{e:?}"), f)),
        );
        assert_eq!(result, Err(TestError::Transient(3)));
        assert_eq!(calls, 3);
        let seen: Vec<(String, u32, Option<Duration>)> = failures
            .into_iter()
            .map(|(e, f)| (e, f.attempt, f.sleep))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("Transient(1)".into(), 1, Some(secs(0.001))),
                ("Transient(2)".into(), 2, Some(secs(0.002))),
                ("Transient(3)".into(), 3, None),
            ]
        );
    }

    #[test]
    fn blocking_fatal_error_is_not_retried_and_success_returns() {
        let mut calls = 0;
        let mut hooked = 0;
        let fatal: Result<(), TestError> = retry_blocking(
            policy(5, 0.001, 1.0, 1.5, 0.0).delays(),
            || {
                calls += 1;
                Err(TestError::Fatal)
            },
            |e| *e != TestError::Fatal,
            |_, _| hooked += 1,
        );
        assert_eq!((fatal, calls, hooked), (Err(TestError::Fatal), 1, 0));

        let mut calls = 0;
        let ok = retry_blocking(
            policy(5, 0.001, 1.0, 1.5, 0.0).delays(),
            || {
                calls += 1;
                if calls < 2 {
                    Err(TestError::Transient(calls))
                } else {
                    Ok("done")
                }
            },
            |_| true,
            |_, _| hooked += 1,
        );
        assert_eq!((ok, calls, hooked), (Ok("done"), 2, 1));
    }

    #[test]
    fn partly_used_delays_allow_fewer_calls() {
        let mut d = policy(4, 0.001, 1.0, 1.5, 0.0).delays();
        d.next();
        let mut calls = 0;
        let _: Result<(), TestError> = retry_blocking(
            d,
            || {
                calls += 1;
                Err(TestError::Transient(calls))
            },
            |_| true,
            |_, _| {},
        );
        assert_eq!(calls, 3);
    }
}
