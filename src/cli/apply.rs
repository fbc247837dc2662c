//! `stackform apply` and `stackform destroy`

use std::io::{BufRead, Write};
use std::process::ExitCode;

use clap::Args;

use super::{CliError, Output, RunArgs};
use crate::apply::Event;
use crate::ops::{self, Goal, Planned, Workspace};
use crate::render;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// How many API calls to make at once (overrides `[provider] parallelism`).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallelism: Option<u16>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// How many API calls to make at once (overrides `[provider] parallelism`).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallelism: Option<u16>,
    #[command(flatten)]
    pub run: RunArgs,
}

pub async fn run(args: ApplyArgs, ws: &Workspace, out: &Output) -> Result<ExitCode, CliError> {
    let options = ops::RunOptions {
        parallelism: args.parallelism.map(usize::from),
        ..args.run.options()
    };
    let planned = ops::plan_with_options(ws, Goal::Converge, "apply", options).await?;
    super::print_warnings(&planned.desired, out.color);
    execute(
        planned,
        args.auto_approve,
        args.parallelism,
        out,
        "Do you want to perform these actions?",
    )
    .await
}

pub async fn destroy(
    args: DestroyArgs,
    ws: &Workspace,
    out: &Output,
) -> Result<ExitCode, CliError> {
    let options = ops::RunOptions {
        parallelism: args.parallelism.map(usize::from),
        ..args.run.options()
    };
    let planned = ops::plan_with_options(ws, Goal::Destroy, "destroy", options).await?;
    execute(
        planned,
        args.auto_approve,
        args.parallelism,
        out,
        "Do you really want to destroy all resources?",
    )
    .await
}

async fn execute(
    planned: Planned,
    auto_approve: bool,
    parallelism: Option<u16>,
    out: &Output,
    question: &str,
) -> Result<ExitCode, CliError> {
    super::print_block(&render::human::plan(&planned.plan, out.color));
    if planned.plan.is_empty() {
        let adopted = ops::record_adoptions(&planned).await;
        planned.connection.close().await;
        adopted?;
        return Ok(ExitCode::SUCCESS);
    }
    if !auto_approve && !confirm(question)? {
        planned.connection.close().await;
        println!("Apply cancelled.");
        return Ok(ExitCode::from(1));
    }
    println!();
    let on_event = |event: Event| println!("{}", render::human::step_line(event));
    let result = ops::apply(&planned, parallelism.map(usize::from), &on_event).await;
    planned.connection.close().await;
    let outcome = result?;
    println!();
    println!(
        "{}",
        render::human::apply_summary(
            outcome.added,
            outcome.changed,
            outcome.destroyed,
            // Done but not recorded counts as failed: the state is behind the cloud.
            outcome.failed.len() + outcome.unrecorded.len(),
            outcome.skipped.len()
        )
    );
    Ok(if outcome.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Asks, as Terraform does, on standard input: only "yes" approves; anything else, or no
/// input at all (end of file, e.g. `< /dev/null` in a script), cancels.
fn confirm(question: &str) -> Result<bool, CliError> {
    print!("\n{question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    println!();
    Ok(line.trim() == "yes")
}
