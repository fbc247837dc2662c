//! `stackform instance restart ADDRESS [--hard]`: reboots an instance of the state and waits
//! until it is ACTIVE again.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::{CliError, RunArgs};
use crate::ops::{self, Workspace};

#[derive(Debug, Subcommand)]
pub enum InstanceCommand {
    /// Reboot the instance (soft: the guest is asked to restart; --hard: power cycle) and wait
    /// until it is ACTIVE again.
    Restart(RestartArgs),
}

#[derive(Debug, Args)]
pub struct RestartArgs {
    /// The instance's address in the state, `instance.NAME`.
    pub address: String,
    /// Power-cycle the server (Nova's HARD reboot) instead of asking its guest.
    #[arg(long)]
    pub hard: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

pub async fn run(cmd: InstanceCommand, ws: &Workspace) -> Result<ExitCode, CliError> {
    match cmd {
        InstanceCommand::Restart(args) => {
            let kind = if args.hard { "hard" } else { "soft" };
            let id =
                ops::instance::restart_instance(ws, args.run.options(), &args.address, args.hard)
                    .await?;
            println!(
                "{}: restarted ({kind} reboot) and ACTIVE [id={id}]",
                args.address
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
