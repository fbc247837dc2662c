//! What a server boots with, read from its create body as Nova does: `user_data` (base64, at
//! most 65535 characters), `config_drive`, and a block_device_mapping_v2 boot disk: a volume
//! of the project (`source_type=volume`) or a new one made from an image
//! (`source_type=image, destination_type=volume, volume_size`) through the embedded Cinder.
//! A server booted from a volume shows `"image": ""`, and its root device is /dev/sda (Nova's
//! fake driver), the volume attached there.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use chrono::{DateTime, Utc};

use super::ops::{bad_request, invalid_field};
use crate::sim::block_storage::AttachError;
use crate::sim::core::{Caller, Fault, World};

/// Nova's schema limit on `user_data` (characters of base64).
const USER_DATA_MAX: usize = 65535;

/// The root device of a server booted from a volume.
pub(super) const BOOT_DEVICE: &str = "/dev/sda";

/// What a server was booted with, beyond its image and flavor.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct Boot {
    pub(super) user_data: Option<String>,
    pub(super) config_drive: bool,
    /// The volume it boots from, if it does.
    pub(super) volume_id: Option<String>,
    /// Whether Nova deletes that volume with the server.
    pub(super) delete_on_termination: bool,
}

/// The boot disk a create asks for.
pub(super) enum BootDisk {
    Image(String),
    Volume {
        id: String,
    },
    NewVolume {
        image_id: String,
        size: i64,
        delete_on_termination: bool,
    },
}

/// `user_data` and `config_drive` of a create body.
pub(super) fn boot_options(input: &Value) -> Result<Boot, Fault> {
    let user_data = match input.get("user_data") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => {
            if text.len() > USER_DATA_MAX {
                return Err(invalid_field(
                    "user_data",
                    &Value::String(text.clone()),
                    &format!("'{text}' is too long"),
                ));
            }
            if !is_base64(text) {
                return Err(invalid_field(
                    "user_data",
                    &Value::String(text.clone()),
                    &format!("'{text}' is not a 'base64'"),
                ));
            }
            Some(text.clone())
        }
        Some(other) => {
            return Err(invalid_field(
                "user_data",
                other,
                "It is not of type 'string'.",
            ));
        }
    };
    let config_drive = match input.get("config_drive") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.to_ascii_lowercase().as_str(), "true" | "1" | "yes"),
        Some(other) => {
            return Err(invalid_field(
                "config_drive",
                other,
                "It is not of type 'boolean', 'string', 'null'.",
            ));
        }
    };
    Ok(Boot {
        user_data,
        config_drive,
        ..Boot::default()
    })
}

fn is_base64(text: &str) -> bool {
    let body = text.trim_end_matches('=');
    text.len().is_multiple_of(4)
        && text.len() - body.len() <= 2
        && body
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
}

/// The boot disk: the boot_index 0 mapping of block_device_mapping_v2, else `imageRef`.
pub(super) fn boot_disk(input: &Value, image_ref: Option<String>) -> Result<BootDisk, Fault> {
    let mappings = match input.get("block_device_mapping_v2") {
        None => Vec::new(),
        Some(Value::Array(list)) => list.clone(),
        Some(other) => {
            return Err(invalid_field(
                "block_device_mapping_v2",
                other,
                "It is not of type 'array'.",
            ));
        }
    };
    let boot = mappings.iter().find(|m| {
        m.get("boot_index")
            .is_some_and(|i| i.as_i64() == Some(0) || i.as_str() == Some("0"))
    });
    let Some(boot) = boot else {
        return image_ref.map(BootDisk::Image).ok_or_else(|| {
            invalid_field(
                "imageRef",
                &Value::Null,
                "'imageRef' is required when booting from an image.",
            )
        });
    };
    let text = |key: &str| boot.get(key).and_then(Value::as_str).map(str::to_string);
    let uuid = text("uuid")
        .ok_or_else(|| bad_request("Block Device Mapping is Invalid: uuid is required."))?;
    match (
        text("source_type").as_deref(),
        text("destination_type").as_deref(),
    ) {
        (Some("volume"), Some("volume") | None) => Ok(BootDisk::Volume { id: uuid }),
        (Some("image"), Some("volume")) => {
            let size = boot
                .get("volume_size")
                .and_then(Value::as_i64)
                .filter(|s| *s > 0)
                .ok_or_else(|| {
                    bad_request(
                        "Block Device Mapping is Invalid: Images with destination_type 'volume' \
                         need to have a non-zero size specified",
                    )
                })?;
            let delete_on_termination = boot
                .get("delete_on_termination")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            Ok(BootDisk::NewVolume {
                image_id: uuid,
                size,
                delete_on_termination,
            })
        }
        (Some("image"), _) => Ok(BootDisk::Image(uuid)),
        _ => Err(bad_request(
            "Block Device Mapping is Invalid: Boot sequence for the instance and image/block \
             device mapping combination is not valid.",
        )),
    }
}

/// The image a boot disk needs Glance to hold, active.
pub(super) fn image_of(disk: &BootDisk) -> Option<&str> {
    match disk {
        BootDisk::Image(id) | BootDisk::NewVolume { image_id: id, .. } => Some(id),
        BootDisk::Volume { .. } => None,
    }
}

/// Makes (for a new volume) and attaches the boot volume of `server_id` on its root device,
/// recording it in `boot`. Nova refuses a volume that is not available (400).
#[allow(clippy::too_many_arguments)]
pub(super) fn attach_disk(
    world: &mut World,
    disk: &BootDisk,
    boot: &mut Boot,
    project_id: &str,
    caller: &Caller,
    server_id: &str,
    at: DateTime<Utc>,
    done_at: DateTime<Utc>,
) -> Result<(), Fault> {
    let (volume_id, delete_on_termination) = match disk {
        BootDisk::Image(_) => return Ok(()),
        BootDisk::Volume { id } => (id.clone(), false),
        BootDisk::NewVolume {
            image_id,
            size,
            delete_on_termination,
        } => {
            let id = world
                .block_storage
                .create_for_server(project_id, &caller.user_id, image_id, *size, at)
                .map_err(|message| {
                    bad_request(format!("Block Device Mapping is Invalid: {message}"))
                })?;
            (id, *delete_on_termination)
        }
    };
    let attached = world.block_storage.attach_for_server(
        project_id,
        caller.is_admin(),
        server_id,
        &volume_id,
        at,
        done_at,
    );
    match attached {
        Ok(_) => {}
        Err(AttachError::VolumeNotFound) => {
            return Err(bad_request(format!(
                "Block Device Mapping is Invalid: failed to get volume {volume_id}."
            )));
        }
        Err(_) => {
            let status = world
                .block_storage
                .volume_status(&volume_id)
                .unwrap_or_default();
            return Err(bad_request(format!(
                "Invalid volume: volume '{volume_id}' status must be 'available'. Currently in \
                 '{status}'"
            )));
        }
    }
    world
        .block_storage
        .set_server_device(server_id, &volume_id, BOOT_DEVICE);
    boot.volume_id = Some(volume_id);
    boot.delete_on_termination = delete_on_termination;
    Ok(())
}
