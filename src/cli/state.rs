//! `stackform state list | show ADDRESS | restore [--backup] | recover --lineage ID`

use std::process::ExitCode;

use clap::Subcommand;

use super::{CliError, Output};
use crate::addr::Address;
use crate::ops::state::RestoreFrom;
use crate::ops::{self, OpsError, Workspace};

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Every resource the state manages, with its id.
    List,
    /// One resource's recorded attributes.
    Show {
        /// KIND.NAME, e.g. network.demo-net
        address: String,
    },
    /// Rebuild a damaged state from its last snapshot (state.json), or with --backup from the
    /// state before the last apply or destroy (state.backup.json); the damaged files are kept
    /// aside as *.damaged-<time>.
    Restore {
        /// Restore the state as it was before the last apply or destroy.
        #[arg(long)]
        backup: bool,
    },
    /// Rebuild a lost state from the cloud: adopt every resource tagged with the lineage.
    Recover {
        /// The lost state's lineage id (the value of its resources' `stackform-lineage:` tag).
        #[arg(long)]
        lineage: String,
    },
}

pub async fn run(cmd: StateCommand, ws: &Workspace, _out: &Output) -> Result<ExitCode, CliError> {
    match cmd {
        StateCommand::List => {
            let store = ops::state::open_read(ws)?;
            for record in store.records().await.map_err(OpsError::from)? {
                println!("{}\t{}", record.addr, record.id);
            }
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::Show { address } => {
            let addr: Address = address
                .parse()
                .map_err(|e: crate::addr::AddressError| CliError::Usage(e.to_string()))?;
            let store = ops::state::open_read(ws)?;
            let Some(record) = store.get(&addr).await.map_err(OpsError::from)? else {
                return Err(CliError::Usage(format!(
                    "{addr} is not in the state; `stackform state list` shows what is"
                )));
            };
            println!("# {}", record.addr);
            println!("id = {}", serde_json::Value::String(record.id));
            for (key, value) in &record.attrs {
                println!("{key} = {value}");
            }
            println!("# updated {}", record.updated_at);
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::Restore { backup } => {
            let from = if backup {
                RestoreFrom::Backup
            } else {
                RestoreFrom::Snapshot
            };
            let restored = ops::state::restore(ws, from)?;
            println!(
                "Restored the state in {}: lineage {}, serial {}, {} resources.",
                ws.state.display(),
                restored.lineage,
                restored.serial,
                restored.records.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::Recover { lineage } => {
            let count = ops::recover(ws, &lineage).await?;
            println!(
                "Recovered {count} resources of lineage {lineage} into the state in {}.",
                ws.state.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
