//! Neutron v2.0 of the embedded cloud. (being written)
//!
//! Besides its HTTP routes, it offers Nova the port plumbing a server needs
//! ([`NetworkData::attach_server_port`] and friends): Nova never touches ports directly.
#![allow(dead_code)]

use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct NetworkData {}

/// How a server asks for its network (`networks` in POST /servers).
#[derive(Clone, Debug)]
pub enum ServerNic {
    /// `{"port": id}`: bind an existing, unbound port.
    Port(String),
    /// `{"uuid": network_id, "fixed_ip": ...}`: Nova creates a port on that network.
    Network {
        network_id: String,
        fixed_ip: Option<String>,
    },
}

/// Why a NIC could not be set up; Nova turns these into its own faults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NicError {
    PortNotFound(String),
    PortInUse(String),
    NetworkNotFound(String),
    SecurityGroupNotFound(String),
    NoMoreFixedIps(String),
    FixedIpInvalid(String),
    OverQuota(String),
}

impl NetworkData {
    /// Creates (or binds) the port for `server_id` in `project_id`, with device_owner
    /// "compute:nova" and the given security groups (names or ids; empty = the project's
    /// "default" group, created on first use as Neutron does). Returns the port id.
    pub fn attach_server_port(
        &mut self,
        project_id: &str,
        nic: &ServerNic,
        server_id: &str,
        security_groups: &[String],
    ) -> Result<String, NicError> {
        let _ = (project_id, nic, server_id, security_groups);
        todo!()
    }

    /// On server delete: deletes the ports Nova created, unbinds pre-created ones
    /// (device_id and device_owner cleared), as Nova does.
    pub fn detach_server_ports(&mut self, server_id: &str) {
        let _ = server_id;
        todo!()
    }

    /// Nova's `addresses` object for a server:
    /// {"<network name>": [{"version": 4, "addr": "...", "OS-EXT-IPS:type": "fixed",
    ///   "OS-EXT-IPS-MAC:mac_addr": "..."}]}
    pub fn server_addresses(&self, server_id: &str) -> serde_json::Value {
        let _ = server_id;
        todo!()
    }

    /// Names of the security groups on the server's ports (Nova's `security_groups`).
    pub fn server_security_groups(&self, server_id: &str) -> Vec<String> {
        let _ = server_id;
        todo!()
    }

    /// The networks a project may boot on when it does not name one (`networks: "auto"`):
    /// its own, and shared ones, not external.
    pub fn bootable_networks(&self, project_id: &str) -> Vec<String> {
        let _ = project_id;
        todo!()
    }
}

// ---- TEMPORARY STUBS added on branch sim-core so core.rs compiles before the Neutron helper's
// ---- code lands; the lead keeps the Neutron helper's real versions when merging.
// Expected by core.rs: `pub fn routes() -> axum::Router<crate::sim::core::SimState>` (nested
// under /networking) and `NetworkData::seed(&mut self, admin_project_id: &str)` (creates the
// external network `public` on first open).
pub fn routes() -> axum::Router<super::core::SimState> {
    axum::Router::new()
}

impl NetworkData {
    pub fn seed(&mut self, admin_project_id: &str) {
        let _ = admin_project_id;
    }
}
