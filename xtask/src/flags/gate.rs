//! `gate`, `gate status` and `gate publish`: stage selection, the environment, and where
//! on GitHub the verdict goes.

use clap::{Args, Subcommand};

use crate::{config::EnvKind, units::Replicas};

#[derive(Debug, Args)]
pub struct Gate {
    #[command(subcommand)]
    pub sub: Option<GateSub>,
    /// Run every stage even after a failure
    #[arg(long)]
    pub keep_going: bool,
    /// Run only this stage (repeatable)
    #[arg(long, value_name = "STAGE")]
    pub only: Vec<String>,
    /// Skip this stage (repeatable)
    #[arg(long, value_name = "STAGE")]
    pub skip: Vec<String>,
    /// Do not check and install tools first
    #[arg(long)]
    pub no_setup: bool,
    /// Environment for the stages that need one [default: from xtask.toml]
    #[arg(long = "env", value_enum, value_name = "KIND")]
    pub env: Option<EnvKind>,
    /// Start an environment of its own even when one recorded by `env up` (or keep-env) runs
    #[arg(long)]
    pub fresh: bool,
    /// Replicas for the distributed stage
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub replicas: Option<Replicas>,
    /// Stages at once, as the graph allows [default: no limit]; 1: one by one, in order
    #[arg(long, short = 'j', value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub jobs: Option<u32>,
    /// Afterwards, publish the verdict on GitHub as `gate publish` does
    #[arg(long)]
    pub publish: bool,
    #[command(flatten)]
    pub target: PublishOpts,
}

#[derive(Debug, Subcommand)]
pub enum GateSub {
    /// May frontend work start? Every required report PASS, from HEAD, and every file condition
    #[command(
        after_help = "Conditions whose path starts with {docs_root}/ are looked for in the docs repository:\n\
XTASK_DOCS_ROOT, else [gate].docs_root. When that folder is not there, one `docs root` row says so."
    )]
    Status(GateStatus),
    /// Publish the verdict on GitHub: a commit status per required suite and `xtask/gate`, a sticky pull-request comment, an issue comment
    #[command(
        long_about = "Publish the verdict where the team looks, through the GitHub REST API:\n\
- on the commit (HEAD): a status per required suite (`xtask/<suite>`) and one for the frontend gate (`xtask/gate`), each with the counts and a link to the workflow run;\n\
- on the pull request (--pr, or the Actions event's): one comment with the stage table and the verdict, found by a hidden marker and edited in place on every run;\n\
- on an issue (--issue N): one comment with the verdict, the conditions and the evidence.\n\n\
The token is read from GITHUB_TOKEN (or GH_TOKEN), never from a flag, and is masked in every output. On GitHub Actions the repository, API URL, run link and pull request come from the runner's variables and event payload. --dry-run prints the requests instead of sending them."
    )]
    Publish(GatePublish),
}

/// Where the verdict goes on GitHub.
#[derive(Debug, Args, Clone, Default)]
pub struct GitHubOpts {
    /// Repository [default: GITHUB_REPOSITORY, else the `origin` remote's github.com URL]
    #[arg(long, value_name = "OWNER/NAME", value_parser = parse_repo)]
    pub repo: Option<crate::github_api::Repo>,
    /// GitHub REST API root [default: GITHUB_API_URL, else https://api.github.com]
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    /// The commit [default: HEAD, else GITHUB_SHA]
    #[arg(long, value_name = "SHA")]
    pub sha: Option<String>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct PublishOpts {
    #[command(flatten)]
    pub github: GitHubOpts,
    /// Pull request for the sticky comment [default: the Actions event's pull request; none elsewhere]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub pr: Option<u64>,
    /// Also comment on this issue: the verdict, the conditions and the evidence (edited in place)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub issue: Option<u64>,
    /// Link for the statuses and comments [default: this workflow run on Actions]
    #[arg(long, value_name = "URL")]
    pub run_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct GatePublish {
    #[command(flatten)]
    pub target: PublishOpts,
}

#[derive(Debug, Args)]
pub struct GateStatus {
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
    /// Answer from the commit statuses `gate publish` left on GitHub (for a fresh clone without reports)
    #[arg(long)]
    pub remote: bool,
    #[command(flatten)]
    pub github: GitHubOpts,
}

fn parse_repo(s: &str) -> Result<crate::github_api::Repo, String> {
    s.parse().map_err(|e: anyhow::Error| e.to_string())
}
