//! Nova's availability zones (`os-availability-zone`), which `instance.availability_zone` must
//! name: pulled only when the spec names a zone, and cached in the state with the time they
//! were pulled, as the volume catalog is (`catalog_max_age`).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Context, Observed};
use crate::addr::Kind;
use crate::diag::{Diagnostic, Diagnostics};
use crate::openstack::ApiError;
use crate::spec::{Desired, DesiredResource};

/// The compute zones the cloud lists as available.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ComputeCatalog {
    pub zones: BTreeSet<String>,
}

impl ComputeCatalog {
    /// The state's name for it.
    pub const NAME: &'static str = "compute";
}

/// Whether the spec names a compute zone (else the zones are never asked for).
pub fn names_a_zone(desired: &Desired) -> bool {
    desired
        .of_kind(Kind::Instance)
        .any(|i| i.attrs.contains_key("availability_zone"))
}

/// Pulls Nova's available zones. Nova's own `internal` zone (its services) is not one a
/// server can be placed in.
pub async fn pull_compute_catalog(cx: &Context) -> Result<ComputeCatalog, ApiError> {
    let zones = cx.cloud.admin().compute().availability_zones().await?;
    Ok(ComputeCatalog {
        zones: zones
            .into_iter()
            .filter(|(name, available)| *available && name != "internal")
            .map(|(name, _)| name)
            .collect(),
    })
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
    let mut closest: Vec<&str> = known.iter().map(String::as_str).collect();
    closest.sort_by_key(|candidate| (strsim::osa_distance(zone, candidate), *candidate));
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
