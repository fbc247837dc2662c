//! `stackform plan`

use std::process::ExitCode;

use clap::Args;

use super::{CliError, Output};
use crate::ops::{self, Goal, Workspace};
use crate::render;

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Print the plan as JSON (stable, machine-readable).
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: PlanArgs, ws: &Workspace, out: &Output) -> Result<ExitCode, CliError> {
    let planned = ops::plan(ws, Goal::Converge, "plan").await?;
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
