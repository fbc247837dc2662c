//! Nova v2.1 of the embedded cloud: servers (lifecycle, metadata, tags, instance actions),
//! flavors, quota sets, limits, availability zones and microversion negotiation.
//!
//! Server status is derived from timestamps: an action records when it completes and which
//! state it leads to, and every read settles what has completed by then. So a restart in the
//! middle of a build resumes exactly where the clock says it is. Ports, addresses and security
//! groups belong to Neutron and are reached only through `NetworkData`'s server seam.
//!
//! Layout: `model` (records and their clock), `ops` (Nova's rules and faults, no HTTP),
//! `render` (wire views), `query` (list filters and paging), `api` (routes, microversions,
//! server lifecycle), `resize` (resize, confirmResize, revertResize), `server_parts` (a server's metadata and tags), `server_views` (its
//! security groups, interfaces and instance actions), `volumes` (os-volume_attachments,
//! through Cinder's seam),
//! `consoles` (remote-consoles and os-getConsoleOutput),
//! `catalog` (flavors, quotas, limits, zones), `keypairs` (os-keypairs, per user), `server_groups` (os-server-groups and
//! their scheduling on the one host), and `tests` of the data layer.

mod api;
mod boot;
mod catalog;
mod consoles;
mod flavors;
mod keypairs;
mod model;
mod ops;
mod query;
mod render;
mod resize;
mod server_groups;
mod server_parts;
mod server_views;
#[cfg(test)]
mod tests;
mod volumes;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::sim::core::{JournalTable, Journaled, Record, Table};

use catalog::*;
use consoles::*;
use flavors::*;
use keypairs::*;
use model::*;
use ops::*;
use query::*;
use render::*;
use resize::*;
use server_groups::*;
use server_parts::*;
use server_views::*;
use volumes::*;

pub use api::routes;
pub use ops::reap_deleted_servers;

const MIN_MINOR: u32 = 1;
const MAX_MINOR: u32 = 96;
const MAX_PAGE: usize = 1000;
const MAX_SERVER_TAGS: usize = 50;
const MAX_TAG_LEN: usize = 60;
const AVAILABILITY_ZONE: &str = "nova";
const HOST: &str = "stackform-sim";

/// The negotiated compute microversion, 2.<minor>.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Microversion(u32);

impl Microversion {
    fn at_least(self, minor: u32) -> bool {
        self.0 >= minor
    }
}

#[derive(Default, Serialize, Deserialize)]
pub struct ComputeData {
    flavors: Vec<Flavor>,
    /// By id, indexed by project (stored as a list before the index).
    servers: Table<Server>,
    /// Per-project limits set through os-quota-sets; absent projects use the defaults.
    quotas: BTreeMap<String, Quota>,
    /// Numbers instance names (instance-0000000N) as Nova does.
    next_instance_index: u64,
    /// os-server-groups, by id.
    #[serde(default)]
    server_groups: BTreeMap<String, ServerGroup>,
    /// os-keypairs, per user.
    #[serde(default)]
    keypairs: Keypairs,
    #[serde(default)]
    next_keypair_id: u64,
}

impl ComputeData {
    /// Devstack's flavors m1.tiny to m1.large, with its ids 1 to 4.
    pub fn seed(&mut self) {
        for (id, name, vcpus, ram, disk) in [
            ("1", "m1.tiny", 1, 512, 1),
            ("2", "m1.small", 1, 2048, 20),
            ("3", "m1.medium", 2, 4096, 40),
            ("4", "m1.large", 4, 8192, 80),
        ] {
            self.flavors.push(Flavor {
                id: id.to_string(),
                name: name.to_string(),
                vcpus,
                ram,
                disk,
            });
        }
    }

    fn quota(&self, project_id: &str) -> Quota {
        self.quotas.get(project_id).copied().unwrap_or_default()
    }

    fn usage(&self, project_id: &str) -> Usage {
        let mut usage = Usage::default();
        for server in self.servers.of_project(project_id) {
            usage.instances += 1;
            usage.cores += server.flavor.vcpus;
            usage.ram += server.flavor.ram;
        }
        usage
    }

    /// Settles what has completed by `at`; the journal need not see it (see `settle_each`).
    fn settle_all(&mut self, at: DateTime<Utc>) {
        self.servers.settle_each(|server| server.settle(at));
    }

    fn settle_project(&mut self, project_id: &str, at: DateTime<Utc>) {
        let ids: Vec<String> = self
            .servers
            .ids_of_project(project_id)
            .iter()
            .cloned()
            .collect();
        for id in ids {
            self.servers.settle_one(&id, |server| server.settle(at));
        }
    }
}

impl Record for Server {
    fn id(&self) -> &str {
        &self.id
    }
    fn project_id(&self) -> &str {
        &self.project_id
    }
}

impl Journaled for ComputeData {
    fn tables(&mut self) -> Vec<(&'static str, &mut dyn JournalTable)> {
        vec![("servers", &mut self.servers)]
    }
    fn rest(&self) -> serde_json::Result<Vec<(&'static str, Vec<u8>)>> {
        Ok(vec![
            ("flavors", serde_json::to_vec(&self.flavors)?),
            ("quotas", serde_json::to_vec(&self.quotas)?),
            ("server_groups", serde_json::to_vec(&self.server_groups)?),
            ("keypairs", serde_json::to_vec(&self.keypairs)?),
            (
                "next_keypair_id",
                serde_json::to_vec(&self.next_keypair_id)?,
            ),
            (
                "next_instance_index",
                serde_json::to_vec(&self.next_instance_index)?,
            ),
        ])
    }
    fn replay_rest(&mut self, field: &str, value: serde_json::Value) -> serde_json::Result<()> {
        match field {
            "flavors" => self.flavors = serde_json::from_value(value)?,
            "quotas" => self.quotas = serde_json::from_value(value)?,
            "server_groups" => self.server_groups = serde_json::from_value(value)?,
            "keypairs" => self.keypairs = serde_json::from_value(value)?,
            "next_keypair_id" => self.next_keypair_id = serde_json::from_value(value)?,
            "next_instance_index" => self.next_instance_index = serde_json::from_value(value)?,
            _ => return Err(serde::de::Error::custom(format!("no field {field}"))),
        }
        Ok(())
    }
}
