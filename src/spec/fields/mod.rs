//! Reading one `[kind.name]` table, generic over the registry: each attribute of the kind's
//! schema is read, validated and normalized by its [`AttrType`] into [`Attrs`] (the attribute
//! contract in `resources::schema`). A kind never has code here: it picks types.
//!
//! Checks one table at a time; checks across resources (references, tenants) live in
//! `checks`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::ops::Range;

use ipnet::IpNet;
use serde_json::{Value, json};

use super::reader::Table;
use super::rules::security_group_rules;
use super::{Attrs, Reference};
use crate::addr::{Address, Kind};
use crate::diag::{Diagnostic, Diagnostics, Span};
use crate::resources::schema::{Attr, AttrType};

/// One resource table, validated and normalized.
#[derive(Debug, Default)]
pub(super) struct Built {
    pub attrs: Attrs,
    pub refs: Vec<Reference>,
    pub attr_spans: BTreeMap<String, Span>,
}

/// Validates the table of `addr` and normalizes it; problems go to `diags`, and the attributes
/// that could be read are still returned so later checks (references) see as much as possible.
pub(super) fn build(addr: &Address, table: &Table<'_, '_>, diags: &mut Diagnostics) -> Built {
    let mut b = Builder {
        addr,
        t: table,
        diags,
        out: Built::default(),
        networks: BTreeMap::new(),
    };
    let schema = addr.kind.schema();
    let mut written: Vec<&str> = schema
        .attrs
        .iter()
        .filter(|a| a.is_written())
        .map(|a| a.name)
        .collect();
    // A payload's file key is written in its place.
    written.extend(schema.attrs.iter().filter_map(|a| match a.ty {
        AttrType::Payload { file, .. } | AttrType::PublicKey { file } => Some(file),
        _ => None,
    }));
    b.t.reject_unknown(&written, b.diags);
    for attr in schema.attrs {
        b.attribute(attr);
    }
    b.out
}

/// `[provider] default_quotas`: read and checked as a tenant's `quotas` are, with their
/// names, ranges and former names; None when absent or unreadable (the problems go to `diags`).
pub(super) fn default_quotas(
    provider: &Table<'_, '_>,
    key: &str,
    diags: &mut Diagnostics,
) -> Option<(Value, Span)> {
    let tenant = crate::resources::schema::tenant_kind();
    let AttrType::Quotas {
        keys,
        maps,
        aliases,
        renamed,
        max,
    } = tenant.schema().attribute("quotas")?.ty
    else {
        return None;
    };
    let addr = Address::new(tenant, "provider");
    let mut b = Builder {
        addr: &addr,
        t: provider,
        diags,
        out: Built::default(),
        networks: BTreeMap::new(),
    };
    b.quotas(key, keys, maps, (aliases, renamed), max);
    let value = b.out.attrs.remove(key)?;
    Some((value, b.out.attr_spans.remove(key)?))
}

/// Quota names paired with what they mean: an alias's help, or a former name's current one.
type NamePairs<'a> = &'a [(&'a str, &'a str)];

struct Builder<'b, 'a, 'i> {
    addr: &'b Address,
    t: &'b Table<'a, 'i>,
    diags: &'b mut Diagnostics,
    out: Built,
    /// Networks read so far (CIDRs), for addresses that must lie inside them.
    networks: BTreeMap<&'static str, IpNet>,
}

impl Builder<'_, '_, '_> {
    fn attribute(&mut self, attr: &Attr) {
        let key = attr.name;
        match attr.ty {
            AttrType::Name { max } => self.name(max),
            AttrType::Text { default } => self.string_or(key, default),
            AttrType::OptionalText { .. } => {
                if let Some(s) = self.t.string(key, self.diags) {
                    self.set(key, json!(s.get_ref()), Some(s.span()));
                }
            }
            AttrType::OptionalCloudName { .. } => {
                if let Some(s) = self.t.string(key, self.diags) {
                    self.set(key, json!(s.get_ref()), Some(s.span()));
                }
            }
            AttrType::Metadata => self.metadata(key),
            AttrType::Tags {
                max_len,
                max_count,
                forbidden,
            } => self.tags(key, max_len, max_count, forbidden),
            AttrType::Payload { file, max_encoded } => self.payload(key, file, max_encoded),
            AttrType::PublicKey { file } => self.public_key(key, file),
            AttrType::UploadFile { size_attr } => self.upload_file(key, size_attr),
            AttrType::Bool { default } => self.bool_or(key, default),
            AttrType::Integer { min, max, help } => self.integer_in(key, min, max, help),
            AttrType::Choice { values, default } => self.choice(key, values, default),
            AttrType::CloudName { example, .. } | AttrType::Required { example, .. } => {
                self.required_string(key, example)
            }
            AttrType::Reference(to) => {
                if !(to.optional && self.t.get(key).is_none()) {
                    self.reference(key, to.kind);
                }
            }
            AttrType::OptionalReference(to) => {
                if self.t.get(key).is_none() {
                    self.set(key, Value::Null, None);
                } else {
                    self.reference(key, to.kind);
                }
            }
            AttrType::ReferenceSet { to, default_empty } => {
                self.reference_set(key, to.kind, default_empty)
            }
            AttrType::Cidr {
                example,
                version_attr,
            } => {
                if let Some(net) = self.cidr(key, example, version_attr) {
                    self.networks.insert(attr.name, net);
                }
            }
            AttrType::IpAddressIn { within } => self.address_in(key, within),
            AttrType::IpAddresses { default_empty } => self.addresses(key, default_empty),
            AttrType::OptionalBool => {
                if let Some(v) = self.t.bool(key, self.diags) {
                    self.set(key, json!(v.get_ref()), Some(v.span()));
                }
            }
            AttrType::Routes => self.routes(key),
            AttrType::Quotas {
                keys,
                maps,
                aliases,
                renamed,
                max,
            } => self.quotas(key, keys, maps, (aliases, renamed), max),
            AttrType::Rules { default_egress } => self.rules(key, default_egress),
            AttrType::FixedIps { to } => self.fixed_ips(key, to.kind),
            AttrType::AddressPairs => self.address_pairs(key),
            AttrType::Grants => {
                if let Some(read) = super::grant_fields::grants(self.t, key, self.diags) {
                    self.take(key, read);
                }
            }
            // Derived values are set by the attribute they come from; inputs are read by the
            // attribute they shape.
            AttrType::Derived | AttrType::Input { .. } => {}
        }
    }

    fn set(&mut self, key: &str, value: Value, written_at: Option<Range<usize>>) {
        self.out.attrs.insert(key.to_string(), value);
        if let Some(range) = written_at {
            self.out
                .attr_spans
                .insert(key.to_string(), self.t.span(range));
        }
    }

    fn error(&mut self, message: String, range: Range<usize>, help: impl Into<String>) {
        self.diags
            .push(Diagnostic::error(message).at(self.t.span(range)).help(help));
    }

    /// `name`: the OpenStack name, the address name unless the spec overrides it. The API
    /// refuses a name longer than its column (`max`) or holding a NUL, after the resources
    /// before it were created: both are caught here instead.
    fn name(&mut self, max: usize) {
        match self.t.string("name", self.diags) {
            Some(name) if name.get_ref().is_empty() => self.error(
                "`name` must not be empty".into(),
                name.span(),
                format!("remove it to use the address name `{}`", self.addr.name),
            ),
            Some(name) if name.get_ref().chars().count() > max => {
                let service = self.addr.kind.schema().api.service.as_str();
                self.error(
                    format!(
                        "`name` is too long: {} characters, {service} takes at most {max}",
                        name.get_ref().chars().count()
                    ),
                    name.span(),
                    format!("shorten the name to {max} characters or fewer"),
                )
            }
            Some(name) if name.get_ref().chars().any(char::is_control) => self.error(
                "`name` holds a control character".into(),
                name.span(),
                "OpenStack refuses NUL and other control characters in names: remove them",
            ),
            Some(name) => self.set("name", json!(name.get_ref()), Some(name.span())),
            None => {
                let default = json!(self.addr.name);
                self.set("name", default, None);
            }
        }
    }

    /// The content of `path`, relative to the folder of this spec file; a located error on
    /// `file` (the attribute naming it) when it cannot be read.
    fn read_beside(&mut self, file: &str, path: &str, span: Range<usize>) -> Option<Vec<u8>> {
        let full = self.beside(path);
        match std::fs::read(&full) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                self.error(
                    format!("cannot read `{file}` {}: {e}", full.display()),
                    span,
                    format!("`{file}` is relative to the folder of this spec file"),
                );
                None
            }
        }
    }

    /// `path` read relative to the folder of this spec file.
    fn beside(&self, path: &str) -> std::path::PathBuf {
        let folder = self
            .t
            .file
            .path
            .parent()
            .unwrap_or(std::path::Path::new(""));
        folder.join(path)
    }

    /// A payload (`user_data`): inline, or the file `file` names, relative to the folder of
    /// the spec file; normalized to its hash, the content kept for the apply.
    fn payload(&mut self, key: &str, file: &str, max_encoded: usize) {
        let inline = self.t.string(key, self.diags);
        let path = self.t.string(file, self.diags);
        let (bytes, span) = match (inline, path) {
            (Some(_), Some(path)) => {
                return self.error(
                    format!("sets both `{key}` and `{file}`"),
                    path.span(),
                    format!("keep `{key}` (the content) or `{file}` (a file holding it)"),
                );
            }
            (Some(text), None) => (text.get_ref().as_bytes().to_vec(), text.span()),
            (None, Some(path)) => match self.read_beside(file, path.get_ref(), path.span()) {
                Some(bytes) => (bytes, path.span()),
                None => return,
            },
            (None, None) => return,
        };
        let (hash, encoded) = crate::resources::user_data::remember(&bytes);
        if encoded > max_encoded {
            return self.error(
                format!("`{key}` is too long: {encoded} bytes base64 encoded, Nova takes at most {max_encoded}"),
                span,
                "shorten it, or have the server fetch the rest at boot",
            );
        }
        self.set(key, json!(hash), Some(span));
    }

    fn string_or(&mut self, key: &str, default: &str) {
        match self.t.string(key, self.diags) {
            Some(s) => self.set(key, json!(s.get_ref()), Some(s.span())),
            None => self.set(key, json!(default), None),
        }
    }

    fn bool_or(&mut self, key: &str, default: bool) {
        match self.t.bool(key, self.diags) {
            Some(v) => self.set(key, json!(v.get_ref()), Some(v.span())),
            None => self.set(key, json!(default), None),
        }
    }

    /// An optional integer in `min..=max`.
    fn integer_in(&mut self, key: &str, min: i64, max: i64, help: &str) {
        if let Some(value) = self.t.integer(key, self.diags) {
            if (min..=max).contains(value.get_ref()) {
                self.set(key, json!(value.get_ref()), Some(value.span()));
            } else {
                self.error(
                    format!(
                        "`{key}` must be between {min} and {max}, found {}",
                        value.get_ref()
                    ),
                    value.span(),
                    help,
                );
            }
        }
    }

    fn choice(&mut self, key: &str, values: &[&str], default: &str) {
        let Some(value) = self.t.string(key, self.diags) else {
            self.set(key, json!(default), None);
            return;
        };
        if values.contains(value.get_ref()) {
            self.set(key, json!(value.get_ref()), Some(value.span()));
        } else {
            let quoted: Vec<String> = values.iter().map(|v| format!("\"{v}\"")).collect();
            self.error(
                format!("invalid {key} `{}`", value.get_ref()),
                value.span(),
                format!("{key} is {}", quoted.join(" or ")),
            );
        }
    }

    /// A required string that is not a reference (`flavor`, `image`).
    fn required_string(&mut self, key: &str, example: &str) {
        if self.t.get(key).is_none() {
            self.t.missing(key, example, self.diags);
            return;
        }
        if let Some(s) = self.t.string(key, self.diags) {
            if s.get_ref().is_empty() {
                self.error(
                    format!("`{key}` must not be empty"),
                    s.span(),
                    format!("write the {key}'s name as the cloud knows it"),
                );
            } else {
                self.set(key, json!(s.get_ref()), Some(s.span()));
            }
        }
    }

    /// A required reference to one resource of `kind`, by its address name.
    fn reference(&mut self, key: &str, kind: Kind) {
        if self.t.get(key).is_none() {
            self.t
                .missing(key, &format!("\"<{kind} name>\""), self.diags);
            return;
        }
        if let Some(target) = self.t.string(key, self.diags) {
            if target.get_ref().is_empty() {
                self.error(
                    format!("`{key}` must not be empty"),
                    target.span(),
                    format!("name the {kind} by its address name, as in [{kind}.NAME]"),
                );
                return;
            }
            self.out.refs.push(Reference {
                field: key.to_string(),
                target: Address::new(kind, *target.get_ref()),
                span: self.t.span(target.span()),
            });
            self.set(key, json!(target.get_ref()), Some(target.span()));
        }
    }

    /// A set of references to resources of `kind`: sorted, each name written once. Absent
    /// yields `default_empty` as `[]`, or no attribute (unmanaged) otherwise.
    fn reference_set(&mut self, key: &str, kind: Kind, default_empty: bool) {
        let Some((_, item)) = self.t.get(key) else {
            if default_empty {
                self.set(key, json!([]), None);
            }
            return;
        };
        let Some(names) = self.t.strings(key, self.diags) else {
            return;
        };
        let mut seen: BTreeMap<&str, Range<usize>> = BTreeMap::new();
        for name in &names {
            if name.get_ref().is_empty() {
                self.error(
                    format!("`{key}` must not hold an empty name"),
                    name.span(),
                    format!("name each {kind} by its address name, as in [{kind}.NAME]"),
                );
                continue;
            }
            if let Some(first) = seen.get(name.get_ref()) {
                self.diags.push(
                    Diagnostic::error(format!(
                        "{kind}.{} is listed twice in `{key}`",
                        name.get_ref()
                    ))
                    .at(self.t.span(name.span()))
                    .note("first listed here", self.t.span(first.clone()))
                    .help("remove the second entry"),
                );
                continue;
            }
            seen.insert(name.get_ref(), name.span());
            self.out.refs.push(Reference {
                field: key.to_string(),
                target: Address::new(kind, *name.get_ref()),
                span: self.t.span(name.span()),
            });
        }
        let sorted: Vec<&str> = seen.keys().copied().collect();
        self.set(key, json!(sorted), Some(item.span()));
    }

    /// A required CIDR in canonical form, and the IP version it implies.
    fn cidr(&mut self, key: &str, example: &str, version_attr: &str) -> Option<IpNet> {
        if self.t.get(key).is_none() {
            self.t.missing(key, example, self.diags);
            return None;
        }
        let text = self.t.string(key, self.diags)?;
        let net = parse_network(text.get_ref(), text.span(), key, false, self.t, self.diags)?;
        let version = match net {
            IpNet::V4(_) => 4,
            IpNet::V6(_) => 6,
        };
        self.set(key, json!(net.to_string()), Some(text.span()));
        self.set(version_attr, json!(version), Some(text.span()));
        Some(net)
    }

    /// An optional address inside the network read for attribute `within`.
    fn address_in(&mut self, key: &str, within: &str) {
        let Some(text) = self.t.string(key, self.diags) else {
            return;
        };
        match text.get_ref().parse::<IpAddr>() {
            Err(_) => self.error(
                format!("invalid IP address `{}` in `{key}`", text.get_ref()),
                text.span(),
                "write an address such as \"192.168.42.1\"",
            ),
            Ok(ip) => match self.networks.get(within).copied() {
                Some(net) if !net.contains(&ip) => self.error(
                    format!(
                        "{key} {ip} is outside the {}'s {within} {net}",
                        self.addr.kind
                    ),
                    text.span(),
                    format!("use an address inside {net}, e.g. \"{}\"", first_host(net)),
                ),
                _ => self.set(key, json!(ip.to_string()), Some(text.span())),
            },
        }
    }

    /// An ordered list of IP addresses, `[]` when absent.
    fn addresses(&mut self, key: &str, default_empty: bool) {
        let Some(written) = self.t.strings(key, self.diags) else {
            if self.t.get(key).is_none() && default_empty {
                self.set(key, json!([]), None);
            }
            return;
        };
        let mut normalized = Vec::new();
        for address in &written {
            match address.get_ref().parse::<IpAddr>() {
                Ok(ip) => normalized.push(ip.to_string()),
                Err(_) => self.error(
                    format!("invalid IP address `{}` in `{key}`", address.get_ref()),
                    address.span(),
                    "write addresses such as \"8.8.8.8\" or \"2001:4860:4860::8888\"",
                ),
            }
        }
        let written_at = self.t.get(key).map(|(_, v)| v.span());
        self.set(key, json!(normalized), written_at);
    }

    /// Static routes: each `{ destination, nexthop }` read and checked, the set sorted.
    fn routes(&mut self, key: &str) {
        let Some(written) = self.t.array_of_tables(key, self.diags) else {
            if self.t.get(key).is_none() {
                self.set(key, json!([]), None);
            }
            return;
        };
        let mut routes: BTreeMap<(String, String), Range<usize>> = BTreeMap::new();
        for item in written.get_ref().iter() {
            let toml::de::DeValue::Table(table) = item.get_ref() else {
                self.error(
                    format!("each entry of `{key}` must be a table"),
                    item.span(),
                    "write routes as { destination = \"192.168.10.0/24\", nexthop = \"10.0.0.5\" }",
                );
                continue;
            };
            let route = Table {
                file: self.t.file,
                table,
                what: format!("a route of {}", self.t.what),
                header: item.span(),
            };
            let before = self.diags.0.len();
            route.reject_unknown(&["destination", "nexthop"], self.diags);
            let destination = match route.string("destination", self.diags) {
                Some(d) => parse_network(
                    d.get_ref(),
                    d.span(),
                    "destination",
                    false,
                    &route,
                    self.diags,
                ),
                None => {
                    route.missing("destination", "\"192.168.10.0/24\"", self.diags);
                    None
                }
            };
            let nexthop = match route.string("nexthop", self.diags) {
                Some(n) => match n.get_ref().parse::<IpAddr>() {
                    Ok(ip) => Some(ip),
                    Err(_) => {
                        self.error(
                            format!("invalid IP address `{}` in `nexthop`", n.get_ref()),
                            n.span(),
                            "the nexthop is an address on one of the router's subnets, such as \"10.0.0.5\"",
                        );
                        None
                    }
                },
                None => {
                    route.missing("nexthop", "\"10.0.0.5\"", self.diags);
                    None
                }
            };
            let (Some(destination), Some(nexthop)) = (destination, nexthop) else {
                continue;
            };
            if self.diags.0.len() > before {
                continue;
            }
            if destination.addr().is_ipv4() != nexthop.is_ipv4() {
                self.error(
                    format!("route to {destination} through {nexthop}: the addresses are of different IP versions"),
                    item.span(),
                    "route IPv4 destinations through an IPv4 nexthop, IPv6 through IPv6",
                );
                continue;
            }
            let entry = (destination.to_string(), nexthop.to_string());
            if let Some(first) = routes.get(&entry) {
                self.diags.push(
                    Diagnostic::error(format!(
                        "duplicate route to {destination} through {nexthop}"
                    ))
                    .at(self.t.span(item.span()))
                    .note("the same route is written here", self.t.span(first.clone()))
                    .help("remove one of them"),
                );
                continue;
            }
            routes.insert(entry, item.span());
        }
        let sorted: Vec<Value> = routes
            .into_keys()
            .map(|(destination, nexthop)| json!({"destination": destination, "nexthop": nexthop}))
            .collect();
        self.set(key, Value::Array(sorted), Some(written.span()));
    }

    /// A table of strings (Cinder metadata), `{}` when absent. Keys starting with
    /// `stackform_` are stackform's own ownership marks, so a spec may not write them.
    fn metadata(&mut self, key: &str) {
        let Some(written) = self.t.table(key, self.diags) else {
            self.set(key, json!({}), None);
            return;
        };
        let table = Table {
            file: self.t.file,
            table: written.get_ref(),
            what: key.to_string(),
            header: written.span(),
        };
        let mut normalized = serde_json::Map::new();
        for (name, _) in super::reader::entries_in_order(written.get_ref()) {
            let name: &str = name.get_ref();
            if name.starts_with("stackform_") {
                self.error(
                    format!("metadata key `{name}` is reserved"),
                    written.span(),
                    "keys starting with `stackform_` mark what stackform owns: pick another key",
                );
                continue;
            }
            if let Some(value) = table.string(name, self.diags) {
                normalized.insert(name.to_string(), json!(value.get_ref()));
            }
        }
        self.set(key, Value::Object(normalized), Some(written.span()));
    }

    /// A set of tags: each checked where it is written, the set sorted; `[]` when absent.
    fn tags(&mut self, key: &str, max_len: usize, max_count: usize, forbidden: &str) {
        let Some(written) = self.t.strings(key, self.diags) else {
            if self.t.get(key).is_none() {
                self.set(key, json!([]), None);
            }
            return;
        };
        let mut tags = std::collections::BTreeSet::new();
        for tag in &written {
            let text: &str = tag.get_ref();
            let length = text.chars().count();
            let problem = if length == 0 || length > max_len {
                Some((
                    format!("tag `{text}` in `{key}` has {length} characters"),
                    format!("the cloud takes tags of 1 to {max_len} characters"),
                ))
            } else if let Some(c) = text.chars().find(|c| forbidden.contains(*c)) {
                Some((
                    format!("tag `{text}` in `{key}` holds `{c}`"),
                    format!("the cloud refuses tags holding any of `{forbidden}`"),
                ))
            } else if text.starts_with("stackform") {
                Some((
                    format!("tag `{text}` in `{key}` is reserved"),
                    "tags starting with `stackform` mark what stackform owns: pick another tag"
                        .to_string(),
                ))
            } else {
                None
            };
            match problem {
                Some((message, help)) => self.error(message, tag.span(), help),
                None => {
                    tags.insert(text.to_string());
                }
            }
        }
        let written_at = self.t.get(key).map(|(_, v)| v.span());
        if tags.len() > max_count
            && let Some(at) = written_at.clone()
        {
            self.error(
                format!("`{key}` has {} tags", tags.len()),
                at,
                format!("at most {max_count}: stackform's own mark takes the cloud's last one"),
            );
        }
        self.set(key, json!(tags), written_at);
    }

    /// A port's fixed IPs; absent is unmanaged.
    fn fixed_ips(&mut self, key: &str, to: Kind) {
        let Some(read) = super::port_fields::fixed_ips(self.t, key, to, self.diags) else {
            return;
        };
        self.take(key, read);
    }

    /// A port's allowed address pairs, `[]` when absent.
    fn address_pairs(&mut self, key: &str) {
        let read = super::port_fields::address_pairs(self.t, key, self.diags);
        self.take(key, read);
    }

    fn take(&mut self, key: &str, read: super::port_fields::Read) {
        let written_at = self.t.get(key).map(|(_, v)| v.span());
        self.set(key, read.value, written_at);
        self.out.attr_spans.extend(read.spans);
        self.out.refs.extend(read.refs);
    }

    /// Security group rules, with Neutron's default egress unless `default_egress` is false.
    fn rules(&mut self, key: &str, default_egress: &str) {
        let default_egress = self
            .t
            .bool(default_egress, self.diags)
            .is_none_or(|v| *v.get_ref());
        let rules = self.t.array_of_tables(key, self.diags);
        let written_at = rules.as_ref().map(|r| r.span());
        let group_rules = security_group_rules(
            rules.as_ref().map(|r| *r.get_ref()),
            default_egress,
            self.t,
            self.diags,
        );
        for (group, range) in group_rules.remote_groups {
            // A group naming itself needs no other group first; its rule is made with its id.
            if group == self.addr.name {
                continue;
            }
            // A rule's remote is a group of the same kind as the one holding the rule.
            self.out.refs.push(Reference {
                field: key.to_string(),
                target: Address::new(self.addr.kind, group),
                span: self.t.span(range),
            });
        }
        self.set(key, Value::Array(group_rules.rules), written_at);
    }
}

/// Parses a CIDR in canonical form (no host bits). With `bare_address`, a plain address means
/// that single host (`/32` or `/128`).
pub(super) fn parse_network(
    text: &str,
    range: Range<usize>,
    field: &str,
    bare_address: bool,
    t: &Table<'_, '_>,
    diags: &mut Diagnostics,
) -> Option<IpNet> {
    let parsed = text
        .parse::<IpNet>()
        .ok()
        .or_else(|| bare_address.then(|| text.parse::<IpAddr>().ok().map(IpNet::from))?);
    let Some(net) = parsed else {
        diags.push(
            Diagnostic::error(format!("invalid CIDR `{text}` in `{field}`"))
                .at(t.span(range))
                .help("write a network address and prefix length, e.g. \"192.168.42.0/24\" or \"2001:db8::/64\""),
        );
        return None;
    };
    if net.trunc() != net {
        diags.push(
            Diagnostic::error(format!("CIDR `{text}` in `{field}` has host bits set"))
                .at(t.span(range))
                .help(format!("the network address is \"{}\"", net.trunc())),
        );
        return None;
    }
    Some(net)
}

/// The first usable address of a network, as an example gateway.
fn first_host(net: IpNet) -> IpAddr {
    net.hosts().next().unwrap_or(net.network())
}

mod public_key;
mod quotas;
#[cfg(test)]
mod tests;
mod upload_file;
