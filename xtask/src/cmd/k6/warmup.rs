//! The legacy warm-up of `k6 distributed`, in Rust: its bounds resolved
//! once (flag > legacy variable > `[k6.distributed.warmup]`), then single
//! joins until enough valid answers in a row, then bursts of concurrent
//! joins until one is valid throughout. k6 is not run against a service
//! that does not answer this.

use anyhow::bail;

use super::{settings::Settings, HTTP_TIMEOUT};
use crate::{
    context::Ctx,
    flags, probe,
    report::Report,
    runner,
    units::{Duration, HttpUrl},
};

const VALID_STATUSES: [&str; 3] = ["WAITING", "ACTIVE", "REJECTED"];

#[derive(Clone, Debug)]
pub(super) struct Warmup {
    pub(super) max_attempts: u32,
    pub(super) consecutive: u32,
    pub(super) sleep: Duration,
    pub(super) burst_requests: u32,
    pub(super) burst_attempts: u32,
}

impl Warmup {
    /// Bad bounds are one line here, before anything starts.
    pub(super) fn resolve(ctx: &Ctx, f: &flags::K6Distributed) -> anyhow::Result<Warmup> {
        let w = &ctx.config.k6.distributed.warmup;
        let warmup = Warmup {
            max_attempts: f.warmup_max_attempts.unwrap_or(w.max_attempts),
            consecutive: f.warmup_consecutive.unwrap_or(w.consecutive),
            sleep: f.warmup_sleep.unwrap_or(w.sleep),
            burst_requests: f.warmup_burst_requests.unwrap_or(w.burst_requests),
            burst_attempts: f.warmup_burst_attempts.unwrap_or(w.burst_attempts),
        };
        if warmup.consecutive == 0 || warmup.max_attempts < warmup.consecutive {
            bail!(
                "bad warm-up: K6_WARMUP_CONSECUTIVE ({}) must be at least 1 and at most K6_WARMUP_MAX_ATTEMPTS ({})",
                warmup.consecutive,
                warmup.max_attempts
            );
        }
        if warmup.burst_requests == 0 || warmup.burst_attempts == 0 || warmup.burst_requests > 1000
        {
            bail!(
                "bad warm-up: K6_WARMUP_BURST_REQUESTS ({}) must be 1 to 1000 and K6_WARMUP_BURST_ATTEMPTS ({}) at least 1",
                warmup.burst_requests,
                warmup.burst_attempts
            );
        }
        Ok(warmup)
    }
}

/// The legacy warm-up, in Rust: single joins until `consecutive` valid
/// answers in a row, then bursts of `burst_requests` concurrent joins until
/// one burst is valid throughout.
pub(super) fn warm_up(
    ctx: &Ctx,
    w: &Warmup,
    url: &HttpUrl,
    s: &Settings,
    report: &mut Report,
) -> anyhow::Result<()> {
    report.param(
        "Warm-up",
        format!(
            "{} valid joins in a row (at most {} tries, {} apart after a failure), then a fully valid burst of {} (at most {} bursts)",
            w.consecutive, w.max_attempts, w.sleep, w.burst_requests, w.burst_attempts
        ),
    );
    let what = format!(
        "warm up: POST {url} until {} valid joins in a row (at most {} tries), then bursts of {} concurrent joins until one is fully valid (at most {})",
        w.consecutive, w.max_attempts, w.burst_requests, w.burst_attempts
    );
    ctx.runner.effect(what, || joins(ctx, w, url, s))
}

/// The warm-up's joins, for real.
fn joins(ctx: &Ctx, w: &Warmup, url: &HttpUrl, s: &Settings) -> anyhow::Result<()> {
    ctx.runner.say(&format!("==> warm-up: joins to {url}"));
    // Warm-up users sit below the k6 range (base + VU * 100000 + iteration, VU >= 1).
    let mut next_user = s.user_id_base;
    let mut join = || -> Result<(), String> {
        next_user += 1;
        join_once(url, next_user, s.concert_id)
    };

    let mut streak = 0;
    let mut last_err = String::new();
    let mut attempts = 0;
    while streak < w.consecutive {
        if attempts == w.max_attempts {
            bail!(
                "warm-up failed: no {} valid joins in a row within {} attempts at {url} (last answer: {last_err}); k6 was not run",
                w.consecutive,
                w.max_attempts
            );
        }
        runner::check_interrupt()?;
        attempts += 1;
        match join() {
            Ok(()) => streak += 1,
            Err(e) => {
                streak = 0;
                last_err = e;
                runner::sleep(w.sleep.std())?;
            }
        }
    }

    let mut bursts = 0;
    loop {
        if bursts == w.burst_attempts {
            bail!(
                "warm-up failed: none of {} bursts of {} concurrent joins was fully valid at {url} (last failure: {last_err}); k6 was not run",
                w.burst_attempts,
                w.burst_requests
            );
        }
        runner::check_interrupt()?;
        bursts += 1;
        let first = next_user;
        next_user += w.burst_requests as u64;
        let results: Vec<Result<(), String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (1..=w.burst_requests as u64)
                .map(|i| scope.spawn(move || join_once(url, first + i, s.concert_id)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("warm-up thread panicked".into()))
                })
                .collect()
        });
        let mut failures = 0;
        for r in results {
            if let Err(e) = r {
                failures += 1;
                last_err = e;
            }
        }
        if failures == 0 {
            break;
        }
        last_err = format!("{failures} of {} failed, e.g. {last_err}", w.burst_requests);
        runner::sleep(w.sleep.std())?;
    }
    ctx.runner.say(&format!(
        "<== warm-up: {streak} valid joins in a row after {attempts} attempts, a valid burst after {bursts}"
    ));
    Ok(())
}

/// One join; Ok when the answer is HTTP 200 with a known status.
fn join_once(url: &HttpUrl, user: u64, concert: u64) -> Result<(), String> {
    let body = serde_json::json!({ "userId": user, "concertId": concert }).to_string();
    let r = probe::http_post_json(url, &body, HTTP_TIMEOUT).map_err(|e| format!("{e:#}"))?;
    valid_join(r.status, &r.body)
}

fn valid_join(status: u16, body: &[u8]) -> Result<(), String> {
    if status != 200 {
        return Err(format!("HTTP {status}"));
    }
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|_| {
        format!(
            "HTTP 200 with a body that is not JSON: {}",
            String::from_utf8_lossy(body)
        )
    })?;
    match v.get("status").and_then(|s| s.as_str()) {
        Some(st) if VALID_STATUSES.contains(&st) => Ok(()),
        Some(st) => Err(format!("HTTP 200 with unknown status `{st}`")),
        None => Err("HTTP 200 without a `status`".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_join_is_200_with_a_known_status() {
        assert_eq!(
            valid_join(200, br#"{"status":"WAITING","rank":130}"#),
            Ok(())
        );
        assert_eq!(valid_join(200, br#"{"status":"ACTIVE","rank":1}"#), Ok(()));
        assert_eq!(
            valid_join(200, br#"{"status":"REJECTED","rank":9}"#),
            Ok(())
        );
        assert_eq!(
            valid_join(503, br#"{"error":"redis unavailable"}"#),
            Err("HTTP 503".into())
        );
        assert_eq!(
            valid_join(200, br#"{"status":"PENDING"}"#),
            Err("HTTP 200 with unknown status `PENDING`".into())
        );
        assert!(valid_join(200, b"<html>").unwrap_err().contains("not JSON"));
        assert!(valid_join(200, b"{}")
            .unwrap_err()
            .contains("without a `status`"));
    }
}
