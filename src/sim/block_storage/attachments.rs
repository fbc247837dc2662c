//! Attachments: Cinder's attachments API (3.27+: create reserves, update with a connector,
//! os-complete attaches, delete detaches), the legacy os-attach / os-detach actions, and the
//! seam Nova's `os-volume_attachments` uses (attach, detach, a server's volumes, and the
//! detach of everything when a server goes).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::*;

/// Why Nova cannot attach or detach a volume; Nova words these itself.
#[derive(Debug, PartialEq, Eq)]
pub enum AttachError {
    /// The volume does not exist for the caller.
    VolumeNotFound,
    /// Attached to these servers, and not multiattach.
    AlreadyAttached(Vec<String>),
    /// Not in a status that can be attached.
    NotAvailable(String),
    /// Detach: the server holds no attachment of that volume.
    NotAttached,
}

/// One of a server's volumes, as Nova shows it.
pub struct ServerVolume {
    pub volume_id: String,
    pub attachment_id: String,
    pub device: Option<String>,
    pub bdm_uuid: Option<String>,
}

impl BlockStorageData {
    pub(super) fn attachment(&self, actor: &Actor, id: &str) -> CResult<&Attachment> {
        self.attachments
            .get(id)
            .filter(|a| Self::visible(actor, &a.project_id))
            .ok_or_else(|| not_found(format!("VolumeAttachment {id} could not be found.")))
    }

    /// The servers a volume is attached to (or being attached to).
    fn attached_servers(&self, volume: &Volume) -> Vec<String> {
        volume
            .attachment_ids
            .iter()
            .filter_map(|id| self.attachments.get(id))
            .map(|a| a.server_id.clone())
            .collect()
    }

    /// Reserves `volume_id` for `server_id` (POST /attachments): the attachment is reserved,
    /// whether or not a connector comes with it (os-complete attaches); the volume follows.
    pub(super) fn create_attachment(
        &mut self,
        actor: &Actor,
        volume_id: &str,
        server_id: &str,
        connector: Option<Value>,
        mode: &str,
        at: DateTime<Utc>,
    ) -> CResult<String> {
        let volume = self.volume(actor, volume_id)?;
        // The server holding it may reserve it again (Cinder allows it for a migration).
        let servers = self.attached_servers(volume);
        let same_server = !servers.is_empty() && servers.iter().all(|s| s == server_id);
        // Cinder reserves by a conditional update on the status: a multiattach volume another
        // server is reserving or attaching at this moment is refused, and the caller retries.
        let reservable = match volume.status.as_str() {
            "available" => true,
            "in-use" => volume.multiattach || same_server,
            "reserved" | "attaching" => same_server,
            _ => false,
        };
        if !reservable {
            let expected = if volume.multiattach {
                "available or in-use or downloading"
            } else {
                "available or downloading"
            };
            return Err(bad_request(format!(
                "Invalid volume: Volume {volume_id} status must be {expected} to reserve, but \
                 the current status is {}.",
                volume.status
            )));
        }
        let project_id = volume.project_id.clone();
        let status = "reserved";
        let attachment = Attachment {
            id: new_uuid(),
            project_id,
            volume_id: volume_id.to_string(),
            server_id: server_id.to_string(),
            status: status.to_string(),
            attach_mode: mode.to_string(),
            device: connector
                .as_ref()
                .and_then(|c| c.get("mountpoint"))
                .and_then(Value::as_str)
                .map(str::to_string),
            connector,
            attached_at: None,
            bdm_uuid: None,
            pending: None,
        };
        let id = attachment.id.clone();
        self.attachments.insert(id.clone(), attachment);
        if let Some(volume) = self.volumes.get_mut(volume_id) {
            volume.attachment_ids.push(id.clone());
            if volume.status != "in-use" {
                volume.status = status.to_string();
            }
            volume.updated_at = Some(at);
        }
        Ok(id)
    }

    /// PUT /attachments/{id}: the connector arrives; the volume is attaching.
    pub(super) fn update_attachment(
        &mut self,
        actor: &Actor,
        id: &str,
        connector: Value,
        at: DateTime<Utc>,
    ) -> CResult<()> {
        let volume_id = self.attachment(actor, id)?.volume_id.clone();
        if let Some(attachment) = self.attachments.get_mut(id) {
            if let Some(device) = connector.get("mountpoint").and_then(Value::as_str) {
                attachment.device = Some(device.to_string());
            }
            // The attachment stays reserved until os-complete, as Cinder shows it.
            attachment.connector = Some(connector);
        }
        if let Some(volume) = self.volumes.get_mut(&volume_id)
            && volume.status != "in-use"
        {
            volume.status = "attaching".to_string();
            volume.updated_at = Some(at);
        }
        Ok(())
    }

    /// os-complete: attached; the volume is in-use.
    pub(super) fn complete_attachment(
        &mut self,
        actor: &Actor,
        id: &str,
        at: DateTime<Utc>,
    ) -> CResult<()> {
        let volume_id = self.attachment(actor, id)?.volume_id.clone();
        if let Some(attachment) = self.attachments.get_mut(id) {
            attachment.status = "attached".to_string();
            attachment.attached_at = Some(at);
        }
        if let Some(volume) = self.volumes.get_mut(&volume_id) {
            volume.status = "in-use".to_string();
            volume.updated_at = Some(at);
        }
        Ok(())
    }

    /// DELETE /attachments/{id}: the volume is available again once its last attachment
    /// goes. Answers the volume's remaining attachments.
    pub(super) fn delete_attachment(
        &mut self,
        actor: &Actor,
        id: &str,
        at: DateTime<Utc>,
    ) -> CResult<Vec<String>> {
        let volume_id = self.attachment(actor, id)?.volume_id.clone();
        self.detach_attachment(id, at);
        let remaining = self
            .volumes
            .get(&volume_id)
            .map(|v| v.attachment_ids.clone())
            .unwrap_or_default();
        Ok(remaining)
    }

    /// Attaches at once (Nova's flow and os-attach end there): reserve, connect, complete.
    fn attach_now(
        &mut self,
        actor: &Actor,
        volume_id: &str,
        server_id: &str,
        device: Option<String>,
        at: DateTime<Utc>,
    ) -> CResult<String> {
        let id = self.create_attachment(actor, volume_id, server_id, None, "rw", at)?;
        if let Some(attachment) = self.attachments.get_mut(&id) {
            attachment.device = device;
        }
        self.complete_attachment(actor, &id, at)?;
        Ok(id)
    }

    /// os-attach (legacy): attached to `server_id` at `mountpoint`.
    pub(super) fn os_attach(
        &mut self,
        actor: &Actor,
        volume_id: &str,
        server_id: &str,
        mountpoint: Option<String>,
        at: DateTime<Utc>,
    ) -> CResult<()> {
        self.attach_now(actor, volume_id, server_id, mountpoint, at)
            .map(|_| ())
    }

    /// os-detach (legacy): removes `attachment_id`, or the volume's only attachment.
    pub(super) fn os_detach(
        &mut self,
        actor: &Actor,
        volume_id: &str,
        attachment_id: Option<&str>,
        at: DateTime<Utc>,
    ) -> CResult<()> {
        let volume = self.volume(actor, volume_id)?;
        let id = match attachment_id {
            Some(id) => id.to_string(),
            None if volume.attachment_ids.len() == 1 => volume.attachment_ids[0].clone(),
            None => {
                return Err(bad_request(
                    "Invalid volume: Volume has multiple attachments, an attachment_id is \
                     required.",
                ));
            }
        };
        if !volume.attachment_ids.contains(&id) {
            return Err(not_found(format!(
                "VolumeAttachment {id} could not be found."
            )));
        }
        self.delete_attachment(actor, &id, at).map(|_| ())
    }

    // -----------------------------------------------------------------------------------
    // Nova's seam

    /// Nova attaches `volume_id` to `server_id` for a caller of `project_id`: it reserves
    /// the volume and answers at once; the volume is reserved until `done_at`, then in-use
    /// (Nova connects and completes the attachment after its reply). The device is the first
    /// free /dev/sdX from sdb (the root disk is sda), as Nova's fake driver names them.
    pub fn attach_for_server(
        &mut self,
        project_id: &str,
        admin: bool,
        server_id: &str,
        volume_id: &str,
        at: DateTime<Utc>,
        done_at: DateTime<Utc>,
    ) -> Result<ServerVolume, AttachError> {
        let actor = Actor {
            project_id: project_id.to_string(),
            user_id: String::new(),
            admin,
        };
        self.settle_volume(volume_id, at);
        let volume = self
            .volume(&actor, volume_id)
            .map_err(|_| AttachError::VolumeNotFound)?;
        let servers = self.attached_servers(volume);
        if !servers.is_empty() && (!volume.multiattach || servers.iter().any(|s| s == server_id)) {
            return Err(AttachError::AlreadyAttached(servers));
        }
        let used: Vec<String> = self
            .attachments
            .children_of(server_id)
            .filter_map(|a| a.device.clone())
            .collect();
        let device = ('b'..='z')
            .map(|letter| format!("/dev/sd{letter}"))
            .find(|d| !used.contains(d));
        let attachment_id = self
            .create_attachment(&actor, volume_id, server_id, None, "rw", at)
            .map_err(|fault| AttachError::NotAvailable(fault.message))?;
        let bdm_uuid = new_uuid();
        if let Some(attachment) = self.attachments.get_mut(&attachment_id) {
            attachment.device = device.clone();
            attachment.bdm_uuid = Some(bdm_uuid.clone());
            attachment.pending = Some(Pending {
                done_at,
                status: ATTACHED.to_string(),
            });
        }
        self.status_from_attachments(volume_id);
        self.settle_attachment(&attachment_id, at);
        Ok(ServerVolume {
            volume_id: volume_id.to_string(),
            attachment_id,
            device,
            bdm_uuid: Some(bdm_uuid),
        })
    }

    /// Nova detaches `volume_id` from `server_id`: the volume is detaching until `done_at`,
    /// then the attachment goes (Nova lists it until then).
    pub fn detach_for_server(
        &mut self,
        server_id: &str,
        volume_id: &str,
        at: DateTime<Utc>,
        done_at: DateTime<Utc>,
    ) -> Result<(), AttachError> {
        self.settle_volume(volume_id, at);
        let attachment = self
            .attachments
            .children_of(server_id)
            .find(|a| a.volume_id == volume_id)
            .ok_or(AttachError::NotAttached)?;
        // Nova asks Cinder to begin detaching, which only an in-use volume may; Nova wraps
        // Cinder's refusal, as cinderclient words it, in its own.
        if self
            .volumes
            .get(volume_id)
            .is_none_or(|v| v.status != "in-use")
        {
            return Err(AttachError::NotAvailable(format!(
                "Invalid volume: Invalid input received: Invalid volume: Unable to detach \
                 volume. Volume status must be 'in-use' and attach_status must be 'attached' to \
                 detach. (HTTP 400) (Request-ID: req-{})",
                new_uuid()
            )));
        }
        let id = attachment.id.clone();
        if let Some(attachment) = self.attachments.get_mut(&id) {
            attachment.pending = Some(Pending {
                done_at,
                status: DETACHED.to_string(),
            });
        }
        if let Some(volume) = self.volumes.get_mut(volume_id) {
            volume.updated_at = Some(at);
        }
        self.status_from_attachments(volume_id);
        self.settle_attachment(&id, at);
        Ok(())
    }

    /// Ends a Nova attach or detach whose time has come: attached (the volume in-use), or
    /// detached (the attachment gone).
    pub(super) fn settle_attachment(&mut self, id: &str, at: DateTime<Utc>) {
        let Some(attachment) = self.attachments.get(id) else {
            return;
        };
        let Some(pending) = attachment.pending.clone().filter(|p| p.done_at <= at) else {
            return;
        };
        let volume_id = attachment.volume_id.clone();
        if pending.status == DETACHED {
            self.detach_attachment(id, pending.done_at);
            return;
        }
        if let Some(attachment) = self.attachments.get_mut(id) {
            attachment.status = pending.status;
            attachment.attached_at = Some(pending.done_at);
            attachment.pending = None;
        }
        if let Some(volume) = self.volumes.get_mut(&volume_id) {
            volume.updated_at = Some(pending.done_at);
        }
        self.status_from_attachments(&volume_id);
    }

    /// The volumes attached to `server_id`, oldest attachment first.
    pub fn server_volumes(&self, server_id: &str) -> Vec<ServerVolume> {
        let mut attachments: Vec<&Attachment> = self.attachments.children_of(server_id).collect();
        attachments.sort_by_key(|a| a.attached_at);
        attachments
            .into_iter()
            .map(|a| ServerVolume {
                volume_id: a.volume_id.clone(),
                attachment_id: a.id.clone(),
                device: a.device.clone(),
                bdm_uuid: a.bdm_uuid.clone(),
            })
            .collect()
    }

    /// A server is gone: its volumes are detached, as Nova does on delete.
    pub fn detach_server(&mut self, server_id: &str, at: DateTime<Utc>) {
        let ids: Vec<String> = self
            .attachments
            .ids_under(server_id)
            .iter()
            .cloned()
            .collect();
        for id in ids {
            self.detach_attachment(&id, at);
        }
    }

    fn detach_attachment(&mut self, id: &str, at: DateTime<Utc>) {
        let Some(attachment) = self.attachments.remove(id) else {
            return;
        };
        if let Some(volume) = self.volumes.get_mut(&attachment.volume_id) {
            volume.attachment_ids.retain(|a| a != id);
            volume.updated_at = Some(at);
        }
        self.status_from_attachments(&attachment.volume_id);
    }

    /// A volume's status from its attachments: available with none left, in-use while one
    /// is attached (and not detaching), detaching while Nova detaches it, reserved when only
    /// reservations are (Nova's attach shows reserved until it completes, as real Cinder).
    fn status_from_attachments(&mut self, volume_id: &str) {
        let Some(volume) = self.volumes.get(volume_id) else {
            return;
        };
        let states: Vec<(&str, Option<&str>)> = volume
            .attachment_ids
            .iter()
            .filter_map(|id| self.attachments.get(id))
            .map(|a| {
                (
                    a.status.as_str(),
                    a.pending.as_ref().map(|p| p.status.as_str()),
                )
            })
            .collect();
        let status = if states.is_empty() {
            "available"
        } else if states.contains(&("attached", None)) {
            "in-use"
        } else if states.iter().any(|(_, p)| *p == Some(DETACHED)) {
            "detaching"
        } else {
            "reserved"
        };
        if let Some(volume) = self.volumes.get_mut(volume_id) {
            volume.status = status.to_string();
        }
    }
}
