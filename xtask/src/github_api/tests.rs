//! The real client against the stand-in GitHub (`tests/common/github.rs`):
//! what is sent is pinned by golden files (`tests/golden/github/`,
//! `UPDATE_GOLDEN=1` rewrites them).

use super::*;
use crate::runner::{Runner, Verbosity};

#[path = "../../tests/common/github.rs"]
mod fake;
use fake::{FakeGitHub, Fault};

const TOKEN: &str = "ghs_fake0token0for0tests";
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

fn api(gh: &FakeGitHub) -> Api {
    Api::new(
        &gh.base,
        gh.slug().parse().unwrap(),
        Some(TOKEN.into()),
        &Runner::new(".".into(), false, Verbosity::Quiet),
    )
    .unwrap()
    .with_backoff(Backoff {
        base: Duration::from_millis(10),
        attempts: 3,
        max_wait: Duration::from_secs(3),
    })
}

fn golden(name: &str, actual: &str) {
    let path = format!("{}/tests/golden/github/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(std::path::Path::new(&path).parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
    }
    let want = std::fs::read_to_string(&path).expect("golden file (UPDATE_GOLDEN=1 writes it)");
    assert_eq!(
        actual, want,
        "requests changed; review and rerun with UPDATE_GOLDEN=1"
    );
}

fn status(context: &str, state: StatusState, description: &str) -> CommitStatus {
    CommitStatus {
        context: context.into(),
        state,
        description: Some(description.into()),
        target_url: Some("https://github.com/acme/tcs/actions/runs/42".into()),
        updated_at: None,
    }
}

#[test]
fn statuses_are_created_and_read_back_as_the_combined_status() {
    let gh = FakeGitHub::start("acme", "tcs", TOKEN);
    let api = api(&gh);
    api.create_status(
        SHA,
        &status("xtask/release-gate", StatusState::Success, "PASS: 5 tests"),
    )
    .unwrap();
    api.create_status(
        SHA,
        &status("xtask/gate", StatusState::Failure, "NOT READY"),
    )
    .unwrap();
    api.create_status(SHA, &status("xtask/gate", StatusState::Success, "READY"))
        .unwrap();
    let combined = api.combined_status(SHA).unwrap().unwrap();
    assert_eq!(combined.sha, SHA);
    assert_eq!(combined.state, StatusState::Success);
    let gate = combined
        .statuses
        .iter()
        .find(|s| s.context == "xtask/gate")
        .unwrap();
    assert_eq!(gate.state, StatusState::Success, "the latest per context");
    assert_eq!(combined.statuses.len(), 2);
    golden("statuses.txt", &gh.golden());
}

#[test]
fn the_sticky_comment_is_found_on_a_later_page_and_edited_in_place() {
    let gh = FakeGitHub::start("acme", "tcs", TOKEN);
    for i in 0..120 {
        gh.seed_comment(7, &format!("a person's comment {i}"));
    }
    let marker = "<!-- xtask-gate -->";
    let api = api(&gh);
    let first = api
        .upsert_comment(7, marker, &format!("{marker}\nNOT READY"))
        .unwrap();
    assert!(first.starts_with("created comment"), "{first}");
    let again = api
        .upsert_comment(7, marker, &format!("{marker}\nREADY"))
        .unwrap();
    assert!(again.starts_with("edited comment"), "{again}");
    let ours: Vec<_> = gh
        .comments(7)
        .into_iter()
        .filter(|c| c["body"].as_str().unwrap().contains(marker))
        .collect();
    assert_eq!(ours.len(), 1, "never duplicated");
    assert_eq!(ours[0]["body"], format!("{marker}\nREADY"));
    golden("sticky-comment.txt", &gh.golden());
}

#[test]
fn a_502_is_retried_with_backoff() {
    let gh = FakeGitHub::start("acme", "tcs", TOKEN);
    gh.fail_next(&[Fault::BadGateway, Fault::BadGateway]);
    api(&gh)
        .create_status(SHA, &status("xtask/gate", StatusState::Success, "READY"))
        .unwrap();
    assert_eq!(gh.received().len(), 3);
    assert_eq!(gh.statuses(SHA).len(), 1);
}

#[test]
fn a_502_every_time_fails_in_one_line_after_the_attempts() {
    let gh = FakeGitHub::start("acme", "tcs", TOKEN);
    gh.fail_next(&vec![Fault::BadGateway; 5]);
    let e = api(&gh)
        .create_status(SHA, &status("xtask/gate", StatusState::Success, "READY"))
        .unwrap_err()
        .to_string();
    assert_eq!(gh.received().len(), 3);
    assert!(
        e.contains("failed 3 times") && e.contains("502 Bad Gateway"),
        "{e}"
    );
    assert!(!e.contains('\n'), "{e}");
}

#[test]
fn a_rate_limit_that_resets_soon_is_waited_out() {
    let gh = FakeGitHub::start("acme", "tcs", TOKEN);
    gh.fail_next(&[
        Fault::RateLimited { in_secs: 0 },
        Fault::SecondaryRateLimit { retry_after: 0 },
    ]);
    let comments = api(&gh).list_comments(3).unwrap();
    assert!(comments.is_empty());
    assert_eq!(gh.received().len(), 3);
}

#[test]
fn a_rate_limit_that_resets_late_is_an_error_saying_when() {
    let gh = FakeGitHub::start("acme", "tcs", TOKEN);
    gh.fail_next(&[Fault::RateLimited { in_secs: 3000 }]);
    let e = api(&gh).list_comments(3).unwrap_err().to_string();
    assert!(e.contains("rate limit") && e.contains("resets 20"), "{e}");
    assert!(e.contains("API rate limit exceeded"), "{e}");
    assert_eq!(gh.received().len(), 1, "not retried");
}

#[test]
fn a_wrong_token_is_one_line_naming_the_request_and_never_the_token() {
    let gh = FakeGitHub::start("acme", "tcs", "another-token");
    let e = api(&gh)
        .create_status(SHA, &status("xtask/gate", StatusState::Success, "READY"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("401 Bad credentials") && e.contains("GITHUB_TOKEN"),
        "{e}"
    );
    assert!(
        e.contains(&format!("POST /repos/acme/tcs/statuses/{SHA}")),
        "{e}"
    );
    assert!(!e.contains(TOKEN) && !e.contains('\n'), "{e}");
    golden("unauthorized.txt", &gh.golden());
}

#[test]
fn forbidden_and_not_found_say_what_to_check() {
    let gh = FakeGitHub::start("acme", "tcs", TOKEN);
    gh.fail_next(&[Fault::Forbidden, Fault::NotFound]);
    let api = api(&gh);
    let e = api.create_comment(9, "x").unwrap_err().to_string();
    assert!(
        e.contains("403 Resource not accessible by integration") && e.contains("issues: write"),
        "{e}"
    );
    let e = api.list_comments(9).unwrap_err().to_string();
    assert!(e.contains("404 Not Found") && e.contains("acme/tcs"), "{e}");
    assert_eq!(gh.received().len(), 2, "neither is retried");
}

#[test]
fn a_dry_run_sends_nothing() {
    let gh = FakeGitHub::start("acme", "tcs", TOKEN);
    let api = Api::new(
        &gh.base,
        gh.slug().parse().unwrap(),
        Some(TOKEN.into()),
        &Runner::new(".".into(), true, Verbosity::Quiet),
    )
    .unwrap();
    api.create_status(SHA, &status("xtask/gate", StatusState::Success, "READY"))
        .unwrap();
    assert!(api.combined_status(SHA).unwrap().is_none());
    api.upsert_comment(1, "m", "m body").unwrap();
    assert!(gh.received().is_empty());
}

#[test]
fn link_headers_give_the_next_page() {
    let h = r#"<https://api.github.com/repositories/1/issues/7/comments?per_page=100&page=2>; rel="next", <https://api.github.com/repositories/1/issues/7/comments?per_page=100&page=5>; rel="last""#;
    assert_eq!(
        next_link(h).as_deref(),
        Some("https://api.github.com/repositories/1/issues/7/comments?per_page=100&page=2")
    );
    assert_eq!(next_link(r#"<https://x/a?page=1>; rel="prev""#), None);
    assert!(same_origin(
        "https://api.github.com",
        "https://api.github.com/x?y"
    ));
    assert!(!same_origin(
        "https://api.github.com",
        "https://evil.example/api.github.com"
    ));
    assert!(!same_origin("http://127.0.0.1:1", "http://127.0.0.1:2/x"));
}

#[test]
fn repositories_are_owner_slash_name() {
    let r: Repo = "rag-cargoo/ticket-core-service".parse().unwrap();
    assert_eq!(r.to_string(), "rag-cargoo/ticket-core-service");
    for bad in ["", "x", "a/b/c", "../b", "a/..", "a b/c", "a/b?x"] {
        assert!(bad.parse::<Repo>().is_err(), "{bad}");
    }
    assert_eq!(
        Repo::from_remote_url("git@github.com:rag-cargoo/ticket-core-service.git"),
        Some(r.clone())
    );
    assert_eq!(
        Repo::from_remote_url("https://github.com/rag-cargoo/ticket-core-service"),
        Some(r)
    );
    assert_eq!(Repo::from_remote_url("/srv/git/tcs.git"), None);
}

#[test]
fn descriptions_fit_githubs_limit() {
    let long = "x".repeat(300);
    assert_eq!(description(&long).chars().count(), MAX_DESCRIPTION);
    assert_eq!(description("short"), "short");
    let _ = Answer::new(200, &[], "");
}
