//! Cinder's rules for snapshots: create (from an available volume, or an in-use one with
//! `force` or from 3.66), update, delete; a volume with snapshots cannot be deleted.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::*;

/// What a snapshot create asks for.
pub struct NewSnapshot {
    pub volume_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub force: bool,
    pub metadata: BTreeMap<String, String>,
}

impl BlockStorageData {
    pub(super) fn snapshot(&self, actor: &Actor, id: &str) -> CResult<&Snapshot> {
        self.snapshots
            .get(id)
            .filter(|s| Self::visible(actor, &s.project_id) && s.status != GONE)
            .ok_or_else(|| not_found(format!("Snapshot {id} could not be found.")))
    }

    pub(super) fn create_snapshot(
        &mut self,
        actor: &Actor,
        input: NewSnapshot,
        in_use_without_force: bool,
        at: DateTime<Utc>,
        done_at: DateTime<Utc>,
    ) -> CResult<String> {
        let volume = self.volume(actor, &input.volume_id)?;
        let id = &volume.id;
        let status = volume.status.as_str();
        if input.force || in_use_without_force {
            if !matches!(status, "available" | "in-use") {
                return Err(bad_request(format!(
                    "Invalid volume: Volume {id} status must be available or in-use, but \
                     current status is: {status}."
                )));
            }
        } else if status != "available" {
            return Err(bad_request(format!(
                "Invalid volume: Volume {id} status must be available, but current status \
                 is: {status}."
            )));
        }
        let (size, volume_type_id, project_id) = (
            volume.size,
            volume.volume_type_id.clone(),
            volume.project_id.clone(),
        );
        let type_name = self.type_name(&volume_type_id);
        let deltas = vec![
            ("snapshots".to_string(), 1),
            ("gigabytes".to_string(), size),
            (format!("snapshots_{type_name}"), 1),
            (format!("gigabytes_{type_name}"), size),
        ];
        self.check_quota(&project_id, &deltas)?;
        let mut snapshot = Snapshot {
            id: new_uuid(),
            project_id,
            user_id: actor.user_id.clone(),
            volume_id: input.volume_id,
            volume_type_id,
            name: input.name,
            description: input.description,
            size,
            status: String::new(),
            pending: None,
            metadata: input.metadata,
            created_at: at,
            updated_at: None,
        };
        snapshot.transition("creating", "available", done_at, at);
        snapshot.updated_at = None;
        let id = snapshot.id.clone();
        self.snapshots.insert(id.clone(), snapshot);
        Ok(id)
    }

    pub(super) fn update_snapshot(
        &mut self,
        actor: &Actor,
        id: &str,
        name: Option<Option<String>>,
        description: Option<Option<String>>,
        at: DateTime<Utc>,
    ) -> CResult<()> {
        self.snapshot(actor, id)?;
        if let Some(snapshot) = self.snapshots.get_mut(id) {
            if let Some(name) = name {
                snapshot.name = name;
            }
            if let Some(description) = description {
                snapshot.description = description;
            }
            snapshot.updated_at = Some(at);
        }
        Ok(())
    }

    /// DELETE /snapshots/{id}: deleting until `done_at`, then gone.
    pub(super) fn delete_snapshot(
        &mut self,
        actor: &Actor,
        id: &str,
        at: DateTime<Utc>,
        done_at: DateTime<Utc>,
    ) -> CResult<()> {
        let snapshot = self.snapshot(actor, id)?;
        if !matches!(snapshot.status.as_str(), "available" | "error") {
            return Err(bad_request(
                "Invalid snapshot: Snapshot status must be available or error and must not be \
                 part of a group.",
            ));
        }
        if let Some(snapshot) = self.snapshots.get_mut(id) {
            snapshot.transition("deleting", GONE, done_at, at);
        }
        self.settle_snapshot(id, at);
        Ok(())
    }
}
