//! Cinder's wire views: volumes (summary and detail, the fields each microversion adds, the
//! attributes only an admin sees), snapshots, backups, attachments and volume types.

use serde_json::{Value, json};

use super::*;

/// The negotiated volume microversion, 3.<minor>.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Microversion(pub u32);

impl Microversion {
    pub fn at_least(self, minor: u32) -> bool {
        self.0 >= minor
    }
}

/// What a view depends on besides the record.
pub struct ViewContext<'a> {
    /// http://127.0.0.1:PORT
    pub base: &'a str,
    pub mv: Microversion,
    pub admin: bool,
}

impl ViewContext<'_> {
    /// Cinder's `links`: self under /v3/{project}, bookmark without the version.
    fn links(&self, project_id: &str, collection: &str, id: &str) -> Value {
        json!([
            { "rel": "self", "href": format!("{}/volume/v3/{project_id}/{collection}/{id}", self.base) },
            { "rel": "bookmark", "href": format!("{}/volume/{project_id}/{collection}/{id}", self.base) },
        ])
    }
}

fn time(at: Option<DateTime<Utc>>) -> Value {
    at.map_or(Value::Null, |at| json!(cinder_time(at)))
}

impl BlockStorageData {
    /// GET /volumes: id, name, links.
    pub(super) fn volume_summary(&self, volume: &Volume, ctx: &ViewContext) -> Value {
        json!({
            "id": volume.id,
            "name": volume.name,
            "links": ctx.links(&volume.project_id, "volumes", &volume.id),
        })
    }

    /// A volume in full, as show and list/detail answer it (with the tenant attribute, and
    /// the host and migration ones for an admin).
    pub(super) fn volume_detail(&self, volume: &Volume, ctx: &ViewContext) -> Value {
        let mut body = self.volume_reply(volume, ctx);
        body["os-vol-tenant-attr:tenant_id"] = json!(volume.project_id);
        if ctx.admin {
            body["os-vol-mig-status-attr:migstat"] = Value::Null;
            body["os-vol-mig-status-attr:name_id"] = Value::Null;
            body["os-vol-host-attr:host"] = json!(BACKEND_HOST);
        }
        body
    }

    /// A volume as create and update answer it: without the extended attributes, and with
    /// no cinder-volume service yet while it is being created.
    pub(super) fn volume_reply(&self, volume: &Volume, ctx: &ViewContext) -> Value {
        let attachments: Vec<Value> = volume
            .attachment_ids
            .iter()
            .filter_map(|id| self.attachments.get(id))
            .filter(|a| a.status == "attached")
            .map(|a| {
                json!({
                    "id": volume.id,
                    "attachment_id": a.id,
                    "volume_id": volume.id,
                    "server_id": a.server_id,
                    // The connector's host, as Cinder records it (Nova's compute host).
                    "host_name": a
                        .connector
                        .as_ref()
                        .and_then(|c| c.get("host"))
                        .and_then(Value::as_str)
                        .unwrap_or(HOST_NAME),
                    "device": a.device,
                    "attached_at": time(a.attached_at),
                })
            })
            .collect();
        let mut body = json!({
            "id": volume.id,
            "status": volume.status,
            "size": volume.size,
            "availability_zone": volume.availability_zone,
            "created_at": cinder_time(volume.created_at),
            "updated_at": time(volume.updated_at),
            "name": volume.name,
            "description": volume.description,
            "volume_type": self.type_name(&volume.volume_type_id),
            "snapshot_id": volume.snapshot_id,
            "source_volid": volume.source_volid,
            "metadata": volume.metadata,
            "links": ctx.links(&volume.project_id, "volumes", &volume.id),
            "user_id": volume.user_id,
            "bootable": if volume.bootable { "true" } else { "false" },
            "encrypted": false,
            "replication_status": null,
            "consistencygroup_id": null,
            "multiattach": volume.multiattach,
            "attachments": attachments,
            "migration_status": null,
        });
        let ctx_mv = ctx.mv;
        if ctx_mv.at_least(13) {
            body["group_id"] = Value::Null;
        }
        if ctx_mv.at_least(21) {
            body["provider_id"] = Value::Null;
        }
        if ctx_mv.at_least(48) {
            body["shared_targets"] = json!(true);
            // Set once the scheduler has placed it: not in the create reply.
            body["service_uuid"] = if volume.updated_at.is_some() {
                json!(SERVICE_UUID)
            } else {
                Value::Null
            };
        }
        if ctx_mv.at_least(61) {
            body["cluster_name"] = Value::Null;
        }
        if ctx_mv.at_least(63) {
            body["volume_type_id"] = json!(volume.volume_type_id);
        }
        if ctx_mv.at_least(65) {
            body["consumes_quota"] = json!(true);
        }
        if let Some(image_id) = &volume.image_id {
            body["volume_image_metadata"] = json!({ "image_id": image_id });
        }
        body
    }

    /// A snapshot; `detail` adds the extended attributes (show and list/detail), which the
    /// create reply and the plain list leave out.
    pub(super) fn snapshot_view(
        &self,
        snapshot: &Snapshot,
        ctx: &ViewContext,
        full: bool,
        extended: bool,
    ) -> Value {
        let mut body = json!({
            "id": snapshot.id,
            "created_at": cinder_time(snapshot.created_at),
            "updated_at": time(snapshot.updated_at),
            "name": snapshot.name,
            "description": snapshot.description,
            "volume_id": snapshot.volume_id,
            "status": snapshot.status,
            "size": snapshot.size,
            "metadata": snapshot.metadata,
        });
        if full {
            if ctx.mv.at_least(14) {
                body["group_snapshot_id"] = Value::Null;
            }
            if ctx.mv.at_least(41) {
                body["user_id"] = json!(snapshot.user_id);
            }
            if ctx.mv.at_least(65) {
                body["consumes_quota"] = json!(true);
            }
        }
        if extended {
            let progress = if snapshot.status == "creating" {
                "0%"
            } else {
                "100%"
            };
            body["os-extended-snapshot-attributes:project_id"] = json!(snapshot.project_id);
            body["os-extended-snapshot-attributes:progress"] = json!(progress);
        }
        body
    }

    /// GET /backups and the create reply: id, name, links.
    pub(super) fn backup_summary(&self, backup: &Backup, ctx: &ViewContext) -> Value {
        json!({
            "id": backup.id,
            "name": backup.name,
            "links": ctx.links(&backup.project_id, "backups", &backup.id),
        })
    }

    pub(super) fn backup_detail(&self, backup: &Backup, ctx: &ViewContext) -> Value {
        let container = format!(
            "{}/{}/{}",
            backup.id.get(..2).unwrap_or_default(),
            backup.id.get(2..4).unwrap_or_default(),
            backup.id
        );
        let mut body = json!({
            "id": backup.id,
            "status": backup.status,
            "size": backup.size,
            "object_count": 0,
            "availability_zone": backup.availability_zone,
            "container": container,
            "created_at": cinder_time(backup.created_at),
            "updated_at": time(backup.updated_at),
            "name": backup.name,
            "description": backup.description,
            "fail_reason": null,
            "volume_id": backup.volume_id,
            "links": ctx.links(&backup.project_id, "backups", &backup.id),
            "is_incremental": backup.is_incremental,
            "has_dependent_backups": self.has_dependent_backups(backup),
            "snapshot_id": backup.snapshot_id,
            "data_timestamp": cinder_time(backup.data_timestamp),
        });
        if ctx.mv.at_least(43) {
            body["metadata"] = json!(backup.metadata);
        }
        if ctx.mv.at_least(18) {
            body["os-backup-project-attr:project_id"] = json!(backup.project_id);
        }
        if ctx.mv.at_least(56) {
            body["user_id"] = json!(backup.user_id);
        }
        body
    }

    /// An attachment of the attachments API; `detail` adds times, mode and connection.
    pub(super) fn attachment_view(&self, attachment: &Attachment, detail: bool) -> Value {
        let mut body = json!({
            "id": attachment.id,
            "status": attachment.status,
            "instance": attachment.server_id,
            "volume_id": attachment.volume_id,
        });
        if detail {
            body["attached_at"] = attachment
                .attached_at
                .map_or(json!(""), |at| json!(cinder_time(at)));
            body["detached_at"] = json!("");
            // Cinder stores the mode when the attachment completes; before, it shows "null".
            body["attach_mode"] = if attachment.status == "attached" {
                json!(attachment.attach_mode)
            } else {
                json!("null")
            };
            body["connection_info"] = if attachment.connector.is_some() {
                json!({
                    "driver_volume_type": "local",
                    "device_path": format!("/dev/disk/by-id/{}", attachment.volume_id),
                    "access_mode": attachment.attach_mode,
                    "attachment_id": attachment.id,
                    "qos_specs": null,
                    "encrypted": false,
                    "cacheable": false,
                    "enforce_multipath": false,
                })
            } else {
                json!({})
            };
        }
        body
    }

    pub(super) fn type_view(&self, volume_type: &VolumeType) -> Value {
        json!({
            "id": volume_type.id,
            "name": volume_type.name,
            "is_public": true,
            "description": volume_type.description,
            "extra_specs": volume_type.extra_specs,
            "qos_specs_id": null,
            "os-volume-type-access:is_public": true,
        })
    }
}
