//! Nova's seam for the volumes it makes and removes itself: a server booted from a new volume
//! (block_device_mapping_v2 `source_type=image, destination_type=volume`) has Nova create it
//! in Cinder, as the server's project (it counts in that project's quotas), named "" and
//! bootable; one made with `delete_on_termination` goes with the server.

use chrono::{DateTime, Utc};

use super::BlockStorageData;
use super::model::Actor;
use super::ops::NewVolume;

impl BlockStorageData {
    /// Creates the boot volume of a server from `image_id` (active, as Nova checked):
    /// available at once (Nova waits for it before it attaches). Answers Cinder's refusal
    /// (quota, size) as its message.
    pub fn create_for_server(
        &mut self,
        project_id: &str,
        user_id: &str,
        image_id: &str,
        size: i64,
        at: DateTime<Utc>,
    ) -> Result<String, String> {
        let actor = Actor {
            project_id: project_id.to_string(),
            user_id: user_id.to_string(),
            admin: false,
        };
        let input = NewVolume {
            size: Some(size),
            name: Some(String::new()),
            description: Some(String::new()),
            volume_type: None,
            availability_zone: None,
            metadata: Default::default(),
            snapshot_id: None,
            source_volid: None,
            image_id: Some(image_id.to_string()),
            backup_id: None,
        };
        let id = self
            .create_volume(&actor, input, |_| Some(true), at, at)
            .map_err(|fault| fault.message)?;
        self.settle_volume(&id, at);
        Ok(id)
    }

    /// Names the device of `volume_id`'s attachment to `server_id` (the root disk of a
    /// server booted from it).
    pub fn set_server_device(&mut self, server_id: &str, volume_id: &str, device: &str) {
        let ids: Vec<String> = self
            .attachments
            .ids_under(server_id)
            .iter()
            .cloned()
            .collect();
        for id in ids {
            if let Some(attachment) = self.attachments.get_mut(&id)
                && attachment.volume_id == volume_id
            {
                attachment.device = Some(device.to_string());
            }
        }
    }

    /// A volume's status, whoever owns it.
    pub fn volume_status(&self, volume_id: &str) -> Option<String> {
        self.volumes.get(volume_id).map(|v| v.status.clone())
    }

    /// Deletes a volume Nova made, once its server is gone and it is detached.
    pub fn delete_for_server(&mut self, volume_id: &str, at: DateTime<Utc>) {
        let Some(project_id) = self.volumes.get(volume_id).map(|v| v.project_id.clone()) else {
            return;
        };
        let actor = Actor {
            project_id,
            user_id: String::new(),
            admin: true,
        };
        // Detached just before, the volume is available: Cinder's refusals do not apply.
        let _ = self.delete_volume(&actor, volume_id, true, at, at);
    }
}
