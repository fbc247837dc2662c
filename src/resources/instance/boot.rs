//! What an instance boots with, fixed at create (a change boots a new server): its disk (the
//! image, a `boot_volume` of the spec, or a volume Nova makes from the image:
//! `boot_volume_size`, kept after the server when `delete_on_termination = false`), its
//! `user_data`, `config_drive`, `availability_zone` and `keypair`.
//!
//! Nova shows a server booted from a volume with `"image": ""`: its image is read from the boot
//! volume's `volume_image_metadata`, and the boot volume is told from the other attached ones by
//! its device (the server's root device name), then read from Cinder for its size.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::super::common::{self, Names, dep_id};
use super::super::{Context, Ids, Result};
use super::user_data;
use crate::addr::Kind;
use crate::diag::{Diagnostic, Diagnostics};
use crate::openstack::Session;
use crate::openstack::block_storage::{self as cinder, VOLUMES};
use crate::openstack::compute::{BootVolume, Server};
use crate::spec::{Attrs, DesiredResource};

/// The largest boot volume the spec takes (Cinder's own limit is the tenant's quota).
pub const MAX_VOLUME_GB: i64 = 16384;

/// The root device Nova gives a server when its request names none.
const ROOT_DEVICE: &str = "/dev/vda";

/// Checks across the boot attributes (each is read and typed by its schema).
pub fn spec_check(instance: &DesiredResource, out: &mut Diagnostics) {
    let addr = &instance.addr;
    let has = |attr: &str| instance.attrs.contains_key(attr);
    let mut error = |attr: &str, message: String, help: &str| {
        out.push(
            Diagnostic::error(format!("{addr}: {message}"))
                .at(instance.span_of(attr))
                .help(help),
        );
    };
    if has("boot_volume") && has("boot_volume_size") {
        error(
            "boot_volume_size",
            "sets both `boot_volume` and `boot_volume_size`".into(),
            "boot from a volume of the spec (`boot_volume`) or from a new one Nova makes from \
             the image (`boot_volume_size`): keep one",
        );
    }
    if !has("image") && !has("boot_volume") {
        error(
            "",
            "needs `image` (or `boot_volume`)".into(),
            "add `image = \"<image name>\"`, or `boot_volume = \"<volume name>\"` to boot from \
             a volume of the spec",
        );
    }
    if has("delete_on_termination") && !has("boot_volume_size") {
        error(
            "delete_on_termination",
            "sets `delete_on_termination` without `boot_volume_size`".into(),
            "it says whether the volume Nova makes for `boot_volume_size` goes with the \
             server; a `boot_volume` of the spec is never deleted with it",
        );
    }
    if let Some(boot) = instance.attrs.get("boot_volume").and_then(Value::as_str)
        && instance
            .refs
            .iter()
            .any(|r| r.field == "volumes" && r.target.kind == Kind::Volume && r.target.name == boot)
    {
        error(
            "volumes",
            format!("lists its boot volume `{boot}` in `volumes`"),
            "the boot volume is attached as the server's disk: remove it from `volumes`",
        );
    }
}

/// Adds the boot fields to a server create body: the image or the block device mapping,
/// the user data (base64), the config drive and the zone.
pub fn create_fields(
    res: &DesiredResource,
    ids: &Ids,
    image: Option<String>,
    body: &mut Value,
) -> Result<()> {
    let addr = &res.addr;
    if let Some(volume) = res.attrs.get("boot_volume").and_then(Value::as_str) {
        // A volume of the spec outlives the server: Nova must never delete it.
        body["block_device_mapping_v2"] = json!([{
            "boot_index": 0,
            "uuid": dep_id(ids, Kind::Volume, volume)?,
            "source_type": "volume",
            "destination_type": "volume",
            "delete_on_termination": false,
        }]);
    } else if let Some(size) = res.attrs.get("boot_volume_size").and_then(Value::as_u64) {
        let image = image.clone().ok_or_else(|| super::Error::Failed {
            addr: addr.clone(),
            message: "boot_volume_size needs an image to make the volume from".into(),
        })?;
        body["block_device_mapping_v2"] = json!([{
            "boot_index": 0,
            "uuid": image,
            "source_type": "image",
            "destination_type": "volume",
            "volume_size": size,
            "delete_on_termination": common::bool_attr(res, "delete_on_termination", true),
        }]);
    } else if let Some(image) = image {
        body["imageRef"] = json!(image);
    }
    if let Some(hash) = res.attrs.get("user_data").and_then(Value::as_str) {
        let content = user_data::encoded(hash).ok_or_else(|| super::Error::Failed {
            addr: addr.clone(),
            message: "its user_data was not loaded with the spec: plan and apply again".into(),
        })?;
        body["user_data"] = json!(content);
    }
    if common::bool_attr(res, "config_drive", false) {
        body["config_drive"] = json!(true);
    }
    if let Some(zone) = res.attrs.get("availability_zone").and_then(Value::as_str) {
        body["availability_zone"] = json!(zone);
    }
    if let Some(keypair) = res.attrs.get("keypair").and_then(Value::as_str) {
        body["key_name"] = json!(keypair);
    }
    Ok(())
}

/// The session that creates the server. Nova looks `key_name` up among the keypairs of the
/// user who creates the server (real Nova: 400 "Invalid key_name provided." for the admin's
/// token, whatever its project): an instance with a keypair is created as its tenant's own
/// user, who owns the tenant's keypairs (see `keypair`). Others as stackform's user.
pub async fn creating_session(
    cx: &Context,
    res: &DesiredResource,
    ids: &Ids,
    session: &Session,
) -> Result<Session> {
    match res.attrs.get("keypair").and_then(Value::as_str) {
        Some(_) => super::super::tenant_user::session(cx, res, ids).await,
        None => Ok(session.clone()),
    }
}

/// The boot attributes of `server`.
pub fn observe(server: &Server, names: &Names, attrs: &mut Attrs) {
    if let Some(boot) = &server.boot_volume {
        match names.get(Kind::Volume, &boot.id) {
            Some(name) => {
                attrs.insert("boot_volume".into(), json!(name));
            }
            // Not a volume of the spec: the one Nova made from the image.
            None => {
                attrs.insert("boot_volume_size".into(), json!(boot.size));
                attrs.insert(
                    "delete_on_termination".into(),
                    json!(boot.delete_on_termination),
                );
            }
        }
    }
    if let Some(encoded) = &server.user_data {
        let hash = user_data::observed_hash(encoded).unwrap_or_else(|| encoded.clone());
        attrs.insert("user_data".into(), json!(hash));
    }
    // Nova answers "True" for a server with a config drive, "" without.
    let config_drive = matches!(server.config_drive.to_ascii_lowercase().as_str(), "true");
    attrs.insert("config_drive".into(), json!(config_drive));
    if let Some(zone) = &server.availability_zone {
        attrs.insert("availability_zone".into(), json!(zone));
    }
    // Named after its address (see `keypair`).
    attrs.insert("keypair".into(), json!(server.key_name));
}

/// The attached volumes of `server` but its boot volume: those `volumes` converges (the boot
/// volume is the server's disk, never detached).
pub async fn attached_volumes(cx: &Context, server: &Server) -> Result<BTreeSet<String>> {
    let mut server = server.clone();
    find_boot_volumes(cx, std::slice::from_mut(&mut server)).await?;
    let boot = server.boot_volume.map(|b| b.id);
    Ok(server
        .volumes_attached
        .iter()
        .map(|v| v.id.clone())
        .filter(|id| Some(id) != boot.as_ref())
        .collect())
}

/// Finds the boot volume of each server booted from one (`"image": ""`): the attached volume
/// on its root device, read from Cinder for its size and image.
pub async fn find_boot_volumes(cx: &Context, servers: &mut [Server]) -> Result<()> {
    let admin = cx.cloud.admin();
    for server in servers.iter_mut().filter(|s| s.image_id().is_none()) {
        let attachments = match admin.compute().volume_attachments(&server.id).await {
            Ok(attachments) => attachments,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e.into()),
        };
        let root = server.root_device_name.as_deref().unwrap_or(ROOT_DEVICE);
        let Some(attachment) = attachments
            .iter()
            .find(|a| a.device.as_deref() == Some(root))
            .or(attachments.first())
        else {
            continue;
        };
        let volume: cinder::Volume = match admin.block_storage().get(VOLUMES, &attachment.volume_id).await {
            Ok(volume) => volume,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e.into()),
        };
        let delete_on_termination = server
            .volumes_attached
            .iter()
            .find(|v| v.id == volume.id)
            .is_some_and(|v| v.delete_on_termination);
        server.boot_volume = Some(BootVolume {
            id: volume.id.clone(),
            size: volume.size,
            image_id: volume.image_id(),
            delete_on_termination,
        });
    }
    Ok(())
}
