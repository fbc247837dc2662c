//! `stackform refresh-catalog`: pulls the volume catalog (types, zones, limits) and keeps it
//! in the state; plans use it until it is older than `[provider] catalog_max_age`.

use std::process::ExitCode;

use clap::Args;

use super::{CliError, Output, RunArgs};
use crate::ops::{self, Workspace};

#[derive(Debug, Args)]
pub struct RefreshCatalogArgs {
    #[command(flatten)]
    pub run: RunArgs,
}

pub async fn run(
    args: RefreshCatalogArgs,
    ws: &Workspace,
    _out: &Output,
) -> Result<ExitCode, CliError> {
    let (catalog, pulled_at) = ops::refresh_catalog(ws, args.run.options()).await?;
    let list = |names: Vec<&str>| {
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    };
    println!("Volume catalog pulled at {pulled_at}:");
    println!(
        "  volume types: {}",
        list(catalog.volume_types.iter().map(String::as_str).collect())
    );
    println!(
        "  availability zones: {}",
        list(catalog.zones.iter().map(String::as_str).collect())
    );
    let limits: Vec<String> = catalog
        .limits
        .iter()
        .filter(|(k, _)| k.starts_with("max"))
        .map(|(k, v)| format!("{k} = {v}"))
        .collect();
    println!(
        "  limits: {}",
        list(limits.iter().map(String::as_str).collect())
    );
    Ok(ExitCode::SUCCESS)
}
