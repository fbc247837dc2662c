//! `stackform refresh-catalog`: pulls the volume catalog (types, zones, limits) and the
//! compute catalog (flavors, images, zones) and keeps them in the state; plans use them until
//! they are older than `[provider] catalog_max_age`.

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
    let pulled = ops::refresh_catalog(ws, args.run.options()).await?;
    let list = |names: Vec<&str>| {
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    };
    let catalog = &pulled.volume;
    println!("Volume catalog pulled at {}:", pulled.volume_pulled_at);
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
    let compute = &pulled.compute;
    println!("Compute catalog pulled at {}:", pulled.compute_pulled_at);
    let mut flavors: Vec<_> = compute.flavors.iter().flatten().collect();
    flavors
        .sort_by(|a, b| (a.vcpus, a.ram, a.disk, &a.name).cmp(&(b.vcpus, b.ram, b.disk, &b.name)));
    let flavors: Vec<String> = flavors
        .iter()
        .map(|f| {
            format!(
                "{} ({} vCPU, {} MiB RAM, {} GB disk)",
                f.name, f.vcpus, f.ram, f.disk
            )
        })
        .collect();
    println!(
        "  flavors: {}",
        list(flavors.iter().map(String::as_str).collect())
    );
    let mut images: Vec<String> = compute
        .images
        .iter()
        .flatten()
        .map(|i| {
            format!(
                "{} ({}, {})",
                i.name.as_deref().unwrap_or(&i.id),
                i.status,
                i.visibility.as_deref().unwrap_or("private")
            )
        })
        .collect();
    images.sort();
    println!(
        "  images: {}",
        list(images.iter().map(String::as_str).collect())
    );
    println!(
        "  availability zones: {}",
        list(compute.zones.iter().map(String::as_str).collect())
    );
    Ok(ExitCode::SUCCESS)
}
