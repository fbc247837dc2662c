//! The compute catalog: Nova's flavors and availability zones and Glance's images, which
//! `instance.flavor`, `instance.image`, `instance.availability_zone` and `volume.image` must
//! name. Pulled together and cached in the state with the time they were pulled, as the volume
//! catalog is (`catalog_max_age`, `stackform refresh-catalog`): a no-op plan with a fresh
//! catalog asks neither Nova nor Glance for them.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Context, Observed};
use crate::diag::{Diagnostic, Diagnostics};
use crate::openstack::ApiError;
use crate::openstack::compute::Flavor;
use crate::openstack::image::Image;
use crate::spec::DesiredResource;

/// What the cloud offers to boot: zones, flavors, images.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ComputeCatalog {
    pub zones: BTreeSet<String>,
    /// None in a catalog kept before flavors and images joined it: such a one is pulled again.
    #[serde(default)]
    pub flavors: Option<Vec<Flavor>>,
    /// Every image the admin lists (with status and visibility, size and min_disk, which a
    /// volume made from an image needs).
    #[serde(default)]
    pub images: Option<Vec<Image>>,
}

impl ComputeCatalog {
    /// The state's name for it.
    pub const NAME: &'static str = "compute";

    /// Whether it holds everything a plan needs (else it is of an older shape).
    pub fn is_complete(&self) -> bool {
        self.flavors.is_some() && self.images.is_some()
    }
}

/// Pulls Nova's available zones and flavors and Glance's images, side by side. Nova's own
/// `internal` zone (its services) is not one a server can be placed in.
pub async fn pull_compute_catalog(cx: &Context) -> Result<ComputeCatalog, ApiError> {
    let admin = cx.cloud.admin();
    let (zones, flavors, images) = tokio::try_join!(
        admin.compute().availability_zones(),
        admin.compute().list_flavors(),
        admin.image().list_images(&[]),
    )?;
    Ok(ComputeCatalog {
        zones: zones
            .into_iter()
            .filter(|(name, available)| *available && name != "internal")
            .map(|(name, _)| name)
            .collect(),
        flavors: Some(flavors),
        images: Some(images),
    })
}

/// `known`, closest to `wanted` first (then by name), as plans list them in their help.
pub fn closest_first<'a>(wanted: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut closest: Vec<&str> = known.into_iter().collect();
    closest.sort_by_key(|candidate| (strsim::osa_distance(wanted, candidate), *candidate));
    closest.dedup();
    closest
}

/// An instance's zone must be one the cloud lists: else a located error naming the known
/// ones, closest first. Without a catalog (none pulled) nothing is checked.
pub fn check(instance: &DesiredResource, observed: &Observed, out: &mut Diagnostics) {
    let Some(zone) = instance
        .attrs
        .get("availability_zone")
        .and_then(Value::as_str)
    else {
        return;
    };
    let Some(known) = &observed.compute_zones else {
        return;
    };
    if known.contains(zone) {
        return;
    }
    let closest = closest_first(zone, known.iter().map(String::as_str));
    let help = if closest.is_empty() {
        "the cloud lists no compute availability zone: remove `availability_zone`".to_string()
    } else {
        format!("compute availability zones: {}", closest.join(", "))
    };
    out.push(
        Diagnostic::error(format!(
            "{}: availability_zone `{zone}` is not a compute zone of the cloud",
            instance.addr
        ))
        .at(instance.span_of("availability_zone"))
        .help(help),
    );
}
