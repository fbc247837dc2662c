//! `stackform tenant credentials NAME`: the credentials of a tenant's own user, as shell
//! exports an `openstack` CLI reads.

use std::process::ExitCode;

use clap::Subcommand;

use super::{CliError, Output};
use crate::ops::{self, Workspace};

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Print the credentials of the tenant's own user (only with `[provider]
    /// tenant_credentials_visible = true`).
    Credentials {
        /// The tenant's name in the spec (`[tenant.NAME]`).
        name: String,
    },
}

pub async fn run(cmd: TenantCommand, ws: &Workspace, _out: &Output) -> Result<ExitCode, CliError> {
    match cmd {
        TenantCommand::Credentials { name } => {
            let c = ops::tenant_credentials(ws, &name)?;
            // The user and project by id: they need no domain to authenticate.
            println!(
                "# the own user of tenant.{name}: {} in project {}",
                c.user_name, c.project_name
            );
            println!("export OS_AUTH_URL={}", c.auth_url);
            println!("export OS_USER_ID={}", c.user_id);
            println!("export OS_PASSWORD={}", c.password);
            println!("export OS_PROJECT_ID={}", c.project_id);
            Ok(ExitCode::SUCCESS)
        }
    }
}
