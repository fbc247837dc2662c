//! Glance's rules without HTTP: its faults, attribute changes (JSON-patch paths with their
//! read-only and enumerated values) and owner checks.

use serde_json::Value;

use crate::sim::core::{Caller, Fault, Service};

use super::*;

pub(super) fn not_found(image_id: &str) -> Fault {
    Fault::not_found(Service::Image, format!("No image found with ID {image_id}"))
}

pub(super) fn bad_request(message: impl Into<String>) -> Fault {
    Fault::bad_request(Service::Image, message)
}

pub(super) fn forbidden(message: impl Into<String>) -> Fault {
    Fault::forbidden(Service::Image, message)
}

/// webob's 415 as Glance raises it: the request's media type, then Glance's detail.
pub(super) fn unsupported_media(content_type: &str, detail: &str) -> Fault {
    Fault::new(
        Service::Image,
        axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!(
            "The request media type {content_type} is not supported by this server.\n<br /><br />\n{detail}"
        ),
    )
}

/// Why uploaded data of format `found` is refused for `image`, if it is: Glance's
/// `ImageProxy.set_data` (glance/location.py) inspects bare images and requires the detected
/// format to be the declared one, except that `raw` takes anything and formats it cannot
/// inspect (ami, aki, ari, ploop) take what it does not recognize.
pub(super) fn format_mismatch(image: &Image, found: &str) -> Option<String> {
    let disk_format = image.disk_format.as_deref().unwrap_or("raw");
    let allowed = image.container_format.as_deref() != Some("bare")
        || found == disk_format
        || disk_format == "raw"
        || (found == "raw" && !data::INSPECTABLE.contains(&disk_format));
    (!allowed)
        .then(|| format!("Image disk_format {disk_format} does not match stream data {found}"))
}

/// Sets one attribute from a create body or a patch; `None` removes a free property.
pub(super) fn set_attribute(
    image: &mut Image,
    key: &str,
    value: Option<&Value>,
    caller: &Caller,
) -> Result<(), Fault> {
    if READ_ONLY.contains(&key) || key == "id" || key == "owner" && !caller.is_admin() {
        return Err(forbidden(format!("Attribute '{key}' is read-only.")));
    }
    let text = |value: Option<&Value>| -> Result<Option<String>, Fault> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(bad_request(format!(
                "Invalid value '{other}' for attribute '{key}': it must be a string."
            ))),
        }
    };
    let number = |value: Option<&Value>| -> Result<u64, Fault> {
        value.and_then(Value::as_u64).ok_or_else(|| {
            bad_request(format!(
                "Invalid value for attribute '{key}': it must be an integer >= 0."
            ))
        })
    };
    match key {
        "name" => image.name = text(value)?,
        "owner" => image.owner = text(value)?.unwrap_or_default(),
        "disk_format" => {
            let format = text(value)?;
            if let Some(f) = &format
                && !DISK_FORMATS.contains(&f.as_str())
            {
                return Err(bad_request(format!(
                    "Invalid value '{f}' for parameter 'disk_format': valid values are {}.",
                    DISK_FORMATS.join(", ")
                )));
            }
            image.disk_format = format;
        }
        "container_format" => {
            let format = text(value)?;
            if let Some(f) = &format
                && !CONTAINER_FORMATS.contains(&f.as_str())
            {
                return Err(bad_request(format!(
                    "Invalid value '{f}' for parameter 'container_format': valid values are {}.",
                    CONTAINER_FORMATS.join(", ")
                )));
            }
            image.container_format = format;
        }
        "visibility" => {
            let visibility = text(value)?.unwrap_or_default();
            if !VISIBILITIES.contains(&visibility.as_str()) {
                return Err(bad_request(format!(
                    "Invalid visibility value: {visibility}"
                )));
            }
            if visibility == "public" && !caller.is_admin() {
                return Err(forbidden(
                    "You are not authorized to complete publicize_image action.",
                ));
            }
            image.visibility = visibility;
        }
        "min_disk" => image.min_disk = number(value)?,
        "min_ram" => image.min_ram = number(value)?,
        "protected" | "os_hidden" => {
            let flag = value.and_then(Value::as_bool).ok_or_else(|| {
                bad_request(format!(
                    "Invalid value for attribute '{key}': it must be a boolean."
                ))
            })?;
            if key == "protected" {
                image.protected = flag;
            } else {
                image.os_hidden = flag;
            }
        }
        "tags" => {
            let tags = value.and_then(Value::as_array).ok_or_else(|| {
                bad_request("Invalid value for attribute 'tags': it must be a list of strings.")
            })?;
            let mut list = Vec::new();
            for tag in tags {
                let tag = tag.as_str().ok_or_else(|| {
                    bad_request("Invalid value for attribute 'tags': it must be a list of strings.")
                })?;
                if !list.iter().any(|t: &String| t == tag) {
                    list.push(tag.to_string());
                }
            }
            image.tags = list;
        }
        _ => match text(value)? {
            Some(property) => {
                image.properties.insert(key.to_string(), property);
            }
            None => {
                image.properties.remove(key);
            }
        },
    }
    Ok(())
}

/// Finds an image the caller may change: 404 when invisible, 403 when not its owner.
pub(super) fn owned_image<'a>(
    images: &'a mut [Image],
    image_id: &str,
    caller: &Caller,
    action: &str,
) -> Result<&'a mut Image, Fault> {
    let image = images
        .iter_mut()
        .find(|i| i.id == image_id && visible(i, caller))
        .ok_or_else(|| not_found(image_id))?;
    if !owns(image, caller) {
        return Err(forbidden(format!(
            "You are not authorized to complete {action} action."
        )));
    }
    Ok(image)
}
