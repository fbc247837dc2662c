//! `stackform image upload FILE --tenant NAME --name NAME [...]`: a one-off image from a file
//! no spec names, uploaded and verified as `[image.NAME]` is; prints its id and status.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::CliError;
use crate::ops::{self, Workspace};

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Upload FILE to Glance as a tenant's image (record, streamed data, SHA-512 checked).
    Upload(UploadArgs),
}

#[derive(Debug, Args)]
pub struct UploadArgs {
    /// The image file.
    pub file: PathBuf,
    /// The tenant of the state that owns the image (its address name).
    #[arg(long)]
    pub tenant: String,
    /// The image's name in Glance.
    #[arg(long)]
    pub name: String,
    #[arg(long, default_value = "qcow2", value_parser = ["qcow2", "raw", "vhd", "vmdk", "vdi", "iso", "aki", "ami", "ari"])]
    pub disk_format: String,
    #[arg(long, default_value = "bare", value_parser = ["bare", "ovf", "aki", "ami", "ari"])]
    pub container_format: String,
    /// public needs `allow_public_images = true` in [provider].
    #[arg(long, default_value = "private", value_parser = ["private", "shared", "community", "public"])]
    pub visibility: String,
    /// The smallest disk (GB) a server booted from it needs.
    #[arg(long)]
    pub min_disk: Option<u64>,
    /// The smallest RAM (MB) a server booted from it needs.
    #[arg(long)]
    pub min_ram: Option<u64>,
}

pub async fn run(cmd: ImageCommand, ws: &Workspace) -> Result<ExitCode, CliError> {
    match cmd {
        ImageCommand::Upload(args) => {
            let request = ops::image::UploadRequest {
                tenant: args.tenant,
                name: args.name,
                disk_format: args.disk_format,
                container_format: args.container_format,
                visibility: args.visibility,
                min_disk: args.min_disk,
                min_ram: args.min_ram,
            };
            let image = ops::image::upload_image(ws, &args.file, &request).await?;
            println!(
                "image {} uploaded and verified: id {} status {} size {}",
                request.name,
                image.id,
                image.status,
                image.size.unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
