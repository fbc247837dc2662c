//! What a resource kind is, as data: the attribute contract every other module reads.
//!
//! A kind declares one [`KindSchema`] in its own module: its attributes (type, default, in
//! place or replacing, which kind they name, sensitive or not), the attribute that places it in
//! a tenant, its API collection, its ready and failed statuses, and the pure rules that
//! `spec`, `graph` and `plan` apply to it (implicit dependencies, plan checks, quota usage).
//! Nothing here makes a call; `graph/` and `plan/` depend on this, never on the HTTP layer.
//!
//! The attribute contract, which desired attributes (from `spec`) and observed ones (from
//! refresh) both follow so that they compare with `==`:
//! - every attribute is a JSON value; references hold the target's address *name*;
//! - lists that are sets (reference sets, rules) are sorted and hold each entry once; ordered
//!   lists (`dns_nameservers`) keep their order;
//! - defaults are filled in by the spec loader, so an omitted field and its default compare
//!   equal; attributes with no default and no value are absent and not managed;
//! - a partial map (quotas) is compared only on the keys the spec writes.

use std::collections::{BTreeMap, BTreeSet};

use crate::addr::{Address, Kind};
use crate::diag::Diagnostics;
use crate::fast_hash::FastHashMap;
use crate::spec::{Attrs, Desired, DesiredResource};

use super::Observed;

/// One kind, declared once.
#[derive(Debug)]
pub struct KindSchema {
    /// The TOML table name and the address prefix.
    pub name: &'static str,
    /// What it is in OpenStack, one line for the reference.
    pub summary: &'static str,
    pub api: Api,
    /// In spec order: the order fields are read and documented.
    pub attrs: &'static [Attr],
    /// The reference attribute that places the resource in a tenant, directly (`tenant`) or
    /// through its parent (a subnet's `network`). None for the kind that *is* the tenant.
    pub parent: Option<&'static str>,
    /// Statuses the kind waits for after a create, and statuses that mean it failed.
    pub ready: &'static [&'static str],
    pub failed: &'static [&'static str],
    /// Statuses of work under way (a server building or rebooting, a Neutron object in
    /// PENDING_*): the cloud refuses actions until it ends, so an update first waits for a
    /// `ready` status and the plan says so.
    pub settling: &'static [&'static str],
    /// (attribute, status): in that status the attribute cannot change in place, so a change
    /// of it replaces the resource (a server in ERROR cannot be started or stopped).
    pub replace_in_status: &'static [(&'static str, &'static str)],
    /// Dependencies not written in any attribute (an instance needs the router on its subnet).
    pub implicit_dependencies: Option<ImplicitDependencies>,
    /// The attribute whose implied dependencies may be met after the resource exists: when
    /// they close a cycle, the resource is made without what names them, and the apply sets
    /// that attribute in a follow-up update once they exist (a security group's rules naming
    /// a group whose rules name it back).
    pub deferrable: Option<&'static str>,
    /// Checks a plan makes against what the cloud holds, before any call.
    pub plan_check: Option<PlanCheck>,
    /// Checks across the spec's resources made when the spec is loaded (`validate` too): rules
    /// between attributes and the resources they name that no single table shows.
    pub spec_check: Option<SpecCheck>,
    /// What one resource consumes of its tenant's quotas (quota key, amount).
    pub quota_usage: Option<QuotaUsage>,
    /// Observed attributes the spec leaves to the cloud that a plan shows beside the changes
    /// of an existing resource and the state keeps (a floating IP's address).
    pub shown: &'static [&'static str],
    /// The kind lets another tenant use a resource (a network RBAC policy), which lifts the
    /// same-tenant rule of the references marked [`Ref::unless_granted`].
    pub grant: Option<Grant>,
    /// A resource found in a `failed` status is replaced by the next apply, with that status
    /// as the reason (a Cinder volume in `error` can be deleted, never repaired).
    pub replace_failed: bool,
    /// The observed attribute in which the cloud says why a resource is in a `failed` status
    /// (a Cinder backup's `fail_reason`): the plan's reason quotes it.
    pub failure_detail: Option<&'static str>,
    /// The catalog this kind's resources join (an image of the spec is one of the cloud's
    /// images): an attribute naming a name of that catalog may name one of them by its
    /// address name instead, and then depends on it.
    pub catalog: Option<Catalog>,
}

/// How a kind grants a tenant the use of another tenant's resource.
#[derive(Clone, Copy, Debug)]
pub struct Grant {
    /// The resource one grant lets a tenant use, and that tenant's name (or `*`, everyone).
    pub grants: fn(&Address, &Attrs) -> Option<(Address, String)>,
    /// The help of the error when no grant lets `tenant` use `resource`.
    pub missing: fn(&Address, &str) -> String,
}

/// The implicit dependencies of one resource among the graph's `nodes`.
pub type ImplicitDependencies = fn(&Address, &View<'_>, &BTreeSet<Address>) -> Vec<Implied>;

/// What the planner sees of every resource: what the spec says, else what the cloud holds
/// (a resource the spec dropped is still ordered by its links).
#[derive(Clone)]
pub struct View<'a> {
    desired: &'a Desired,
    observed: &'a Observed,
    /// Who names each address, through which attribute: built on first use, so that a kind
    /// asking "which routers name this subnet" costs a lookup, not a scan of every resource
    /// (per instance, that scan made graph building quadratic). Hashed: every reference
    /// of the spec goes in, and a B-tree of addresses cost a string comparison per level.
    referrers: std::cell::OnceCell<FastHashMap<Address, Vec<(Address, &'static str)>>>,
    /// The attributes of every address, hashed on first use: kinds look resources up by
    /// address for each instance (its subnet, network, ports), and each lookup in the
    /// B-trees of 10,000 resources was a dozen string comparisons.
    lookups: std::cell::OnceCell<Lookups<'a>>,
}

#[derive(Clone)]
struct Lookups<'a> {
    wanted: FastHashMap<&'a Address, &'a Attrs>,
    seen: FastHashMap<&'a Address, &'a Attrs>,
}

impl<'a> View<'a> {
    pub fn new(desired: &'a Desired, observed: &'a Observed) -> View<'a> {
        View {
            desired,
            observed,
            referrers: std::cell::OnceCell::new(),
            lookups: std::cell::OnceCell::new(),
        }
    }

    fn lookups(&self) -> &Lookups<'a> {
        self.lookups.get_or_init(|| Lookups {
            wanted: self
                .desired
                .resources
                .iter()
                .map(|(addr, r)| (addr, &r.attrs))
                .collect(),
            seen: self
                .observed
                .resources
                .iter()
                .map(|(addr, r)| (addr, &r.attrs))
                .collect(),
        })
    }

    pub fn attrs(&self, addr: &Address) -> Option<&'a Attrs> {
        self.wanted(addr).or_else(|| self.seen(addr))
    }

    /// What the spec says of `addr` (None when the spec does not hold it).
    pub fn wanted(&self, addr: &Address) -> Option<&'a Attrs> {
        self.lookups().wanted.get(addr).copied()
    }

    /// What the cloud holds of `addr` (None when it does not hold it).
    pub fn seen(&self, addr: &Address) -> Option<&'a Attrs> {
        self.lookups().seen.get(addr).copied()
    }

    /// The addresses of `kind` the cloud holds.
    pub fn seen_of_kind(&self, kind: Kind) -> impl Iterator<Item = &'a Address> {
        self.observed
            .resources
            .keys()
            .filter(move |a| a.kind == kind)
    }

    /// The resources of `kind` whose attribute `attr` names `target`.
    pub fn referrers(&self, target: &Address, kind: Kind, attr: &str) -> Vec<&Address> {
        let index = self.referrers.get_or_init(|| self.index_referrers());
        index
            .get(target)
            .into_iter()
            .flatten()
            .filter(|(referrer, via)| referrer.kind == kind && *via == attr)
            .map(|(referrer, _)| referrer)
            .collect()
    }

    fn index_referrers(&self) -> FastHashMap<Address, Vec<(Address, &'static str)>> {
        let mut index: FastHashMap<Address, Vec<(Address, &'static str)>> = FastHashMap::default();
        let wanted = self.desired.resources.iter().map(|(a, r)| (a, &r.attrs));
        let seen_only = self
            .observed
            .resources
            .iter()
            .filter(|(a, _)| self.wanted(a).is_none())
            .map(|(a, r)| (a, &r.attrs));
        for (addr, attrs) in wanted.chain(seen_only) {
            for attr in attributes(addr.kind) {
                let Some(target) = attr.reference() else {
                    continue;
                };
                for name in referenced_names(attrs.get(attr.name), target.kind) {
                    index
                        .entry(Address::new(target.kind, name))
                        .or_default()
                        .push((addr.clone(), attr.name));
                }
            }
        }
        index
    }
}

pub type PlanCheck = fn(&DesiredResource, &Desired, &Observed, &mut Diagnostics);

pub type SpecCheck = fn(&DesiredResource, &BTreeMap<Address, DesiredResource>, &mut Diagnostics);

pub type QuotaUsage = fn(&DesiredResource, &Observed) -> Vec<(&'static str, u64)>;

/// One implicit dependency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Implied {
    pub dependency: Address,
    /// The dependent's attribute it comes from (where a cycle note points).
    pub attr: &'static str,
    /// The resource that attribute names.
    pub via: Address,
    /// How `dependency` relates to `via`: "the router of".
    pub relation: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Identity,
    Compute,
    Network,
    BlockStorage,
    Image,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Identity => "Keystone",
            Service::Compute => "Nova",
            Service::Network => "Neutron",
            Service::BlockStorage => "Cinder",
            Service::Image => "Glance",
        }
    }
}

/// Where refresh lists a kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListScope {
    /// Once for the whole cloud: this kind is the tenant, and the others are listed per
    /// resource of it.
    Cloud,
    /// Once per tenant, filtered by project.
    Tenant,
}

/// How stackform marks a resource as its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// `stackform-lineage:<id>` and `stackform:<address>` tags.
    Tags,
    /// The lineage tag, and the address in metadata (Nova tags are too short for it).
    LineageTagAddressMetadata,
    /// Lineage and address as metadata keys (Cinder has no tags).
    Metadata,
    /// No tags nor metadata in the API (Nova server groups): the object is named after its
    /// address and found by that name within the spec's projects.
    Name,
}

#[derive(Clone, Copy, Debug)]
pub struct Api {
    pub service: Service,
    /// The collection path, as the API reference writes it.
    pub collection: &'static str,
    pub scope: ListScope,
    pub ownership: Ownership,
}

impl Api {
    /// A Neutron collection: listed per tenant, owned by tags.
    pub const fn neutron(collection: &'static str) -> Api {
        Api {
            service: Service::Network,
            collection,
            scope: ListScope::Tenant,
            ownership: Ownership::Tags,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Update {
    /// The API can change it on the existing resource.
    InPlace,
    /// The API cannot: the resource is deleted and created again.
    ForcesReplacement,
}

/// What a referenced resource must share with the one naming it.
#[derive(Clone, Copy, Debug)]
pub struct SameTenant {
    /// "attach", "use": the error reads "router.r (tenant.a) cannot attach subnet.s ...".
    pub verb: &'static str,
    /// The help's start, completed with " tenant.NAME, or move ... to tenant.NAME".
    pub help: &'static str,
}

/// A reference to resources of another kind.
#[derive(Clone, Copy, Debug)]
pub struct Ref {
    pub kind: Kind,
    pub same_tenant: Option<SameTenant>,
    /// The same-tenant rule does not hold when a grant of the spec (a kind's [`Grant`]) lets
    /// the tenant use the target or one of its parents.
    pub unless_granted: bool,
    /// What the plan calls the link when the target is replaced and only the link is remade
    /// ("interface to subnet.x is remade").
    pub link: &'static str,
    /// A single reference that may be left out (another attribute then takes its place).
    pub optional: bool,
    /// Removing a target from this reference deletes the target in the cloud (Neutron deletes
    /// a port removed from a router's interfaces), and why: a target the spec keeps is then
    /// replaced, and the plan says so.
    pub detach_deletes: Option<&'static str>,
    /// The target is what the resource is copied from when it is made (a backup's volume, a
    /// volume's snapshot): once the resource exists, the target may leave the spec or be
    /// replaced without touching it, as a Cinder backup outlives its volume. Only a resource
    /// still to be made needs the target defined.
    pub only_at_create: bool,
}

impl Ref {
    pub const fn to(kind: Kind) -> Ref {
        Ref {
            kind,
            same_tenant: None,
            unless_granted: false,
            link: "link",
            optional: false,
            detach_deletes: None,
            only_at_create: false,
        }
    }

    /// See [`Ref::only_at_create`].
    pub const fn only_at_create(self) -> Ref {
        Ref {
            only_at_create: true,
            ..self
        }
    }

    pub const fn optional(self) -> Ref {
        Ref {
            optional: true,
            ..self
        }
    }

    /// See [`Ref::unless_granted`].
    pub const fn unless_granted(self) -> Ref {
        Ref {
            unless_granted: true,
            ..self
        }
    }

    pub const fn same_tenant(self, verb: &'static str, help: &'static str) -> Ref {
        Ref {
            same_tenant: Some(SameTenant { verb, help }),
            ..self
        }
    }

    pub const fn link(self, link: &'static str) -> Ref {
        Ref { link, ..self }
    }

    /// See [`Ref::detach_deletes`].
    pub const fn detach_deletes(self, why: &'static str) -> Ref {
        Ref {
            detach_deletes: Some(why),
            ..self
        }
    }
}

/// Where a plan looks up a name the cloud must already know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Catalog {
    Flavors,
    Images,
    /// Cinder's volume types.
    VolumeTypes,
    /// Cinder's availability zones.
    VolumeZones,
}

impl Catalog {
    pub fn plural(self) -> &'static str {
        match self {
            Catalog::Flavors => "flavors",
            Catalog::Images => "images",
            Catalog::VolumeTypes => "volume types",
            Catalog::VolumeZones => "volume availability zones",
        }
    }
}

/// How an attribute is written in a spec, validated and normalized.
#[derive(Clone, Copy, Debug)]
pub enum AttrType {
    /// The OpenStack name: a non-empty string of at most `max` characters (the API's column
    /// width: 255 in Neutron and Nova, 64 for Keystone projects), the address name by default.
    Name {
        max: usize,
    },
    /// A string with a default.
    Text {
        default: &'static str,
    },
    Bool {
        default: bool,
    },
    /// An optional integer in `min..=max`; `help` explains the range.
    Integer {
        min: i64,
        max: i64,
        help: &'static str,
    },
    /// One of `values`, `default` when omitted.
    Choice {
        values: &'static [&'static str],
        default: &'static str,
    },
    /// An optional string: absent is not managed (`what` says what it is, for the reference).
    OptionalText {
        what: &'static str,
    },
    /// A required string whose meaning the kind's plan check settles (a tenant of the spec or
    /// a project of the cloud); `what` says what it names, for the reference.
    Required {
        example: &'static str,
        what: &'static str,
    },
    /// A required name the cloud must know (a flavor, an image), checked in plan.
    CloudName {
        example: &'static str,
        catalog: Catalog,
    },
    /// An optional name the cloud must know when written (a volume's type), checked in plan;
    /// absent is the cloud's own choice.
    OptionalCloudName {
        example: &'static str,
        catalog: Catalog,
    },
    /// A map of string keys to string values (Cinder metadata); `{}` when absent.
    Metadata,
    /// A set of string tags (Nova server tags), sorted, `[]` when absent: each of 1 to
    /// `max_len` characters, none holding a character of `forbidden`, at most `max_count`,
    /// none starting with `stackform` (stackform's marks).
    Tags {
        max_len: usize,
        max_count: usize,
        forbidden: &'static str,
    },
    /// A required reference to one resource.
    Reference(Ref),
    /// A reference to one resource or to none: absent is `null`, so removing it from the spec
    /// is a change (a floating IP's `instance`: removing it disassociates the address).
    OptionalReference(Ref),
    /// A set of references; absent is `[]` when `default_empty`, else unmanaged.
    ReferenceSet {
        to: Ref,
        default_empty: bool,
    },
    /// A required network in canonical form; `version_attr` receives its IP version.
    Cidr {
        example: &'static str,
        version_attr: &'static str,
    },
    /// Set from another attribute (an IP version from a CIDR), never written.
    Derived,
    /// An optional IP address inside the network of attribute `within`.
    IpAddressIn {
        within: &'static str,
    },
    /// An ordered list of IP addresses: `[]` when absent if `default_empty`, else unmanaged
    /// (the cloud's own choice stands).
    IpAddresses {
        default_empty: bool,
    },
    /// An optional boolean: unmanaged when absent (the cloud's own default stands).
    OptionalBool,
    /// Static routes, `{ destination = CIDR, nexthop = IP }`: a set, sorted, `[]` when absent.
    Routes,
    /// A partial map of quota name → limit (-1 unlimited, at most `max`); `aliases` are names
    /// people write for a key, with the help that says so.
    Quotas {
        keys: &'static [&'static str],
        /// Keys whose value is a table of name → limit (`volume_types = { ssd = 100 }`).
        maps: &'static [&'static str],
        aliases: &'static [(&'static str, &'static str)],
        /// Former names still read (old name → current name), with a deprecation warning.
        renamed: &'static [(&'static str, &'static str)],
        max: i64,
    },
    /// Security group rules in the short form, normalized to Neutron's; the boolean input
    /// `default_egress` says whether Neutron's default egress rules are part of them.
    Rules {
        default_egress: &'static str,
    },
    /// A port's fixed IPs: a list of `{ <to kind> = "NAME", ip_address = "..." }` tables, the
    /// address optional (Neutron's IPAM picks one). Absent is unmanaged. Sorted; an observed
    /// address is compared only where the spec writes one.
    FixedIps {
        to: Ref,
    },
    /// A port's allowed address pairs: `{ ip_address = IP or CIDR, mac_address = "..." }`,
    /// the MAC optional (the port's own). `[]` by default; sorted.
    AddressPairs,
    /// Bytes given inline or read from the file named by the `file` key (relative to the
    /// spec's folder), at most `max_encoded` bytes once base64 encoded; compared and shown as
    /// their hash (`sha256:<hex>`), never as content (an instance's `user_data`).
    Payload {
        file: &'static str,
        max_encoded: usize,
    },
    /// An OpenSSH public key line, given inline or read from the file named by the `file`
    /// key (relative to the spec's folder): exactly one of the two (a keypair's `public_key`).
    PublicKey {
        file: &'static str,
    },
    /// A local file uploaded as the resource's data (an image's disk), named relative to the
    /// spec's folder: required, compared by its content's SHA-512 as `sha512:<16 hex digits>`
    /// (enough to tell one file's versions apart; the upload is verified against the whole
    /// hash), its size in bytes set in the derived attribute `size_attr`.
    UploadFile {
        size_attr: &'static str,
    },
    /// Keystone role grants on a tenant: `{ name = USER, roles = [ROLE, ...] }` tables,
    /// sorted by user, roles sorted; absent is unmanaged (users it granted before are still
    /// revoked: the state remembers them).
    Grants,
    /// A boolean read by another attribute's type, not an attribute of its own.
    Input {
        default: bool,
    },
}

/// The longest name Neutron and Nova store (their `name` columns are 255 characters wide).
pub const NAME_MAX: usize = 255;

/// The largest quota Nova and Neutron accept: their limits are 32-bit signed integers.
pub const QUOTA_MAX: i64 = i32::MAX as i64;

/// One attribute of a kind.
#[derive(Clone, Copy, Debug)]
pub struct Attr {
    pub name: &'static str,
    pub ty: AttrType,
    pub update: Update,
    /// Never printed in clear (plans, JSON, logs).
    pub sensitive: bool,
    /// Sent under its own name, as is, in the create and update bodies; other attributes
    /// have calls of their own (interfaces, rules, power actions).
    pub in_body: bool,
    /// What an in-place change of it does, when that is worth its own words in the plan
    /// (an instance's flavor: "resized in place").
    pub in_place_as: Option<&'static str>,
}

impl Attr {
    /// An attribute sent as is, changeable in place.
    pub const fn new(name: &'static str, ty: AttrType) -> Attr {
        Attr {
            name,
            ty,
            update: Update::InPlace,
            sensitive: false,
            in_body: true,
            in_place_as: None,
        }
    }

    /// Names what an in-place change does: the plan says `{what} ({attr} before → after)`.
    pub const fn in_place_as(self, what: &'static str) -> Attr {
        Attr {
            in_place_as: Some(what),
            ..self
        }
    }

    pub const fn forces_replacement(self) -> Attr {
        Attr {
            update: Update::ForcesReplacement,
            ..self
        }
    }

    /// Converged by calls of the kind's own, not by the update body.
    pub const fn own_calls(self) -> Attr {
        Attr {
            in_body: false,
            ..self
        }
    }

    pub const fn sensitive(self) -> Attr {
        Attr {
            sensitive: true,
            ..self
        }
    }

    /// The kind this attribute names, if it is a reference.
    pub fn reference(&self) -> Option<&Ref> {
        match &self.ty {
            AttrType::Reference(r)
            | AttrType::OptionalReference(r)
            | AttrType::ReferenceSet { to: r, .. }
            | AttrType::FixedIps { to: r } => Some(r),
            _ => None,
        }
    }

    /// Written in a spec (derived values and inputs are not compared; inputs are written).
    pub fn is_written(&self) -> bool {
        !matches!(self.ty, AttrType::Derived)
    }

    /// Part of the compared attributes (inputs only shape another attribute).
    pub fn is_stored(&self) -> bool {
        !matches!(self.ty, AttrType::Input { .. })
    }
}

impl KindSchema {
    /// A kind with no statuses, no parent and no rules beyond its attributes.
    pub const fn new(
        name: &'static str,
        summary: &'static str,
        api: Api,
        attrs: &'static [Attr],
    ) -> KindSchema {
        KindSchema {
            name,
            summary,
            api,
            attrs,
            parent: None,
            ready: &[],
            failed: &[],
            settling: &[],
            replace_in_status: &[],
            implicit_dependencies: None,
            deferrable: None,
            plan_check: None,
            spec_check: None,
            quota_usage: None,
            shown: &[],
            grant: None,
            replace_failed: false,
            failure_detail: None,
            catalog: None,
        }
    }

    /// Placed in a tenant by the reference attribute `parent`.
    pub const fn parent(self, parent: &'static str) -> KindSchema {
        KindSchema {
            parent: Some(parent),
            ..self
        }
    }

    pub const fn statuses(
        self,
        ready: &'static [&'static str],
        failed: &'static [&'static str],
    ) -> KindSchema {
        KindSchema {
            ready,
            failed,
            ..self
        }
    }

    /// What one resource consumes of its tenant's quotas (see [`KindSchema::quota_usage`]).
    pub const fn quota_usage(self, usage: QuotaUsage) -> KindSchema {
        KindSchema {
            quota_usage: Some(usage),
            ..self
        }
    }

    /// Statuses of work under way, waited for before any update (see [`KindSchema::settling`]).
    pub const fn settling(self, settling: &'static [&'static str]) -> KindSchema {
        KindSchema { settling, ..self }
    }

    /// `status` is one of work under way, which an update must wait out.
    pub fn is_settling(&self, status: Option<&str>) -> bool {
        status.is_some_and(|s| self.settling.contains(&s))
    }

    pub fn attribute(&self, name: &str) -> Option<&'static Attr> {
        self.attrs.iter().find(|a| a.name == name)
    }

    /// Attributes sent as is in the update body.
    pub fn body_attrs(&self) -> impl Iterator<Item = &'static str> + use<> {
        self.attrs
            .iter()
            .filter(|a| a.in_body && a.update == Update::InPlace && a.is_stored())
            .filter(|a| a.reference().is_none())
            .map(|a| a.name)
    }
}

/// The schema of one attribute of `kind`.
pub fn attribute(kind: Kind, name: &str) -> Option<&'static Attr> {
    kind.schema().attribute(name)
}

/// The attribute `attr` of `kind` names what the resource is copied from when it is made
/// ([`Ref::only_at_create`]).
pub fn made_from(kind: Kind, attr: &str) -> bool {
    attribute(kind, attr)
        .and_then(|a| a.reference())
        .is_some_and(|r| r.only_at_create)
}

pub fn attributes(kind: Kind) -> &'static [Attr] {
    kind.schema().attrs
}

/// The names a reference value to `target` holds: one string, or a list of them, or a list of
/// tables that each name one under the target kind's name (`fixed_ips = [{ subnet = "a" }]`).
pub fn referenced_names(value: Option<&serde_json::Value>, target: Kind) -> Vec<&str> {
    match value {
        Some(serde_json::Value::String(s)) => vec![s.as_str()],
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().or_else(|| v.get(target.schema().name)?.as_str()))
            .collect(),
        _ => Vec::new(),
    }
}

/// The addresses an attribute map refers to, from the schema's reference attributes.
/// Works for desired and observed attributes alike, so deletes can be ordered too.
pub fn references(kind: Kind, attrs: &Attrs) -> Vec<Address> {
    let mut out = Vec::new();
    for a in attributes(kind) {
        let Some(target) = a.reference() else {
            continue;
        };
        out.extend(
            referenced_names(attrs.get(a.name), target.kind)
                .into_iter()
                .map(|name| Address::new(target.kind, name)),
        );
    }
    out
}

/// The kind whose resources are the tenants.
pub fn tenant_kind() -> Kind {
    Kind::ALL
        .into_iter()
        .find(|k| k.schema().parent.is_none())
        .unwrap_or(Kind::ALL[0])
}

/// The resource that names the tenant of `addr` (itself, or a parent up the chain) and that
/// tenant's name, following each kind's `parent` attribute through `attrs_of`.
pub fn tenant_holder<'a>(
    addr: &Address,
    attrs_of: &dyn Fn(&Address) -> Option<&'a Attrs>,
) -> Option<(Address, &'a str)> {
    let mut at = addr.clone();
    // A chain longer than the number of kinds would be a cycle; the loader reports those.
    for _ in 0..Kind::ALL.len() {
        let parent = at.kind.schema().parent?;
        let target = attribute(at.kind, parent)?.reference()?.kind;
        let name = attrs_of(&at)?.get(parent)?.as_str()?;
        if target.schema().parent.is_none() {
            return Some((at, name));
        }
        at = Address::new(target, name);
    }
    None
}
