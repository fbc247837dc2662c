//! Glance's records as the embedded cloud stores them (images with their properties and
//! upload snapshot), the seeded cirros image, and who may see or change an image.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::sim::core::{Caller, new_uuid, now};

use super::*;

/// What Nova hands Glance when it snapshots a server.
pub struct Snapshot {
    pub name: String,
    pub owner: String,
    pub instance_uuid: String,
    pub base_image_ref: String,
    pub user_id: String,
    pub metadata: BTreeMap<String, String>,
}

#[derive(Clone, Serialize, Deserialize)]
pub(super) struct Image {
    pub(super) id: String,
    pub(super) name: Option<String>,
    pub(super) status: String,
    pub(super) visibility: String,
    pub(super) owner: String,
    pub(super) disk_format: Option<String>,
    pub(super) container_format: Option<String>,
    pub(super) size: Option<u64>,
    pub(super) min_disk: u64,
    pub(super) min_ram: u64,
    pub(super) protected: bool,
    pub(super) os_hidden: bool,
    pub(super) tags: Vec<String>,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
    /// SHA-512 of the uploaded data, hex (Glance's multihash, `os_hash_algo` sha512).
    #[serde(default)]
    pub(super) os_hash_value: Option<String>,
    /// MD5 of the uploaded data, hex (Glance's legacy `checksum`).
    #[serde(default)]
    pub(super) checksum: Option<String>,
    /// The disk size the uploaded data describes (a qcow2 header's); None before an upload,
    /// and for records kept before it was (their size stands in).
    #[serde(default)]
    pub(super) virtual_size: Option<u64>,
    /// Free-form properties (`os_distro`, `hw_*`...), shown at the top level.
    pub(super) properties: BTreeMap<String, String>,
}

impl ImageData {
    /// The public `cirros` image every devstack has.
    pub fn seed(&mut self, admin_project_id: &str) {
        let at = now();
        self.images.push(Image {
            id: new_uuid(),
            name: Some("cirros".to_string()),
            status: "active".to_string(),
            visibility: "public".to_string(),
            owner: admin_project_id.to_string(),
            disk_format: Some("qcow2".to_string()),
            container_format: Some("bare".to_string()),
            size: Some(21_430_272),
            min_disk: 0,
            min_ram: 0,
            protected: false,
            os_hidden: false,
            tags: Vec::new(),
            created_at: at,
            updated_at: at,
            os_hash_value: None,
            checksum: None,
            virtual_size: None,
            properties: BTreeMap::from([
                ("os_distro".to_string(), "cirros".to_string()),
                ("hw_rng_model".to_string(), "virtio".to_string()),
            ]),
        });
    }

    /// Records a server snapshot (Nova's createImage) as an active private image of the
    /// server's project, with the properties Nova sets. Returns the image id.
    pub fn add_snapshot(&mut self, snapshot: Snapshot) -> String {
        let at = now();
        let id = new_uuid();
        let mut properties = snapshot.metadata;
        properties.insert("image_type".to_string(), "snapshot".to_string());
        properties.insert("instance_uuid".to_string(), snapshot.instance_uuid);
        properties.insert("base_image_ref".to_string(), snapshot.base_image_ref);
        properties.insert("user_id".to_string(), snapshot.user_id);
        self.images.push(Image {
            id: id.clone(),
            name: Some(snapshot.name),
            status: "active".to_string(),
            visibility: "private".to_string(),
            owner: snapshot.owner,
            disk_format: Some("qcow2".to_string()),
            container_format: Some("bare".to_string()),
            size: Some(0),
            min_disk: 0,
            min_ram: 0,
            protected: false,
            os_hidden: false,
            tags: Vec::new(),
            created_at: at,
            updated_at: at,
            os_hash_value: None,
            checksum: None,
            virtual_size: None,
            properties,
        });
        id
    }

    /// For Nova's boot checks: the status of an image the project may see, or None when it
    /// does not exist or is not visible.
    /// An admin sees every image, as Glance's policy lets Nova's admin-token lookup do.
    pub fn visible_status(&self, image_id: &str, project_id: &str, admin: bool) -> Option<&str> {
        self.images
            .iter()
            .find(|i| i.id == image_id && (admin || visible_to_project(i, project_id)))
            .map(|i| i.status.as_str())
    }
}

pub(super) fn visible_to_project(image: &Image, project_id: &str) -> bool {
    image.owner == project_id || matches!(image.visibility.as_str(), "public" | "community")
}

pub(super) fn visible(image: &Image, caller: &Caller) -> bool {
    caller.is_admin()
        || caller
            .project_id
            .as_deref()
            .is_some_and(|p| visible_to_project(image, p))
}

pub(super) fn owns(image: &Image, caller: &Caller) -> bool {
    caller.is_admin() || caller.project_id.as_deref() == Some(image.owner.as_str())
}
