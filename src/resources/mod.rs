//! Resource kinds: one module per kind, each implementing list, create, update and delete
//! against the `openstack` client, plus the static attribute schema in [`schema`].
//!
//! Knows nothing of ordering (that is `graph`/`apply`) or of sled (that is `store`).

pub mod schema;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::addr::Address;
use crate::spec::Attrs;

/// What refresh found in the cloud.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Observed {
    /// Resources stackform manages (known by id in the state, or by ownership tag).
    pub resources: BTreeMap<Address, ObservedResource>,
    /// Flavors by name, for validating `instance.flavor` and checking quotas.
    pub flavors: BTreeMap<String, Flavor>,
    /// Image names → ids.
    pub images: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObservedResource {
    pub addr: Address,
    pub id: String,
    /// Normalized like desired attributes: references by address name, sets sorted.
    pub attrs: Attrs,
    /// The cloud's status word (ACTIVE, SHUTOFF, BUILD, ERROR...), where the kind has one.
    pub status: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flavor {
    pub id: String,
    pub name: String,
    pub vcpus: u64,
    pub ram_mb: u64,
    pub disk_gb: u64,
}
