//! Cinder's records as the embedded cloud stores them (volume types, volumes, attachments,
//! snapshots, backups), the clock that settles their transient statuses, and Cinder's error
//! shapes.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::sim::core::{Fault, Service};

/// Who acts, as the data layer needs it.
#[derive(Clone, Debug)]
pub struct Actor {
    pub project_id: String,
    pub user_id: String,
    pub admin: bool,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct VolumeType {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub extra_specs: BTreeMap<String, String>,
}

impl VolumeType {
    /// Whether volumes of this type may be attached to several servers (Cinder reads the
    /// extra spec `multiattach="<is> True"`).
    pub fn multiattach(&self) -> bool {
        self.extra_specs
            .get("multiattach")
            .is_some_and(|v| v.trim() == "<is> True")
    }
}

/// A status that becomes another one at a given time (creating → available...).
#[derive(Clone, Serialize, Deserialize)]
pub struct Pending {
    pub done_at: DateTime<Utc>,
    pub status: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Volume {
    pub id: String,
    pub project_id: String,
    pub user_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub size: i64,
    pub availability_zone: String,
    pub volume_type_id: String,
    pub status: String,
    pub pending: Option<Pending>,
    pub bootable: bool,
    pub multiattach: bool,
    pub metadata: BTreeMap<String, String>,
    pub snapshot_id: Option<String>,
    pub source_volid: Option<String>,
    /// The Glance image it was made from (shown as `volume_image_metadata`).
    pub image_id: Option<String>,
    /// Its attachments' ids, oldest first.
    pub attachment_ids: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// One attachment of a volume to a server, as Cinder's attachments API (3.27+) keeps it.
#[derive(Clone, Serialize, Deserialize)]
pub struct Attachment {
    pub id: String,
    pub project_id: String,
    pub volume_id: String,
    pub server_id: String,
    /// reserved (no connector yet), attaching (connector given), attached (completed).
    pub status: String,
    pub attach_mode: String,
    pub device: Option<String>,
    pub connector: Option<serde_json::Value>,
    pub attached_at: Option<DateTime<Utc>>,
    /// Nova's block device mapping id, when Nova made it.
    pub bdm_uuid: Option<String>,
    /// Nova's attach or detach under way: [`ATTACHED`] or [`DETACHED`] at its end.
    #[serde(default)]
    pub pending: Option<Pending>,
}

/// Where a Nova attach ends: the attachment is attached, the volume in-use.
pub const ATTACHED: &str = "attached";
/// Where a Nova detach ends: the attachment is gone.
pub const DETACHED: &str = "detached";
/// Where a delete ends: settling removes a record in this status.
pub const GONE: &str = "deleted";

#[derive(Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub id: String,
    pub project_id: String,
    pub user_id: String,
    pub volume_id: String,
    pub volume_type_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub size: i64,
    pub status: String,
    pub pending: Option<Pending>,
    pub metadata: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Backup {
    pub id: String,
    pub project_id: String,
    pub user_id: String,
    /// The volume it was taken from (which may be gone: a backup outlives its volume).
    pub volume_id: String,
    pub snapshot_id: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub size: i64,
    pub status: String,
    pub pending: Option<Pending>,
    pub is_incremental: bool,
    /// The backup an incremental one builds on.
    pub parent_id: Option<String>,
    pub availability_zone: String,
    pub metadata: BTreeMap<String, String>,
    /// The volume's metadata when it was backed up: a restore writes it back.
    #[serde(default)]
    pub volume_metadata: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
    pub data_timestamp: DateTime<Utc>,
}

/// What every record with a transient status shares.
pub trait Transient {
    fn state(
        &mut self,
    ) -> (
        &mut String,
        &mut Option<Pending>,
        &mut Option<DateTime<Utc>>,
    );

    /// Applies the pending status once its time has come.
    fn settle(&mut self, at: DateTime<Utc>) {
        let (status, pending, updated_at) = self.state();
        if let Some(next) = pending.as_ref()
            && next.done_at <= at
        {
            *status = next.status.clone();
            *updated_at = Some(next.done_at);
            *pending = None;
        }
    }

    /// Sets `now` as the status until `done_at`, then `then`.
    fn transition(&mut self, now: &str, then: &str, done_at: DateTime<Utc>, at: DateTime<Utc>) {
        let (status, pending, updated_at) = self.state();
        *status = now.to_string();
        *updated_at = Some(at);
        *pending = Some(Pending {
            done_at,
            status: then.to_string(),
        });
        if done_at <= at {
            self.settle(at);
        }
    }
}

macro_rules! transient {
    ($type:ty) => {
        impl Transient for $type {
            fn state(
                &mut self,
            ) -> (
                &mut String,
                &mut Option<Pending>,
                &mut Option<DateTime<Utc>>,
            ) {
                (&mut self.status, &mut self.pending, &mut self.updated_at)
            }
        }
    };
}

transient!(Volume);
transient!(Snapshot);
transient!(Backup);

pub type CResult<T> = Result<T, Fault>;

/// Cinder's errors: Nova's wsgi fault shapes (`{"badRequest": {"code", "message"}}`).
pub fn bad_request(message: impl Into<String>) -> Fault {
    Fault::bad_request(Service::BlockStorage, message)
}

pub fn not_found(message: impl Into<String>) -> Fault {
    Fault::not_found(Service::BlockStorage, message)
}

pub fn forbidden(message: impl Into<String>) -> Fault {
    Fault::forbidden(Service::BlockStorage, message)
}

pub fn over_limit(message: impl Into<String>) -> Fault {
    Fault::new(
        Service::BlockStorage,
        StatusCode::PAYLOAD_TOO_LARGE,
        message,
    )
}

/// The 400 of a request body that does not have the expected shape (no `volume` key...).
pub fn malformed() -> Fault {
    bad_request(
        "The server could not comply with the request since it is either malformed or \
         otherwise incorrect.",
    )
}

/// Cinder's jsonschema message for a field.
pub fn invalid_field(field: &str, value: &serde_json::Value, reason: &str) -> Fault {
    let shown = match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    bad_request(format!(
        "Invalid input for field/attribute {field}. Value: {shown}. {reason}"
    ))
}

/// Why a volume cannot be deleted, as Cinder words every such refusal.
pub const VOLUME_NOT_DELETABLE: &str = "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.";

/// Cinder's timestamps: microseconds, no zone.
pub fn cinder_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}
