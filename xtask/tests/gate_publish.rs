//! The verdict on GitHub, end to end: a real gate run (the release-gate
//! stage, real Gradle on a copy of the demo in a git repository of the
//! test's own) publishes to the stand-in GitHub API (`common/github.rs`);
//! a second run edits the same comment; a fresh clone answers from the
//! statuses alone.
//!
//! Runs the gate: `flock /tmp/xtask-e2e.lock cargo test -p xtask --test gate_publish`.

mod common;

use std::path::Path;

use common::*;

const TOKEN: &str = "ghs_e2e0fake0token0abcdef";
const CLASSES: [&str; 2] = [
    "com.ticketrush.demo.queue.QueuePolicyTest",
    "com.ticketrush.demo.http.JsonCodecTest",
];

/// A repository of its own: the demo's tracked files and an xtask.toml that
/// requires the release gate, committed, with the project's .gitignore.
fn project(dir: &Path) {
    for f in git(&root(), &["ls-files", "demo"]).lines() {
        let to = dir.join(f);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(root().join(f), &to).unwrap();
    }
    let classes = CLASSES.map(|c| format!("\"{c}\"")).join(", ");
    std::fs::write(
        dir.join("xtask.toml"),
        format!(
            "[project]\nservice_dir = \"demo\"\n\n[gradle]\noffline = true\ntimeout = \"5m\"\n\n\
             [release_gate]\nclasses = [{classes}]\n\n[gate]\nrequired = [\"release-gate\"]\n"
        ),
    )
    .unwrap();
    // The project's own ignores: what its runs leave (reports, builds, caches) is not a change.
    std::fs::copy(root().join(".gitignore"), dir.join(".gitignore")).unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "demo"]);
}

/// The xtask with `dir` as its workspace root, as in a checkout of its own.
fn xtask_in(dir: &Path, gh: &FakeGitHub, args: &[&str]) -> Run {
    let mut cmd = xtask();
    cmd.current_dir(dir)
        .env("CARGO_MANIFEST_DIR", dir.join("xtask"))
        .env("GITHUB_TOKEN", TOKEN)
        .args(["--config", "xtask.toml", "--reports-dir"])
        .arg(dir.join("reports"))
        .args(args)
        .args(["--repo", &gh.slug(), "--api-url", &gh.base]);
    let out = run(&mut cmd);
    eprintln!(
        "$ xtask {}\n{}{}-> {}",
        args.join(" "),
        out.stdout,
        out.stderr,
        out.code
    );
    out
}

fn ours(gh: &FakeGitHub, pr: u64) -> Vec<serde_json::Value> {
    gh.comments(pr)
        .into_iter()
        .filter(|c| {
            c["body"]
                .as_str()
                .unwrap()
                .contains("<!-- cargo-xtask:gate-pr -->")
        })
        .collect()
}

#[test]
fn a_gate_run_publishes_statuses_and_one_comment_that_later_runs_edit() {
    let work = TempDir::outside_repo("gate-publish");
    let repo = work.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    project(&repo);
    let head = git(&repo, &["rev-parse", "HEAD"]);
    let gh = FakeGitHub::start("acme", "tcs", TOKEN);
    gh.seed_comment(5, "a reviewer's comment");
    // A hiccup on the first request: retried, the run carries on.
    gh.fail_next(&[Fault::BadGateway]);

    let gate = [
        "gate",
        "--only",
        "release-gate",
        "--no-setup",
        "--publish",
        "--pr",
        "5",
    ];
    let first = xtask_in(&repo, &gh, &gate);
    assert_eq!(first.code, 0, "{}", first.show());
    assert!(
        !(first.stdout.clone() + &first.stderr).contains(TOKEN),
        "the token is masked"
    );
    let statuses = gh.statuses(&head);
    let state = |ctx: &str| {
        statuses
            .iter()
            .rev()
            .find(|s| s["context"] == ctx)
            .map(|s| {
                (
                    s["state"].as_str().unwrap().to_string(),
                    s["description"].as_str().unwrap().to_string(),
                )
            })
    };
    let (rg, rg_desc) = state("xtask/release-gate").expect("a status per required suite");
    assert_eq!(rg, "success");
    assert_eq!(
        rg_desc, "PASS from this commit: 20 tests, 0 failed",
        "counts in the description"
    );
    let (g, g_desc) = state("xtask/gate").expect("the frontend gate's status");
    assert_eq!(
        (g.as_str(), g_desc.as_str()),
        ("success", "READY: 1/1 suites PASS from this commit")
    );
    let comments = ours(&gh, 5);
    assert_eq!(comments.len(), 1, "one sticky comment");
    let body = comments[0]["body"].as_str().unwrap().to_string();
    assert!(
        body.contains("Frontend gate: READY") && body.contains("| release-gate | PASS |"),
        "{body}"
    );
    let received = gh.received();
    assert_eq!(
        received[0].method, "POST",
        "the 502'd request was sent again"
    );
    assert_eq!(received[0].target, received[1].target);
    assert!(received
        .iter()
        .all(|r| r.header("authorization") == Some(&format!("Bearer {TOKEN}"))));

    // A second run edits that comment; the issue gets its own.
    gh.clear_received();
    let again = xtask_in(&repo, &gh, &[&gate[..], &["--issue", "9"]].concat());
    assert_eq!(again.code, 0, "{}", again.show());
    let comments = ours(&gh, 5);
    assert_eq!(comments.len(), 1, "still one comment");
    assert_ne!(
        comments[0]["body"].as_str().unwrap(),
        body,
        "edited with the new run"
    );
    assert_eq!(gh.comments(5).len(), 2, "the reviewer's comment untouched");
    let methods: Vec<String> = gh
        .received()
        .iter()
        .map(|r| format!("{} {}", r.method, r.target.split('?').next().unwrap()))
        .collect();
    assert!(
        methods.contains(&format!(
            "PATCH /repos/acme/tcs/issues/comments/{}",
            comments[0]["id"]
        )),
        "{methods:?}"
    );
    let issue = gh.comments(9);
    assert_eq!(issue.len(), 1);
    let ib = issue[0]["body"].as_str().unwrap();
    assert!(
        ib.contains("May frontend work start? READY") && ib.contains("### Evidence"),
        "{ib}"
    );
    assert!(
        ib.contains(&format!("| release-gate | PASS | `{}` |", &head[..12])),
        "{ib}"
    );

    // A fresh clone has no reports: the statuses answer.
    let clone = work.join("clone");
    git(&work.0, &["clone", "-q", repo.to_str().unwrap(), "clone"]);
    let local = xtask_in(&clone, &gh, &["gate", "status"]);
    assert_eq!(local.code, 1);
    assert!(
        local.stdout.contains("MISSING") && local.stdout.contains("--remote"),
        "{}",
        local.show()
    );
    let remote = xtask_in(&clone, &gh, &["gate", "status", "--remote"]);
    assert_eq!(remote.code, 0, "{}", remote.show());
    assert!(
        remote.stdout.contains("frontend gate: READY"),
        "{}",
        remote.show()
    );
    assert!(
        remote.stdout.contains(&format!(
            "source: GitHub commit statuses of {} on acme/tcs",
            &head[..12]
        )),
        "{}",
        remote.show()
    );

    // A new commit has no statuses: STALE, naming where the answer came from.
    std::fs::write(clone.join("NOTES.md"), "later\n").unwrap();
    git(&clone, &["add", "NOTES.md"]);
    git(&clone, &["commit", "-q", "-m", "later"]);
    let stale = xtask_in(&clone, &gh, &["gate", "status", "--remote"]);
    assert_eq!(stale.code, 1, "{}", stale.show());
    assert!(
        stale.stdout.contains("frontend gate: STALE"),
        "{}",
        stale.show()
    );
    assert!(
        stale.stdout.contains("1 commit(s) before HEAD"),
        "{}",
        stale.show()
    );
    let json = xtask_in(&clone, &gh, &["gate", "status", "--remote", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["answer"], "STALE");
    assert_eq!(v["source"]["commit"], head.as_str());
}

#[test]
fn publishing_without_a_token_or_with_a_bad_one_is_one_line() {
    let work = TempDir::outside_repo("gate-publish-token");
    let gh = FakeGitHub::start("acme", "tcs", "the-right-token");
    // The reports folder is empty: the statuses say MISSING, which is fine here.
    let mut cmd = xtask();
    cmd.env("GITHUB_TOKEN", "a-wrong-token-value")
        .args(["--reports-dir"])
        .arg(work.join("reports"))
        .args([
            "gate",
            "publish",
            "--repo",
            &gh.slug(),
            "--api-url",
            &gh.base,
        ]);
    let out = run(&mut cmd);
    assert_eq!(out.code, 1, "{}", out.show());
    let err: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(err.len(), 1, "{}", out.show());
    assert!(
        err[0].contains("401 Bad credentials") && err[0].contains("GITHUB_TOKEN"),
        "{}",
        err[0]
    );
    assert!(
        !out.stderr.contains("a-wrong-token-value"),
        "{}",
        out.show()
    );

    let mut cmd = xtask();
    cmd.args(["--reports-dir"]).arg(work.join("reports")).args([
        "gate",
        "publish",
        "--repo",
        &gh.slug(),
        "--api-url",
        &gh.base,
    ]);
    let out = run(&mut cmd);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .starts_with("error: no GitHub token: set GITHUB_TOKEN"),
        "{}",
        out.show()
    );
    assert!(
        gh.received().len() == 1,
        "only the first run reached the API"
    );
}

#[test]
fn a_dry_run_prints_the_requests_with_the_token_masked() {
    let work = TempDir::outside_repo("gate-publish-dry");
    let gh = FakeGitHub::start("acme", "tcs", TOKEN);
    let mut cmd = xtask();
    cmd.env("GITHUB_TOKEN", TOKEN)
        .args(["--dry-run", "--reports-dir"])
        .arg(work.join("reports"))
        .args([
            "gate",
            "publish",
            "--pr",
            "3",
            "--issue",
            "4",
            "--repo",
            &gh.slug(),
            "--api-url",
            &gh.base,
        ]);
    let out = run(&mut cmd);
    assert_eq!(out.code, 0, "{}", out.show());
    assert!(gh.received().is_empty(), "nothing sent");
    let o = &out.stdout;
    assert!(
        o.contains("[dry-run] POST http://127.0.0.1:") && o.contains("/repos/acme/tcs/statuses/"),
        "{o}"
    );
    assert!(o.contains("\"context\": \"xtask/gate\""), "{o}");
    assert!(
        o.contains("/repos/acme/tcs/issues/3/comments")
            && o.contains("/repos/acme/tcs/issues/4/comments"),
        "{o}"
    );
    assert!(
        o.contains("authorization: Bearer ***") && !o.contains(TOKEN),
        "{o}"
    );
}
