//! `stackform validate` and `stackform graph`

use std::process::ExitCode;

use super::{CliError, Output};
use crate::graph;
use crate::ops::{self, Workspace};
use crate::resources::Observed;

pub fn validate(ws: &Workspace, out: &Output) -> Result<ExitCode, CliError> {
    let desired = ops::validate(ws)?;
    super::print_warnings(&desired, out.color);
    graph::build(&desired, &Observed::default())
        .map_err(|d| CliError::Ops(ops::OpsError::Spec(d)))?;
    println!(
        "The spec is valid: {} resources in {}.",
        desired.resources.len(),
        ws.specs.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The graph of the spec alone: what depends on what, before any cloud is asked.
pub async fn run(ws: &Workspace, _out: &Output) -> Result<ExitCode, CliError> {
    let desired = ops::validate(ws)?;
    let graph = graph::build(&desired, &Observed::default())
        .map_err(|d| CliError::Ops(ops::OpsError::Spec(d)))?;
    print!("{}", graph.to_dot());
    Ok(ExitCode::SUCCESS)
}
