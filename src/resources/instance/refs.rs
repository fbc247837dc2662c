//! The flavor and image ids an instance is created (or resized) with: from the compute catalog
//! the plan used (the state's cache or a fresh pull), else from a look-up of their own. A
//! catalog is as old as `catalog_max_age`: when Nova refuses an id of it (the flavor or image
//! deleted, or deleted and made again under the same name, since the pull), the ids are looked
//! up afresh and the call made once more.

use reqwest::StatusCode;

use super::super::{Context, Error, Result};
use crate::addr::Address;
use crate::openstack::ApiError;

/// Whether Nova refused a server create or resize for its flavor or image: Nova answers 400
/// "Invalid flavorRef provided." / "Can not find requested image" to a create, and "Flavor X
/// could not be found." to a resize.
pub(super) fn refused_for_catalog(error: &Error) -> bool {
    let Error::Api(api) = error else {
        return false;
    };
    refused_ref(api)
}

pub(super) fn refused_ref(api: &ApiError) -> bool {
    if api.status() != Some(StatusCode::BAD_REQUEST) {
        return false;
    }
    let message = api.message();
    message.contains("Invalid flavorRef")
        || message.contains("Can not find requested image")
        || ((message.starts_with("Flavor ") || message.starts_with("Image "))
            && message.contains("could not be found"))
}

/// Drops the flavors and images refresh listed, so the next [`flavor_id`] and [`image_id`]
/// look them up in the cloud.
pub(super) fn forget_catalog(cx: &Context) {
    cx.record_listed(|listed| {
        listed.flavors.clear();
        listed.images.clear();
    });
}

/// The id of the flavor named (or with id) `name`: from the flavors refresh listed, else (a
/// flavor made since) from a list of its own.
pub(super) async fn flavor_id(cx: &Context, addr: &Address, name: &str) -> Result<String> {
    if let Some(id) = cx.listed(|listed| pick_flavor(&listed.flavors, name)) {
        return Ok(id);
    }
    let flavors = cx.cloud.admin().compute().list_flavors().await?;
    pick_flavor(&flavors, name).ok_or_else(|| Error::Failed {
        addr: addr.clone(),
        message: format!("no flavor named `{name}`"),
    })
}

fn pick_flavor(flavors: &[crate::openstack::compute::Flavor], name: &str) -> Option<String> {
    flavors
        .iter()
        .find(|f| f.name == name)
        .or_else(|| flavors.iter().find(|f| f.id == name))
        .map(|f| f.id.clone())
}

/// The id of the image `name`: from the images refresh listed when they settle it, else (an
/// image made, activated or removed since) from a lookup of its own, which also gives the
/// error.
pub(super) async fn image_id(cx: &Context, addr: &Address, name: &str) -> Result<String> {
    if let Ok(id) = cx.listed(|listed| pick_image(&listed.images, name)) {
        return Ok(id);
    }
    let query = [("name".to_string(), name.to_string())];
    let images = cx.cloud.admin().image().list_images(&query).await?;
    pick_image(&images, name).map_err(|message| Error::Failed {
        addr: addr.clone(),
        message,
    })
}

/// The one active image named (or with id) `name`. Real Glance also lists images that are
/// not bootable yet or any more (queued while their data uploads, deactivated, killed), and
/// Nova refuses those ("Image ... is not active"): only active ones count.
pub(super) fn pick_image(
    images: &[crate::openstack::image::Image],
    name: &str,
) -> std::result::Result<String, String> {
    let matching: Vec<_> = images
        .iter()
        .filter(|i| i.name.as_deref() == Some(name) || i.id == name)
        .collect();
    let active: Vec<_> = matching.iter().filter(|i| i.status == "active").collect();
    match (active.as_slice(), matching.first()) {
        ([one], _) => Ok(one.id.clone()),
        ([], None) => Err(format!("no image named `{name}`")),
        ([], Some(inactive)) => Err(format!(
            "image `{name}` is not active (status {})",
            inactive.status
        )),
        _ => Err(format!(
            "several active images are named `{name}`: name one by its id"
        )),
    }
}

