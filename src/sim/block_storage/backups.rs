//! Cinder's rules for backups: create (full or incremental, `force` for in-use volumes; the
//! volume is backing-up meanwhile), delete, and restore onto a new or an existing volume.
//! A backup outlives its volume.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::*;

/// What a backup create asks for.
pub struct NewBackup {
    pub volume_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub incremental: bool,
    pub force: bool,
    pub snapshot_id: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

/// Where a restore went: the volume and its name.
pub struct Restored {
    pub volume_id: String,
    pub volume_name: Option<String>,
}

impl BlockStorageData {
    pub(super) fn backup(&self, actor: &Actor, id: &str) -> CResult<&Backup> {
        self.backups
            .get(id)
            .filter(|b| Self::visible(actor, &b.project_id) && b.status != GONE)
            .ok_or_else(|| not_found(format!("Backup {id} could not be found.")))
    }

    pub(super) fn create_backup(
        &mut self,
        actor: &Actor,
        input: NewBackup,
        at: DateTime<Utc>,
        done_at: DateTime<Utc>,
    ) -> CResult<String> {
        let volume = self.volume(actor, &input.volume_id)?;
        let status = volume.status.clone();
        if !matches!(status.as_str(), "available" | "in-use") {
            return Err(bad_request(format!(
                "Invalid volume: Volume to be backed up must be available or in-use, but the \
                 current status is \"{status}\"."
            )));
        }
        if status == "in-use" && !input.force {
            return Err(bad_request(
                "Invalid volume: Backing up an in-use volume must use the force flag.",
            ));
        }
        if let Some(snapshot_id) = &input.snapshot_id {
            self.snapshot(actor, snapshot_id)?;
        }
        let (size, project_id) = (volume.size, volume.project_id.clone());
        let volume_metadata = volume.metadata.clone();
        let parent_id = if input.incremental {
            let latest = self
                .backups
                .children_of(&input.volume_id)
                .filter(|b| b.status == "available")
                .max_by_key(|b| b.data_timestamp)
                .map(|b| b.id.clone());
            Some(latest.ok_or_else(|| {
                bad_request("Invalid backup: No backups available to do an incremental backup.")
            })?)
        } else {
            None
        };
        let deltas = vec![
            ("backups".to_string(), 1),
            ("backup_gigabytes".to_string(), size),
        ];
        self.check_quota(&project_id, &deltas)?;
        let mut backup = Backup {
            id: new_uuid(),
            project_id,
            user_id: actor.user_id.clone(),
            volume_id: input.volume_id.clone(),
            snapshot_id: input.snapshot_id,
            name: input.name,
            description: input.description,
            size,
            status: String::new(),
            pending: None,
            is_incremental: input.incremental,
            parent_id,
            availability_zone: AVAILABILITY_ZONE.to_string(),
            metadata: input.metadata,
            volume_metadata,
            created_at: at,
            updated_at: None,
            data_timestamp: at,
        };
        backup.transition("creating", "available", done_at, at);
        let id = backup.id.clone();
        self.backups.insert(id.clone(), backup);
        if let Some(volume) = self.volumes.get_mut(&input.volume_id) {
            volume.transition("backing-up", &status, done_at, at);
        }
        Ok(id)
    }

    /// os-reset_status (admin): `available` or `error` (real Cinder refuses any other), ending
    /// any transition; `fail_reason` is left as it was.
    pub(super) fn reset_backup_status(
        &mut self,
        actor: &Actor,
        id: &str,
        status: &str,
        at: DateTime<Utc>,
    ) -> CResult<()> {
        if !actor.admin {
            return Err(forbidden(
                "Policy doesn't allow backup:backup-reset_status to be performed.",
            ));
        }
        if !matches!(status, "available" | "error") {
            return Err(bad_request(format!(
                "Backup status: {status} is invalid, valid statuses are: ['available', 'error']."
            )));
        }
        self.backup(actor, id)?;
        if let Some(backup) = self.backups.get_mut(id) {
            backup.status = status.to_string();
            backup.pending = None;
            backup.updated_at = Some(at);
        }
        Ok(())
    }

    /// Whether an incremental backup builds on `id`.
    pub(super) fn has_dependent_backups(&self, backup: &Backup) -> bool {
        self.backups
            .children_of(&backup.volume_id)
            .any(|b| b.parent_id.as_deref() == Some(backup.id.as_str()))
    }

    /// DELETE /backups/{id}: deleting until `done_at`, then gone.
    pub(super) fn delete_backup(
        &mut self,
        actor: &Actor,
        id: &str,
        at: DateTime<Utc>,
        done_at: DateTime<Utc>,
    ) -> CResult<()> {
        let backup = self.backup(actor, id)?;
        if !matches!(backup.status.as_str(), "available" | "error") {
            return Err(bad_request(
                "Invalid backup: Backup status must be available or error",
            ));
        }
        if self.has_dependent_backups(backup) {
            return Err(bad_request(
                "Invalid backup: Incremental backups exist for this backup.",
            ));
        }
        if let Some(backup) = self.backups.get_mut(id) {
            backup.transition("deleting", GONE, done_at, at);
        }
        self.settle_backup(id, at);
        Ok(())
    }

    /// POST /backups/{id}/restore: onto `volume_id` (available, at least the backup's size)
    /// or onto a new volume of the backup's size named `name` (or `restore_backup_<id>`).
    pub(super) fn restore_backup(
        &mut self,
        actor: &Actor,
        id: &str,
        volume_id: Option<&str>,
        name: Option<String>,
        at: DateTime<Utc>,
        done_at: DateTime<Utc>,
    ) -> CResult<Restored> {
        let backup = self.backup(actor, id)?;
        if backup.status != "available" {
            return Err(bad_request(
                "Invalid backup: Backup status must be available",
            ));
        }
        let backup_size = backup.size;
        let target = match volume_id {
            Some(volume_id) => {
                let volume = self.volume(actor, volume_id)?;
                if volume.status != "available" {
                    return Err(bad_request(format!(
                        "Invalid volume: Volume to be restored to must be available, but the \
                         current status is \"{}\".",
                        volume.status
                    )));
                }
                if volume.size < backup_size {
                    return Err(bad_request(format!(
                        "Invalid volume: volume size {} is too small to restore backup of size \
                         {backup_size}.",
                        volume.size
                    )));
                }
                volume_id.to_string()
            }
            None => {
                let name = name.unwrap_or_else(|| format!("restore_backup_{id}"));
                let input = ops::NewVolume {
                    size: Some(backup_size),
                    name: Some(name),
                    description: Some("auto-created_from_restore_from_backup".to_string()),
                    volume_type: None,
                    availability_zone: None,
                    metadata: BTreeMap::new(),
                    snapshot_id: None,
                    source_volid: None,
                    image_id: None,
                    backup_id: None,
                };
                self.create_volume(actor, input, |_| None, at, at)?
            }
        };
        self.start_restore(id, &target, at, done_at);
        let volume_name = self.volumes.get(&target).and_then(|v| v.name.clone());
        Ok(Restored {
            volume_id: target,
            volume_name,
        })
    }

    /// The backup is restoring and the volume restoring-backup until `done_at`; the volume
    /// takes the backed-up volume's metadata and `src_backup_id`, as Cinder restores them.
    pub(super) fn start_restore(
        &mut self,
        backup_id: &str,
        volume_id: &str,
        at: DateTime<Utc>,
        done_at: DateTime<Utc>,
    ) {
        let mut metadata = BTreeMap::new();
        if let Some(backup) = self.backups.get_mut(backup_id) {
            backup.transition("restoring", "available", done_at, at);
            metadata = backup.volume_metadata.clone();
        }
        metadata.insert("src_backup_id".to_string(), backup_id.to_string());
        if let Some(volume) = self.volumes.get_mut(volume_id) {
            volume.transition("restoring-backup", "available", done_at, at);
            volume.metadata.extend(metadata);
        }
    }
}
