//! `stackform state list` / `stackform state show ADDRESS`

use std::process::ExitCode;

use clap::Subcommand;

use super::{CliError, Output};
use crate::addr::Address;
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
}

pub async fn run(cmd: StateCommand, ws: &Workspace, _out: &Output) -> Result<ExitCode, CliError> {
    match cmd {
        StateCommand::List => {
            let store = ops::open_state(ws)?;
            for record in store.records().await.map_err(OpsError::from)? {
                println!("{}\t{}", record.addr, record.id);
            }
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::Show { address } => {
            let addr: Address = address
                .parse()
                .map_err(|e: crate::addr::AddressError| CliError::Usage(e.to_string()))?;
            let store = ops::open_state(ws)?;
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
    }
}
