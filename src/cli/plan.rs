//! `stackform plan`

use std::process::ExitCode;

use clap::Args;

use super::{CliError, Output};
use crate::ops::{self, Goal, RunOptions, Workspace};
use crate::render;

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Print the plan as JSON (stable, machine-readable).
    #[arg(long)]
    pub json: bool,
    /// Plan against a cloud other than the one the state belongs to.
    #[arg(long)]
    pub migrate_cloud: bool,
}

pub async fn run(args: PlanArgs, ws: &Workspace, out: &Output) -> Result<ExitCode, CliError> {
    // A plan reads the state without its lock: nothing to wait for.
    let options = RunOptions {
        migrate_cloud: args.migrate_cloud,
        ..RunOptions::default()
    };
    let planned = ops::plan_with_options(ws, Goal::Converge, "plan", options).await?;
    super::print_warnings(&planned.desired, out.color);
    if args.json {
        let json = render::json::plan(&planned.plan);
        println!(
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        );
    } else {
        super::print_block(&render::human::plan(&planned.plan, out.color));
    }
    let changes = !planned.plan.is_empty();
    planned.connection.close().await;
    Ok(if args.detailed_exitcode && changes {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
