//! `relyard ci check` / `relyard ci run`: a repository's `.taskcluster.yml`, rendered as
//! Taskcluster-GitHub would render it for an event made up from the local checkout, checked as the
//! queue would check it, and run on this machine (or on a given server).

mod embedded;
mod event;
mod follow;
mod git;
mod graph;
mod progress;
mod run;

use clap::{Args, Subcommand};

#[derive(Args)]
pub struct CiArgs {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Subcommand)]
enum Verb {
    /// Render and check the work tree's `.taskcluster.yml` without running it; print the tasks.
    Check {
        #[command(flatten)]
        event: graph::EventArgs,
        /// The root URL the template sees as `taskcluster_root_url`.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        root_url: String,
    },
    /// Run HEAD's `.taskcluster.yml` graph here (or on --root-url) and follow it to its end.
    Run(run::RunArgs),
}

pub async fn run(args: CiArgs) -> anyhow::Result<()> {
    match args.verb {
        Verb::Check { event, root_url } => graph::check(&event, &root_url),
        Verb::Run(args) => run::run(args).await,
    }
}
