//! The spec language: a folder of TOML files describing the desired cloud.
//!
//! Owns the TOML schema of each kind (with spans kept), loading and merging a folder, resolving
//! references by name, and validation. Produces a typed [`Desired`]. Knows nothing of the state,
//! the network or the graph library (dependency cycles are found by `graph`).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::addr::{Address, Kind};
use crate::diag::{Diagnostics, Span};

mod checks;
mod conflicts;
mod fields;
pub mod grant_fields;
mod load;
mod provider_images;
#[cfg(test)]
pub(crate) use load::load_str;
pub mod port_fields;
mod reader;
mod rules;
mod suggest;
mod watch_fields;
pub use watch_fields::WatchConfig;

/// Attribute values of one resource, normalized so that desired and observed compare with `==`:
/// references hold the target's *name* (its address name), sets are sorted, defaults are filled.
pub type Attrs = BTreeMap<String, Value>;

/// Everything the spec folder asks for.
#[derive(Clone, Debug)]
pub struct Desired {
    pub provider: Provider,
    /// `[watch]`: the daemon's pull intervals (defaults when the spec has no such table).
    pub watch: WatchConfig,
    pub resources: BTreeMap<Address, DesiredResource>,
    /// What loads but deserves a look (no `[provider]`, ambiguous names): commands print
    /// these before they go on.
    pub warnings: Diagnostics,
}

#[derive(Clone, Debug)]
pub struct DesiredResource {
    pub addr: Address,
    pub attrs: Attrs,
    /// The resources this one names in its fields (not implicit dependencies; `graph` adds those).
    pub refs: Vec<Reference>,
    /// The `[kind.name]` header.
    pub span: Span,
    /// Where each attribute was written, for errors found later (e.g. an unknown flavor).
    pub attr_spans: BTreeMap<String, Span>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub field: String,
    pub target: Address,
    pub span: Span,
}

/// Which cloud to talk to, and how.
#[derive(Clone, Debug)]
pub struct Provider {
    pub cloud: CloudChoice,
    /// Name or id of the external network routers use as gateway.
    pub external_network: Option<String>,
    /// Where `external_network` is written (a plan's check of it points there).
    pub external_network_span: Option<Span>,
    /// Floating IP address → the public address users reach (a NAT in front of the cloud).
    pub ipv4_external_ip_mapping: BTreeMap<String, String>,
    /// How many API calls apply makes at once.
    pub parallelism: usize,
    /// How long apply waits for one resource to reach its ready status.
    pub timeout_secs: u64,
    /// The MTU of the spec's networks that do not set one (Neutron's own default otherwise).
    pub default_internal_network_mtu: Option<i64>,
    /// How tenants' storage quotas are written: one `storage` quota, or one per volume type.
    pub storage_mode: StorageMode,
    /// How old the cached volume catalog may be before a plan pulls it again.
    pub catalog_max_age_secs: u64,
    /// `[provider] tenant_credentials_visible`: whether `stackform tenant credentials` may
    /// print a tenant user's password (default false: it refuses).
    pub tenant_credentials_visible: bool,
    /// `[provider] default_quotas`: the quotas of every tenant that sets none (normalized as
    /// a tenant's `quotas`), with where they are written. Absent: such tenants' quotas stay
    /// unmanaged (the cloud's own defaults).
    pub default_quotas: Option<(serde_json::Value, Span)>,
    /// The `[provider]` settings of `[image.NAME]` uploads.
    pub images: ImageProvider,
    pub span: Option<Span>,
}

/// `[provider]` settings of images: the service provider's permission to publish, the limits
/// per tenant, and how long one upload may take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageProvider {
    /// `allow_public_images`: whether an image may be `visibility = "public"` (seen by every
    /// project of the cloud: the service provider's call, not a tenant's).
    pub allow_public: bool,
    /// `image_count_total_limit`: how many images one tenant may own.
    pub count_limit: Option<u64>,
    /// `image_size_total_limit`: how many bytes one tenant's images may total.
    pub size_limit: Option<u64>,
    /// `image_upload_timeout`: how long one image's data may take to upload.
    pub upload_timeout_secs: u64,
}

/// A 10 GiB image over a 10 Mbit/s line takes about 2.5 hours: a day leaves room.
pub const DEFAULT_IMAGE_UPLOAD_TIMEOUT_SECS: u64 = 24 * 3600;

impl Default for ImageProvider {
    fn default() -> Self {
        ImageProvider {
            allow_public: false,
            count_limit: None,
            size_limit: None,
            upload_timeout_secs: DEFAULT_IMAGE_UPLOAD_TIMEOUT_SECS,
        }
    }
}

/// `[provider] storage_mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StorageMode {
    /// `quotas.storage`: Cinder's `gigabytes`, for every volume type.
    #[default]
    Fixed,
    /// `quotas.volume_types = { ssd = 100 }`: Cinder's `gigabytes_<type>`, and `gigabytes`
    /// their sum.
    Dynamic,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloudChoice {
    /// The built-in cloud, its data kept under `<state>/cloud`.
    Embedded,
    /// A real cloud from OS_CLOUD (clouds.yaml) or OS_* variables.
    Environment,
    /// A named clouds.yaml entry.
    CloudsYaml(String),
}

pub use load::{load, load_checked};
pub use rules::canonical_protocol;

impl DesiredResource {
    /// Where `attr` is written, else the resource's header: where an error about it points.
    pub fn span_of(&self, attr: &str) -> Span {
        self.attr_spans.get(attr).unwrap_or(&self.span).clone()
    }
}

impl Desired {
    pub fn get(&self, addr: &Address) -> Option<&DesiredResource> {
        self.resources.get(addr)
    }

    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &DesiredResource> {
        self.resources.values().filter(move |r| r.addr.kind == kind)
    }
}

/// Loads `dir`, returning every problem found, located, when it is not a valid spec.
pub fn load_dir(dir: &Path) -> Result<Desired, Diagnostics> {
    load(dir)
}
