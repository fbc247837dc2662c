//! Cinder v3 at microversion [`VOLUME_MICROVERSION`]: volumes and their actions (extend,
//! bootable), snapshots, backups (with restore), volume types, availability zones, limits and
//! quota sets with usage. Lists follow `<collection>_links` pages, as Nova's do.
//!
//! The endpoint is the catalog's `block-storage` entry, else `volumev3`; its URL already holds
//! the project id (`/v3/<project>`), so paths start below it. Cinder's error bodies are
//! `{"<fault>": {"code", "message"}}` (`badRequest`, `itemNotFound`, `overLimit`), read by
//! [`super::error::service_message`] like Nova's.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use super::collection::Wrapped;
use super::{ApiError, ServiceType, Session};

const BLOCK_STORAGE: ServiceType = ServiceType::BlockStorage;

/// Cinder microversion sent on every call: 3.43 gives backups metadata (where their ownership
/// marks go), and from 3.42 a volume can be extended while attached (in-use); everything else
/// we call (metadata filters on lists, backup restore, per-type quotas) is older. Real Cinder
/// 2026.2 goes up to 3.71.
pub const VOLUME_MICROVERSION: &str = "3.43";

/// A Cinder collection: its URL path, the path its detailed list is at, and its keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Collection {
    pub path: &'static str,
    /// `volumes/detail`: the plain list has only ids and names.
    pub detail: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
}

pub const VOLUMES: Collection = Collection {
    path: "volumes",
    detail: "volumes/detail",
    plural: "volumes",
    singular: "volume",
};
pub const SNAPSHOTS: Collection = Collection {
    path: "snapshots",
    detail: "snapshots/detail",
    plural: "snapshots",
    singular: "snapshot",
};
pub const BACKUPS: Collection = Collection {
    path: "backups",
    detail: "backups/detail",
    plural: "backups",
    singular: "backup",
};
pub const VOLUME_TYPES: Collection = Collection {
    path: "types",
    detail: "types",
    plural: "volume_types",
    singular: "volume_type",
};

/// `bootable` comes as the string "true"/"false" from real Cinder, as a boolean from others.
fn bool_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    })
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Volume {
    pub id: String,
    /// null when the volume was made without one.
    pub name: Option<String>,
    pub description: Option<String>,
    pub status: String,
    /// Gigabytes.
    pub size: u64,
    pub availability_zone: Option<String>,
    /// The type's name.
    pub volume_type: Option<String>,
    #[serde(deserialize_with = "bool_or_string")]
    pub bootable: bool,
    pub metadata: BTreeMap<String, String>,
    pub snapshot_id: Option<String>,
    pub source_volid: Option<String>,
    pub multiattach: bool,
    pub attachments: Vec<VolumeAttachment>,
    /// Present for admins (and owners): the owning project.
    #[serde(rename = "os-vol-tenant-attr:tenant_id")]
    pub project_id: Option<String>,
    /// The image a volume made from one came from (`image_id`, among others).
    pub volume_image_metadata: BTreeMap<String, Value>,
}

impl Volume {
    /// The Glance image the volume was made from.
    pub fn image_id(&self) -> Option<String> {
        self.volume_image_metadata
            .get("image_id")
            .and_then(Value::as_str)
            .map(str::to_string)
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct VolumeAttachment {
    pub server_id: Option<String>,
    pub attachment_id: Option<String>,
    pub device: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Snapshot {
    pub id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub status: String,
    pub size: u64,
    pub volume_id: String,
    pub metadata: BTreeMap<String, String>,
    #[serde(rename = "os-extended-snapshot-attributes:project_id")]
    pub project_id: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Backup {
    pub id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub status: String,
    pub size: u64,
    pub volume_id: String,
    pub is_incremental: bool,
    pub fail_reason: Option<String>,
    /// From microversion 3.43 on.
    pub metadata: BTreeMap<String, String>,
    #[serde(rename = "os-backup-project-attr:project_id")]
    pub project_id: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct VolumeType {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub is_public: Option<bool>,
    pub extra_specs: BTreeMap<String, Value>,
}

impl VolumeType {
    /// A type whose volumes may be attached to several servers at once.
    pub fn is_multiattach(&self) -> bool {
        self.extra_specs
            .get("multiattach")
            .and_then(Value::as_str)
            .is_some_and(|v| v.trim() == "<is> True")
    }
}

/// One availability zone of `GET /os-availability-zone`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct AvailabilityZone {
    #[serde(rename = "zoneName")]
    pub name: String,
    #[serde(rename = "zoneState")]
    pub state: ZoneState,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ZoneState {
    pub available: bool,
}

/// One quota with its usage: Cinder's `GET /os-quota-sets/{project}?usage=true`, Nova's
/// `.../detail`, Neutron's `GET /quotas/{project}/details`.
#[derive(Clone, Copy, Debug, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(default)]
pub struct QuotaUse {
    /// -1 is unlimited.
    pub limit: i64,
    /// Neutron's quota details call it `used`.
    #[serde(alias = "used")]
    pub in_use: i64,
    pub reserved: i64,
}

/// The quotas of a quota set with usage; what is not one (Nova's `id`) is left out.
pub(super) fn quota_uses(set: BTreeMap<String, Value>) -> BTreeMap<String, QuotaUse> {
    set.into_iter()
        .filter(|(_, v)| v.is_object())
        .filter_map(|(k, v)| serde_json::from_value(v).ok().map(|q| (k, q)))
        .collect()
}

#[derive(Clone, Copy)]
pub struct BlockStorage<'a>(pub &'a Session);

impl Session {
    pub fn block_storage(&self) -> BlockStorage<'_> {
        BlockStorage(self)
    }
}

impl<'a> BlockStorage<'a> {
    fn collection(self, c: Collection) -> Wrapped<'a> {
        Wrapped {
            session: self.0,
            service: BLOCK_STORAGE,
            path: c.path,
            list_path: c.detail,
            plural: c.plural,
            singular: c.singular,
        }
    }
}

impl BlockStorage<'_> {
    /// The detailed list of a collection (`volumes/detail`), every page.
    pub async fn list<T: DeserializeOwned>(
        self,
        c: Collection,
        query: &[(String, String)],
    ) -> Result<Vec<T>, ApiError> {
        self.collection(c).list(query).await
    }

    pub async fn get<T: DeserializeOwned>(self, c: Collection, id: &str) -> Result<T, ApiError> {
        self.collection(c).get(id).await
    }

    /// POSTs the inner object (`{"volume": body}` is added here). Never retried.
    pub async fn create<T: DeserializeOwned>(
        self,
        c: Collection,
        body: Value,
    ) -> Result<T, ApiError> {
        self.collection(c).create(body).await
    }

    /// PUTs name, description or metadata. Cinder replaces the whole metadata map when it is
    /// given, so callers send every key they want kept.
    pub async fn update<T: DeserializeOwned>(
        self,
        c: Collection,
        id: &str,
        changes: Value,
    ) -> Result<T, ApiError> {
        self.collection(c).update(id, changes).await
    }

    /// Replaces a snapshot's metadata (`PUT /snapshots/{id}/metadata`): the snapshot's own
    /// PUT takes only its name and description.
    pub async fn set_snapshot_metadata(
        self,
        id: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<(), ApiError> {
        self.0
            .send_no_content(
                BLOCK_STORAGE,
                Method::PUT,
                &format!("/snapshots/{id}/metadata"),
                Some(&json!({ "metadata": metadata })),
            )
            .await
    }

    /// Deletes; Cinder answers 202 and the object goes through `deleting` before it is gone.
    pub async fn delete(self, c: Collection, id: &str) -> Result<(), ApiError> {
        self.collection(c).delete(id).await
    }

    /// `POST /volumes/{id}/action` with one action (`{"os-extend": {...}}`); Cinder answers
    /// 202 with no body.
    async fn volume_action(self, id: &str, action: &str, args: Value) -> Result<(), ApiError> {
        self.0
            .send_no_content(
                BLOCK_STORAGE,
                Method::POST,
                &format!("/volumes/{id}/action"),
                Some(&json!({ action: args })),
            )
            .await
    }

    /// Grows the volume to `new_size` GB; Cinder refuses (400) anything not larger.
    pub async fn extend(self, id: &str, new_size: u64) -> Result<(), ApiError> {
        self.volume_action(id, "os-extend", json!({ "new_size": new_size }))
            .await
    }

    pub async fn set_bootable(self, id: &str, bootable: bool) -> Result<(), ApiError> {
        self.volume_action(id, "os-set_bootable", json!({ "bootable": bootable }))
            .await
    }

    /// Restores backup `backup` onto the existing volume `volume` (which must be available and
    /// at least the backup's size). The volume goes `restoring-backup`, then `available`.
    pub async fn restore_backup(self, backup: &str, volume: &str) -> Result<(), ApiError> {
        self.0
            .send_no_content(
                BLOCK_STORAGE,
                Method::POST,
                &format!("/backups/{backup}/restore"),
                Some(&json!({ "restore": { "volume_id": volume } })),
            )
            .await
    }

    pub async fn list_volume_types(self) -> Result<Vec<VolumeType>, ApiError> {
        self.0
            .list(
                BLOCK_STORAGE,
                &format!("/{}", VOLUME_TYPES.path),
                VOLUME_TYPES.plural,
                &[],
            )
            .await
    }

    pub async fn list_availability_zones(self) -> Result<Vec<AvailabilityZone>, ApiError> {
        self.0
            .get(
                BLOCK_STORAGE,
                "/os-availability-zone",
                "availabilityZoneInfo",
            )
            .await
    }

    /// The project's absolute limits (`maxTotalVolumeGigabytes`, `totalGigabytesUsed`...).
    pub async fn absolute_limits(self) -> Result<BTreeMap<String, i64>, ApiError> {
        let limits: Value = self.0.get(BLOCK_STORAGE, "/limits", "limits").await?;
        Ok(limits
            .get("absolute")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| v.as_i64().map(|v| (k.clone(), v)))
            .collect())
    }

    /// A project's quotas with their usage; per-type quotas appear as `gigabytes_<type>`,
    /// `volumes_<type>`, `snapshots_<type>`.
    pub async fn quota_usage(
        self,
        project_id: &str,
    ) -> Result<BTreeMap<String, QuotaUse>, ApiError> {
        let set: BTreeMap<String, Value> = self
            .0
            .get(
                BLOCK_STORAGE,
                &format!("/os-quota-sets/{project_id}?usage=true"),
                "quota_set",
            )
            .await?;
        Ok(quota_uses(set))
    }

    pub async fn update_quotas(
        self,
        project_id: &str,
        quotas: &BTreeMap<String, i64>,
    ) -> Result<(), ApiError> {
        self.0
            .send_no_content(
                BLOCK_STORAGE,
                Method::PUT,
                &format!("/os-quota-sets/{project_id}"),
                Some(&json!({ "quota_set": quotas })),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> Value {
        // Copied from /work/shared/openstack-api-samples/block-storage/ (openstack/cinder
        // api-ref samples).
        let path = format!(
            "{}/tests/fixtures/openstack/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn decodes_the_sample_volume_with_its_string_bootable() {
        let mut body = sample("volumes_v3.69_volume-show-response.json");
        let volume: Volume = serde_json::from_value(body["volume"].take()).unwrap();
        assert_eq!(volume.id, "f7223234-1afc-4d19-bfa3-d19deb6235ef");
        assert_eq!(volume.size, 10);
        assert_eq!(volume.status, "creating");
        assert_eq!(volume.volume_type.as_deref(), Some("__DEFAULT__"));
        assert_eq!(volume.name, None);
        assert!(!volume.bootable);
        assert_eq!(
            volume.project_id.as_deref(),
            Some("89afd400-b646-4bbc-b12b-c0a4d63e5bd3")
        );
        let bootable: Volume = serde_json::from_value(json!({"bootable": "true"})).unwrap();
        assert!(bootable.bootable);
        let boolean: Volume = serde_json::from_value(json!({"bootable": true})).unwrap();
        assert!(boolean.bootable);
    }

    #[test]
    fn decodes_the_sample_snapshot_and_backup() {
        let mut body = sample("snapshots_v3.65_snapshot-show-response.json");
        let snapshot: Snapshot = serde_json::from_value(body["snapshot"].take()).unwrap();
        assert_eq!(snapshot.volume_id, "b72c48f1-64b7-4cd8-9745-b12e0be82d37");
        assert_eq!(snapshot.metadata["key"], "v3");
        let mut body = sample("backups_v3.56_backup-show-response.json");
        let backup: Backup = serde_json::from_value(body["backup"].take()).unwrap();
        assert_eq!(backup.size, 10);
        assert!(!backup.is_incremental);
        assert_eq!(
            backup.project_id.as_deref(),
            Some("89afd400-b646-4bbc-b12b-c0a4d63e5bd3")
        );
    }

    #[test]
    fn quota_usage_reads_per_type_keys() {
        let body = sample("quota_sets_quotas-show-usage-response.json");
        let set: BTreeMap<String, QuotaUse> = body["quota_set"]
            .as_object()
            .unwrap()
            .iter()
            .filter_map(|(k, v)| {
                serde_json::from_value(v.clone())
                    .ok()
                    .map(|q| (k.clone(), q))
            })
            .collect();
        assert!(set.contains_key("gigabytes"), "{set:?}");
        assert!(!set.contains_key("id"));
    }

    #[test]
    fn cinder_error_bodies_give_their_message() {
        use super::super::error::service_message;
        // As real Cinder 2026.2 answered (413 on a create over the gigabytes quota).
        let over = r#"{"overLimit": {"code": 413, "message": "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested 5000G, quota is 1000G and 2G has been consumed.", "retryAfter": "0"}}"#;
        assert_eq!(
            service_message(over).as_deref(),
            Some(
                "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed \
                 gigabytes quota. Requested 5000G, quota is 1000G and 2G has been consumed."
            )
        );
        let bad = r#"{"badRequest": {"code": 400, "message": "Invalid input received: New size for extend must be greater than current size. (current: 1, extended: 1)."}}"#;
        assert!(
            service_message(bad)
                .unwrap()
                .starts_with("Invalid input received")
        );
        let missing =
            r#"{"itemNotFound": {"code": 404, "message": "Volume nonexist could not be found."}}"#;
        assert_eq!(
            service_message(missing).as_deref(),
            Some("Volume nonexist could not be found.")
        );
    }
}
