//! Cinder v3 of the embedded cloud: volumes (blank, from a snapshot, a volume, an image or a
//! backup), their actions (os-extend, os-set_bootable, os-reset_status, os-attach/os-detach),
//! attachments (3.27+, as Nova uses them), snapshots, backups with restore, volume types,
//! availability zones, quota sets with per-type keys, limits, and microversions
//! (`OpenStack-API-Version: volume 3.x`, 3.0 to 3.71), with Cinder's exact error bodies.
//!
//! Transient statuses (creating, backing-up, restoring-backup, deleting) are stored with the
//! time they end ([`model::Pending`]), and settled on every read, as Nova's server builds are:
//! a delete ends with the record gone, and Nova's attach (reserved, then in-use) and detach
//! (detaching, then available) end on their attachment's own pending status.
//!
//! Besides its HTTP routes, it offers Nova the attachment plumbing `os-volume_attachments`
//! needs ([`BlockStorageData::attach_for_server`] and friends).
//!
//! Layout: `model` (records, their clock, error constructors), `ops` (visibility and
//! volumes), `snapshots`, `backups`, `attachments` (Cinder's and Nova's seam), `quotas`
//! (quota sets, usage, limits), `render` (wire views), `query` (list filters and paging),
//! `api` (routes, microversions, the list and volume handlers), `api_attachments` (the
//! attachments API), `api_metadata` (volume and snapshot metadata), `api_more` (the other
//! handlers), and
//! `tests` of the data layer.

mod api;
mod api_attachments;
mod api_metadata;
mod api_more;
mod attachments;
mod backups;
mod model;
mod nova_volumes;
mod ops;
mod query;
mod quotas;
mod render;
mod snapshots;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::sim::core::{JournalTable, Journaled, Record, Table, new_uuid};

use model::*;

pub use api::routes;
pub use attachments::{AttachError, ServerVolume};

/// Cinder's whole database.
#[derive(Default, Serialize, Deserialize)]
pub struct BlockStorageData {
    types: Vec<VolumeType>,
    volumes: Table<Volume>,
    /// Under their server, so that Nova finds a server's volumes in one lookup.
    attachments: Table<Attachment>,
    /// Under their volume.
    snapshots: Table<Snapshot>,
    /// Under the volume they were taken from.
    backups: Table<Backup>,
    /// Per-project overrides of the default quotas.
    quotas: BTreeMap<String, BTreeMap<String, i64>>,
}

impl Record for Volume {
    fn id(&self) -> &str {
        &self.id
    }
    fn project_id(&self) -> &str {
        &self.project_id
    }
}

impl Record for Attachment {
    fn id(&self) -> &str {
        &self.id
    }
    fn project_id(&self) -> &str {
        &self.project_id
    }
    fn parent_id(&self) -> Option<&str> {
        Some(&self.server_id)
    }
}

impl Record for Snapshot {
    fn id(&self) -> &str {
        &self.id
    }
    fn project_id(&self) -> &str {
        &self.project_id
    }
    fn parent_id(&self) -> Option<&str> {
        Some(&self.volume_id)
    }
}

impl Record for Backup {
    fn id(&self) -> &str {
        &self.id
    }
    fn project_id(&self) -> &str {
        &self.project_id
    }
    fn parent_id(&self) -> Option<&str> {
        Some(&self.volume_id)
    }
}

impl Journaled for BlockStorageData {
    fn tables(&mut self) -> Vec<(&'static str, &mut dyn JournalTable)> {
        vec![
            ("volumes", &mut self.volumes),
            ("attachments", &mut self.attachments),
            ("snapshots", &mut self.snapshots),
            ("backups", &mut self.backups),
        ]
    }
    fn rest(&self) -> serde_json::Result<Vec<(&'static str, Vec<u8>)>> {
        Ok(vec![
            ("types", serde_json::to_vec(&self.types)?),
            ("quotas", serde_json::to_vec(&self.quotas)?),
        ])
    }
    fn replay_rest(&mut self, field: &str, value: serde_json::Value) -> serde_json::Result<()> {
        match field {
            "types" => self.types = serde_json::from_value(value)?,
            "quotas" => self.quotas = serde_json::from_value(value)?,
            _ => return Err(serde::de::Error::custom(format!("no field {field}"))),
        }
        Ok(())
    }
}

/// The type a volume gets when none is asked for.
pub const DEFAULT_TYPE: &str = "__DEFAULT__";
/// The one availability zone, as devstack names it.
pub const AVAILABILITY_ZONE: &str = "nova";
/// The compute host attachments show (`host_name`).
const HOST_NAME: &str = "stackform-sim";
/// The cinder-volume service (`service_uuid`, 3.48+) and its backend (`os-vol-host-attr:host`).
const SERVICE_UUID: &str = "5f4b6c0e-9d1a-4c8e-b1f2-3a4d5e6f7a8b";
const BACKEND_HOST: &str = "stackform-sim@fake#fake";

impl BlockStorageData {
    /// Pre-creates the volume types `__DEFAULT__` (as Cinder does), `ssd`, `hdd` and
    /// `multiattach` (extra spec `multiattach="<is> True"`). Adds only the missing ones.
    pub fn seed(&mut self) {
        for (name, description, multiattach) in [
            (DEFAULT_TYPE, "Default Volume Type", false),
            ("ssd", "Solid-state volumes", false),
            ("hdd", "Spinning-disk volumes", false),
            (
                "multiattach",
                "Volumes that attach to several servers",
                true,
            ),
        ] {
            if self.types.iter().any(|t| t.name == name) {
                continue;
            }
            let mut extra_specs = BTreeMap::new();
            if multiattach {
                extra_specs.insert("multiattach".to_string(), "<is> True".to_string());
            }
            self.types.push(VolumeType {
                id: new_uuid(),
                name: name.to_string(),
                description: Some(description.to_string()),
                extra_specs,
            });
        }
    }

    /// Settles the transient statuses of what `actor` may see (every row for an admin
    /// listing all projects) that have ended by `at`. Rows settle without a journal entry
    /// (see `settle_each`); a finished delete or detach removes its row, which is journaled.
    fn settle(&mut self, project_id: Option<&str>, at: DateTime<Utc>) {
        let ids = |ids: &std::collections::BTreeSet<String>| -> Vec<String> {
            ids.iter().cloned().collect()
        };
        let (volumes, snapshots, backups) = match project_id {
            None => (
                self.volumes.keys().cloned().collect(),
                self.snapshots.keys().cloned().collect(),
                self.backups.keys().cloned().collect(),
            ),
            Some(project_id) => (
                ids(self.volumes.ids_of_project(project_id)),
                ids(self.snapshots.ids_of_project(project_id)),
                ids(self.backups.ids_of_project(project_id)),
            ),
        };
        for id in volumes {
            self.settle_volume(&id, at);
        }
        for id in snapshots {
            self.settle_snapshot(&id, at);
        }
        for id in backups {
            self.settle_backup(&id, at);
        }
    }

    /// Settles one volume and its attachments; a finished delete removes it.
    fn settle_volume(&mut self, id: &str, at: DateTime<Utc>) {
        let attachment_ids = self
            .volumes
            .get(id)
            .map(|v| v.attachment_ids.clone())
            .unwrap_or_default();
        for attachment_id in attachment_ids {
            self.settle_attachment(&attachment_id, at);
        }
        self.volumes.settle_one(id, |v| v.settle(at));
        if self.volumes.get(id).is_some_and(|v| v.status == GONE) {
            self.volumes.remove(id);
        }
    }

    fn settle_snapshot(&mut self, id: &str, at: DateTime<Utc>) {
        self.snapshots.settle_one(id, |s| s.settle(at));
        if self.snapshots.get(id).is_some_and(|s| s.status == GONE) {
            self.snapshots.remove(id);
        }
    }

    fn settle_backup(&mut self, id: &str, at: DateTime<Utc>) {
        self.backups.settle_one(id, |b| b.settle(at));
        if self.backups.get(id).is_some_and(|b| b.status == GONE) {
            self.backups.remove(id);
        }
    }

    fn type_by_id(&self, id: &str) -> Option<&VolumeType> {
        self.types.iter().find(|t| t.id == id)
    }

    /// A type by name or id, as `volume_type` in a create takes it.
    fn type_by_ref(&self, reference: &str) -> Option<&VolumeType> {
        self.types
            .iter()
            .find(|t| t.id == reference)
            .or_else(|| self.types.iter().find(|t| t.name == reference))
    }

    fn type_name(&self, id: &str) -> String {
        self.type_by_id(id)
            .map(|t| t.name.clone())
            .unwrap_or_else(|| id.to_string())
    }
}
