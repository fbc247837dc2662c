//! Cinder's rules for volumes, without HTTP: who sees what, create (blank or from a snapshot,
//! a volume, an image or a backup), update, delete, extend, bootable and reset-status.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::*;

/// The statuses a volume may be deleted in (with no attachments and no snapshots).
const DELETABLE: [&str; 5] = [
    "available",
    "error",
    "error_restoring",
    "error_extending",
    "error_managing",
];

/// What a volume create asks for, read from its body.
pub struct NewVolume {
    pub size: Option<i64>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub volume_type: Option<String>,
    pub availability_zone: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub snapshot_id: Option<String>,
    pub source_volid: Option<String>,
    pub image_id: Option<String>,
    pub backup_id: Option<String>,
}

/// Where a new volume's content comes from.
pub(super) enum Source {
    Blank,
    Snapshot,
    Volume,
    Image,
    Backup(String),
}

impl BlockStorageData {
    pub(super) fn visible(actor: &Actor, project_id: &str) -> bool {
        actor.admin || actor.project_id == project_id
    }

    pub(super) fn volume(&self, actor: &Actor, id: &str) -> CResult<&Volume> {
        self.volumes
            .get(id)
            .filter(|v| Self::visible(actor, &v.project_id) && v.status != GONE)
            .ok_or_else(|| not_found(format!("Volume {id} could not be found.")))
    }

    pub(super) fn volume_mut(&mut self, actor: &Actor, id: &str) -> CResult<&mut Volume> {
        self.volume(actor, id)?;
        self.volumes
            .get_mut(id)
            .ok_or_else(|| not_found(format!("Volume {id} could not be found.")))
    }

    /// Creates a volume; `image_active` says whether Glance holds that image, active, for
    /// the caller. Answers the new volume's id and, for a restore, the backup to restore.
    pub(super) fn create_volume(
        &mut self,
        actor: &Actor,
        input: NewVolume,
        image_active: impl Fn(&str) -> Option<bool>,
        at: DateTime<Utc>,
        done_at: DateTime<Utc>,
    ) -> CResult<String> {
        let volume_type = match &input.volume_type {
            Some(reference) => self.type_by_ref(reference).ok_or_else(|| {
                if uuid::Uuid::parse_str(reference).is_ok() {
                    not_found(format!("Volume type {reference} could not be found."))
                } else {
                    not_found(format!(
                        "Volume type with name {reference} could not be found."
                    ))
                }
            })?,
            None => self
                .types
                .iter()
                .find(|t| t.name == DEFAULT_TYPE)
                .ok_or_else(|| not_found("Volume type __DEFAULT__ could not be found."))?,
        }
        .clone();
        if let Some(zone) = &input.availability_zone
            && zone != AVAILABILITY_ZONE
        {
            return Err(bad_request(format!(
                "Availability zone '{zone}' is invalid."
            )));
        }
        let mut volume_type_id = volume_type.id.clone();
        let mut bootable = false;
        let (source, source_size) = if let Some(snapshot_id) = &input.snapshot_id {
            let snapshot = self.snapshot(actor, snapshot_id)?;
            if snapshot.status != "available" {
                return Err(bad_request(
                    "Invalid snapshot: Originating snapshot status must be 'available' to \
                     create a volume from it.",
                ));
            }
            if input.volume_type.is_none() {
                volume_type_id = snapshot.volume_type_id.clone();
            }
            (Source::Snapshot, Some((snapshot.size, "snapshot")))
        } else if let Some(source_id) = &input.source_volid {
            let source = self.volume(actor, source_id)?;
            if !matches!(source.status.as_str(), "available" | "in-use") {
                return Err(bad_request(format!(
                    "Invalid volume: Unable to clone volumes that are in a {} state.",
                    source.status
                )));
            }
            if input.volume_type.is_none() {
                volume_type_id = source.volume_type_id.clone();
            }
            bootable = source.bootable;
            (Source::Volume, Some((source.size, "original volume")))
        } else if let Some(image_id) = &input.image_id {
            match image_active(image_id) {
                Some(true) => {}
                Some(false) => {
                    return Err(bad_request(format!(
                        "Invalid image identifier or unable to access requested image. \
                         Image {image_id} is not active."
                    )));
                }
                None => {
                    return Err(bad_request(
                        "Invalid image identifier or unable to access requested image.",
                    ));
                }
            }
            bootable = true;
            (Source::Image, None)
        } else if let Some(backup_id) = &input.backup_id {
            let backup = self.backup(actor, backup_id)?;
            if backup.status != "available" {
                return Err(bad_request(
                    "Invalid backup: Backup status must be available",
                ));
            }
            (
                Source::Backup(backup_id.clone()),
                Some((backup.size, "backup")),
            )
        } else {
            (Source::Blank, None)
        };
        let size = match (input.size, source_size) {
            (Some(size), Some((minimum, what))) if size < minimum => {
                return Err(bad_request(format!(
                    "Invalid input received: Volume size '{size}'GB cannot be smaller than the \
                     {what} size {minimum}GB. They must be >= original {what} size."
                )));
            }
            (Some(size), _) => size,
            (None, Some((minimum, _))) => minimum,
            (None, None) => return Err(malformed()),
        };
        self.check_per_volume(&actor.project_id, size)?;
        let deltas = self.volume_deltas(&volume_type_id, 1, size);
        self.check_quota(&actor.project_id, &deltas)?;
        let multiattach = self
            .type_by_id(&volume_type_id)
            .is_some_and(VolumeType::multiattach);
        let mut volume = Volume {
            id: new_uuid(),
            project_id: actor.project_id.clone(),
            user_id: actor.user_id.clone(),
            name: input.name,
            description: input.description,
            size,
            availability_zone: AVAILABILITY_ZONE.to_string(),
            volume_type_id,
            status: "creating".to_string(),
            pending: None,
            bootable,
            multiattach,
            metadata: input.metadata,
            snapshot_id: input.snapshot_id,
            source_volid: input.source_volid,
            image_id: input.image_id,
            attachment_ids: Vec::new(),
            created_at: at,
            updated_at: None,
        };
        volume.transition("creating", "available", done_at, at);
        volume.updated_at = None;
        let id = volume.id.clone();
        self.volumes.insert(id.clone(), volume);
        if let Source::Backup(backup_id) = source {
            self.start_restore(&backup_id, &id, at, done_at);
        }
        Ok(id)
    }

    /// PUT /volumes/{id}: name, description, metadata (replaced whole).
    pub(super) fn update_volume(
        &mut self,
        actor: &Actor,
        id: &str,
        name: Option<Option<String>>,
        description: Option<Option<String>>,
        metadata: Option<BTreeMap<String, String>>,
        at: DateTime<Utc>,
    ) -> CResult<()> {
        let volume = self.volume_mut(actor, id)?;
        if let Some(name) = name {
            volume.name = name;
        }
        if let Some(description) = description {
            volume.description = description;
        }
        if let Some(metadata) = metadata {
            volume.metadata = metadata;
        }
        volume.updated_at = Some(at);
        Ok(())
    }

    /// DELETE /volumes/{id}: refused (400) while attached, with snapshots or in a busy
    /// status; `cascade` deletes its snapshots first.
    /// DELETE /volumes/{id}: deleting until `done_at`, then gone (with its snapshots when
    /// `cascade`); it counts in the quota usage until then, as in Cinder.
    pub(super) fn delete_volume(
        &mut self,
        actor: &Actor,
        id: &str,
        cascade: bool,
        at: DateTime<Utc>,
        done_at: DateTime<Utc>,
    ) -> CResult<()> {
        let volume = self.volume(actor, id)?;
        let has_snapshots = !self.snapshots.ids_under(id).is_empty();
        if !DELETABLE.contains(&volume.status.as_str())
            || !volume.attachment_ids.is_empty()
            || (has_snapshots && !cascade)
        {
            return Err(bad_request(VOLUME_NOT_DELETABLE));
        }
        let snapshots: Vec<String> = self.snapshots.ids_under(id).iter().cloned().collect();
        for snapshot_id in snapshots {
            if let Some(snapshot) = self.snapshots.get_mut(&snapshot_id) {
                snapshot.transition("deleting", GONE, done_at, at);
            }
            self.settle_snapshot(&snapshot_id, at);
        }
        if let Some(volume) = self.volumes.get_mut(id) {
            volume.transition("deleting", GONE, done_at, at);
        }
        self.settle_volume(id, at);
        Ok(())
    }

    /// os-extend: grows an available volume (or an in-use one from 3.42).
    pub(super) fn extend_volume(
        &mut self,
        actor: &Actor,
        id: &str,
        new_size: i64,
        in_use_allowed: bool,
        at: DateTime<Utc>,
        done_at: DateTime<Utc>,
    ) -> CResult<()> {
        let volume = self.volume(actor, id)?;
        let status = volume.status.clone();
        let extendable = status == "available" || (in_use_allowed && status == "in-use");
        if !extendable {
            return Err(bad_request(format!(
                "Invalid volume: Volume {id} status must be '{{'status': 'available'}}' to \
                 extend, currently {status}."
            )));
        }
        if new_size <= volume.size {
            return Err(bad_request(format!(
                "Invalid input received: New size for extend must be greater than current \
                 size. (current: {}, extended: {new_size}).",
                volume.size
            )));
        }
        self.check_per_volume(&volume.project_id, new_size)?;
        let deltas = self.volume_deltas(&volume.volume_type_id, 0, new_size - volume.size);
        self.check_quota(&volume.project_id, &deltas)?;
        let volume = self.volume_mut(actor, id)?;
        volume.size = new_size;
        volume.transition("extending", &status, done_at, at);
        Ok(())
    }

    /// os-set_bootable.
    pub(super) fn set_bootable(
        &mut self,
        actor: &Actor,
        id: &str,
        bootable: bool,
        at: DateTime<Utc>,
    ) -> CResult<()> {
        let volume = self.volume_mut(actor, id)?;
        volume.bootable = bootable;
        volume.updated_at = Some(at);
        Ok(())
    }

    /// os-reset_status (admin): sets the status as given, ending any transition.
    pub(super) fn reset_volume_status(
        &mut self,
        actor: &Actor,
        id: &str,
        status: &str,
        at: DateTime<Utc>,
    ) -> CResult<()> {
        if !actor.admin {
            return Err(forbidden(
                "Policy doesn't allow volume_extension:volume_admin_actions:reset_status to be \
                 performed.",
            ));
        }
        let volume = self.volume_mut(actor, id)?;
        volume.status = status.to_string();
        volume.pending = None;
        volume.updated_at = Some(at);
        Ok(())
    }
}

/// Reads a create body's `volume` object.
pub(super) fn new_volume(input: &Value) -> CResult<NewVolume> {
    let object = input.as_object().ok_or_else(malformed)?;
    let text = |key: &str| -> CResult<Option<String>> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(invalid_field(key, other, "is not of type 'string'")),
        }
    };
    let size = match object.get("size") {
        None | Some(Value::Null) => None,
        Some(value) => Some(positive_size("size", value)?),
    };
    let metadata = match object.get("metadata") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(value) => metadata_from(value)?,
    };
    Ok(NewVolume {
        size,
        name: text("name")?,
        description: text("description")?,
        volume_type: text("volume_type")?,
        availability_zone: text("availability_zone")?,
        metadata,
        snapshot_id: text("snapshot_id")?,
        source_volid: text("source_volid")?,
        image_id: text("imageRef")?,
        backup_id: text("backup_id")?,
    })
}

/// A size as Cinder's schema takes it: an integer, or a string of digits, at least 1.
pub(super) fn positive_size(field: &str, value: &Value) -> CResult<i64> {
    let number = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        Value::String(_) => {
            return Err(invalid_field(
                field,
                value,
                &format!(
                    "'{}' does not match '^[0-9]+$'",
                    value.as_str().unwrap_or_default()
                ),
            ));
        }
        _ => None,
    }
    .ok_or_else(|| {
        invalid_field(
            field,
            value,
            &format!("{value} is not of type 'integer', 'string'"),
        )
    })?;
    if number < 1 {
        return Err(invalid_field(
            field,
            value,
            &format!("{number} is less than the minimum of 1"),
        ));
    }
    Ok(number)
}

/// Metadata as Cinder takes it: an object of strings.
pub(super) fn metadata_from(value: &Value) -> CResult<BTreeMap<String, String>> {
    let object = value.as_object().ok_or_else(|| {
        invalid_field(
            "metadata",
            value,
            &format!("{value} is not of type 'object'"),
        )
    })?;
    let mut metadata = BTreeMap::new();
    for (key, item) in object {
        let text = item.as_str().ok_or_else(|| {
            invalid_field(
                &format!("metadata/{key}"),
                item,
                &format!("{item} is not of type 'string'"),
            )
        })?;
        if key.is_empty() || key.chars().count() > 255 {
            return Err(invalid_field(
                "metadata",
                value,
                "Metadata property key must be between 1 and 255 characters",
            ));
        }
        metadata.insert(key.clone(), text.to_string());
    }
    Ok(metadata)
}
