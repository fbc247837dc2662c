//! Nova's records as the embedded cloud stores them (flavors, servers with their pending
//! transition, quotas and usage) and the clock rules that settle a server's state.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::sim::core::now;

use super::*;

#[derive(Clone, Serialize, Deserialize)]
pub(super) struct Flavor {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) vcpus: i64,
    pub(super) ram: i64,
    pub(super) disk: i64,
}

#[derive(Clone, Serialize, Deserialize)]
pub(super) struct Server {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) description: Option<String>,
    pub(super) project_id: String,
    pub(super) user_id: String,
    pub(super) image_id: String,
    /// A copy, as Nova keeps the instance's flavor even if the flavor is deleted later.
    pub(super) flavor: Flavor,
    pub(super) key_name: Option<String>,
    pub(super) metadata: BTreeMap<String, String>,
    pub(super) tags: Vec<String>,
    /// Requested security group names (the ports carry the real ones).
    pub(super) security_groups: Vec<String>,
    /// Whether Neutron holds ports for this server (false for `networks: "none"`).
    pub(super) has_ports: bool,
    pub(super) instance_index: u64,
    pub(super) vm_state: String,
    pub(super) task_state: Option<String>,
    pub(super) power_state: u8,
    pub(super) pending: Option<Pending>,
    pub(super) created: DateTime<Utc>,
    pub(super) updated: DateTime<Utc>,
    pub(super) launched_at: Option<DateTime<Utc>>,
    /// The fault message of a server in ERROR.
    #[serde(default)]
    pub(super) fault: Option<String>,
    /// What was asked of the server, oldest first (os-instance-actions).
    #[serde(default)]
    pub(super) actions: Vec<Action>,
    /// The flavor a resize started from, kept until it is confirmed or reverted (Nova's
    /// `old_flavor`): a revert goes back to it.
    #[serde(default)]
    pub(super) old_flavor: Option<Flavor>,
    /// An injected failure of this resize's confirmResize is due.
    #[serde(default)]
    pub(super) confirm_fails: bool,
    /// User data, config drive, boot volume.
    #[serde(default)]
    pub(super) boot: super::boot::Boot,
    /// The server group it was booted into (scheduler hint `group`).
    #[serde(default)]
    pub(super) server_group: Option<String>,
}

/// One instance action: who asked what in which request, and the one event that carries it
/// out, whose result is known once `finish` has passed (as its transition is).
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct Action {
    pub(super) action: String,
    pub(super) request_id: String,
    pub(super) user_id: String,
    pub(super) project_id: String,
    pub(super) start: DateTime<Utc>,
    /// Nova's event name: the conductor or compute method that ran
    /// (`compute__do_build_and_run_instance`, `compute_stop_instance`...).
    pub(super) event: String,
    pub(super) finish: DateTime<Utc>,
    pub(super) failed: bool,
}

/// An action in progress: when it completes and what it leads to.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct Pending {
    pub(super) done_at: DateTime<Utc>,
    pub(super) vm_state: String,
    pub(super) power_state: u8,
    /// For a build that fails: the fault message the server shows in ERROR.
    #[serde(default)]
    pub(super) fault: Option<String>,
    /// The flavor the server has once the transition is done (a resize or its revert).
    #[serde(default)]
    pub(super) flavor: Option<Flavor>,
}

/// Why a build failed: the scheduler found no host, as Nova says it.
pub(super) const NO_VALID_HOST: &str =
    "No valid host was found. There are not enough hosts available.";

pub(super) const POWER_NOSTATE: u8 = 0;
pub(super) const POWER_RUNNING: u8 = 1;
pub(super) const POWER_SHUTDOWN: u8 = 4;

impl Server {
    /// Applies a pending transition whose time has come.
    pub(super) fn settle(&mut self, at: DateTime<Utc>) {
        // A reboot's second half: the driver has started it (Nova's rebooting, reboot_pending,
        // reboot_started; `updated` is when the action began).
        if let Some(pending) = &self.pending
            && pending.done_at > at
            && at >= self.updated + (pending.done_at - self.updated) / 2
        {
            match self.task_state.as_deref() {
                Some("rebooting") => self.task_state = Some("reboot_started".into()),
                Some("rebooting_hard") => self.task_state = Some("reboot_started_hard".into()),
                _ => {}
            }
        }
        if let Some(pending) = &self.pending
            && pending.done_at <= at
        {
            self.vm_state = pending.vm_state.clone();
            self.power_state = pending.power_state;
            self.fault = pending.fault.clone();
            if let Some(flavor) = &pending.flavor {
                self.flavor = flavor.clone();
            }
            self.task_state = None;
            self.updated = pending.done_at;
            if self.launched_at.is_none() && self.vm_state == "active" {
                self.launched_at = Some(pending.done_at);
            }
            self.pending = None;
        }
    }

    /// Nova's `status` from vm_state and task_state (nova/api/openstack/common.py _STATE_MAP).
    pub(super) fn status(&self) -> &'static str {
        match (self.vm_state.as_str(), self.task_state.as_deref()) {
            ("building", _) => "BUILD",
            ("active", Some("rebooting") | Some("reboot_pending") | Some("reboot_started")) => {
                "REBOOT"
            }
            (
                "active" | "stopped",
                Some("rebooting_hard") | Some("reboot_pending_hard") | Some("reboot_started_hard"),
            ) => "HARD_REBOOT",
            (
                "active" | "stopped",
                Some("resize_prep" | "resize_migrating" | "resize_migrated" | "resize_finish"),
            ) => "RESIZE",
            ("resized", Some("resize_reverting")) => "REVERT_RESIZE",
            ("resized", _) => "VERIFY_RESIZE",
            ("active", _) => "ACTIVE",
            ("stopped", _) => "SHUTOFF",
            ("error", _) => "ERROR",
            ("deleted", _) => "DELETED",
            _ => "UNKNOWN",
        }
    }

    /// Nova's reservation id (r-xxxxxxxx), stable for the server.
    pub(super) fn reservation_id(&self) -> String {
        let hex: String = self
            .id
            .chars()
            .filter(char::is_ascii_hexdigit)
            .take(8)
            .collect();
        format!("r-{hex}")
    }

    /// Records an instance action whose event ends at `finish`.
    pub(super) fn record_action(
        &mut self,
        action: &str,
        event: &str,
        request_id: &str,
        user_id: &str,
        finish: DateTime<Utc>,
    ) {
        let failed = self.pending.as_ref().is_some_and(|p| p.fault.is_some());
        self.actions.push(Action {
            action: action.to_string(),
            request_id: request_id.to_string(),
            user_id: user_id.to_string(),
            project_id: self.project_id.clone(),
            start: now(),
            event: event.to_string(),
            finish,
            failed,
        });
    }

    pub(super) fn start_action(
        &mut self,
        task: &str,
        done_at: DateTime<Utc>,
        vm_state: &str,
        power: u8,
    ) {
        let at = now();
        self.task_state = Some(task.to_string());
        self.updated = at;
        self.pending = Some(Pending {
            done_at,
            vm_state: vm_state.to_string(),
            power_state: power,
            fault: None,
            flavor: None,
        });
    }
}

#[derive(Clone, Copy, Serialize, Deserialize)]
pub(super) struct Quota {
    pub(super) instances: i64,
    pub(super) cores: i64,
    pub(super) ram: i64,
    pub(super) key_pairs: i64,
    pub(super) metadata_items: i64,
    pub(super) server_groups: i64,
    pub(super) server_group_members: i64,
}

impl Default for Quota {
    /// Nova's defaults.
    fn default() -> Self {
        Quota {
            instances: 10,
            cores: 20,
            ram: 51200,
            key_pairs: 100,
            metadata_items: 128,
            server_groups: 10,
            server_group_members: 10,
        }
    }
}

pub(super) const QUOTA_KEYS: [&str; 7] = [
    "cores",
    "instances",
    "key_pairs",
    "metadata_items",
    "ram",
    "server_groups",
    "server_group_members",
];

impl Quota {
    pub(super) fn get(&self, key: &str) -> i64 {
        match key {
            "instances" => self.instances,
            "cores" => self.cores,
            "ram" => self.ram,
            "key_pairs" => self.key_pairs,
            "metadata_items" => self.metadata_items,
            "server_groups" => self.server_groups,
            _ => self.server_group_members,
        }
    }
    pub(super) fn set(&mut self, key: &str, value: i64) {
        match key {
            "instances" => self.instances = value,
            "cores" => self.cores = value,
            "ram" => self.ram = value,
            "key_pairs" => self.key_pairs = value,
            "metadata_items" => self.metadata_items = value,
            "server_groups" => self.server_groups = value,
            _ => self.server_group_members = value,
        }
    }
}

/// What a project currently uses.
#[derive(Default)]
pub(super) struct Usage {
    pub(super) instances: i64,
    pub(super) cores: i64,
    pub(super) ram: i64,
}

impl Usage {
    pub(super) fn get(&self, key: &str) -> i64 {
        match key {
            "instances" => self.instances,
            "cores" => self.cores,
            "ram" => self.ram,
            _ => 0,
        }
    }
}

/// Nova's `hostId`: a stable hash of project and host, so a project's servers agree.
pub(super) fn host_id(project_id: &str) -> String {
    let mut out = String::new();
    for salt in 0..4u8 {
        let mut hasher = DefaultHasher::new();
        (project_id, HOST, salt).hash(&mut hasher);
        out.push_str(&format!("{:016x}", hasher.finish()));
    }
    out.truncate(56);
    out
}

/// A reference may be an id or a link whose last segment is the id.
pub(super) fn id_from_ref(reference: &str) -> &str {
    reference.rsplit('/').next().unwrap_or(reference)
}
