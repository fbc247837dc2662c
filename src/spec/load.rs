//! Loading a spec folder: raw TOML with spans, then validated, typed [`Desired`].
//!
//! Reads every `*.toml` file of the folder (by name, not recursing), parses each keeping byte
//! ranges, merges their tables (each resource defined once, one `[provider]` at most), then
//! hands each resource table to `fields` and the whole set to `checks`. Every problem is
//! collected; the result is either a complete `Desired` or all the diagnostics.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use toml::de::{DeTable, DeValue};

use super::reader::{Item, Key, SourceFile, Table, entries_in_order, with_article};
use super::suggest::did_you_mean;
use super::watch_fields::WatchConfig;
use super::{
    CloudChoice, Desired, DesiredResource, Provider, StorageMode, checks, conflicts, fields,
};
use crate::addr::{Address, Kind};
use crate::diag::{Diagnostic, Diagnostics, Severity, Span};

const DEFAULT_PARALLELISM: usize = 4;
const DEFAULT_TIMEOUT_SECS: u64 = 300;
/// The volume catalog (types, zones, limits) is pulled again by a plan once it is older than
/// this: types and zones change seldom, and an admin adding one expects it within the hour.
const DEFAULT_CATALOG_MAX_AGE_SECS: u64 = 3600;
const PROVIDER_FIELDS: &[&str] = &[
    "cloud",
    "external_network",
    "ipv4_external_ip_mapping",
    "parallelism",
    "timeout",
    "default_internal_network_mtu",
    "storage_mode",
    "catalog_max_age",
    "default_quotas",
    "tenant_credentials_visible",
    "allow_public_images",
    "image_count_total_limit",
    "image_size_total_limit",
    "image_upload_timeout",
];

/// Loads the spec folder `dir`: every problem found, located and with a help, or the complete
/// normalized [`Desired`]. Paths in diagnostics are `dir` joined with the file name, so a
/// relative `dir` gives relative, stable paths.
pub fn load(dir: &Path) -> Result<Desired, Diagnostics> {
    load_checked(dir).map(|(desired, _warnings)| desired)
}

/// As [`load`], with the warnings of a spec that loads (ambiguous names, no `[provider]`):
/// what `plan` and `apply` print before they go on.
pub fn load_checked(dir: &Path) -> Result<(Desired, Diagnostics), Diagnostics> {
    let files = read_folder(dir)?;
    load_files(&files)
}

/// Loads spec files already read, in the order given (the folder's name order).
pub(super) fn load_files(files: &[SourceFile]) -> Result<(Desired, Diagnostics), Diagnostics> {
    let mut diags = Diagnostics::default();
    let mut parsed = Vec::new();
    for file in files {
        let (document, errors) = DeTable::parse_recoverable(&file.text);
        let mut errors: Vec<_> = errors.into_iter().collect();
        errors.sort_by_key(|e| e.span().map(|r| r.start));
        for error in errors {
            diags.push(syntax_error(file, &error));
        }
        parsed.push((file, document));
    }
    // A file that does not parse yields half-read tables; checking them would only add noise
    // to the syntax errors, which are the thing to fix first.
    if diags.has_errors() {
        return Err(diags);
    }

    let mut merged = Merged::default();
    for (file, document) in &parsed {
        for (key, item) in entries_in_order(document.get_ref()) {
            let name: &str = key.get_ref();
            if name == "provider" {
                merged.provider_table(file, key, item, &mut diags);
            } else if name == "watch" {
                let header = header_range(file, key, item);
                let watch = (&mut merged.watch, &mut merged.watch_at);
                super::watch_fields::watch_table(file, header, item, watch, &mut diags);
            } else if let Some(kind) = Kind::parse(name) {
                merged.kind_table(file, kind, item, &mut diags);
            } else {
                diags.push(unknown_kind(file, key));
            }
        }
    }

    let tenants = checks::Tenants::of(&merged.resources);
    checks::check(&merged.resources, &tenants, &merged.defined, &mut diags);
    conflicts::check(&merged.resources, &tenants, &mut diags);
    drop(tenants);
    if merged.provider_at.is_none() {
        diags.push(no_provider(files));
    }

    sort_by_place(&mut diags);
    if diags.has_errors() {
        return Err(diags);
    }
    let provider = merged.provider.unwrap_or_else(default_provider);
    let mut resources = merged.resources;
    if let Some(mtu) = provider.default_internal_network_mtu {
        default_mtu(&mut resources, mtu);
    }
    if let Some((quotas, span)) = &provider.default_quotas {
        default_quotas(&mut resources, quotas, span);
    }
    let desired = Desired {
        provider,
        watch: merged.watch.unwrap_or_default(),
        resources,
        warnings: diags.clone(),
    };
    Ok((desired, diags))
}

/// A folder must say which cloud it targets. Defaulting to the embedded cloud made a spec meant
/// for a real cloud that lost its table (a file renamed, a merge gone wrong) plan "everything
/// deleted outside stackform" against an empty cloud, and apply recreate it all there.
fn no_provider(files: &[SourceFile]) -> Diagnostic {
    let d = Diagnostic::error("no [provider] table: the spec does not say which cloud it targets")
        .help(
            "add [provider] with cloud = \"embedded\" (the built-in cloud, data under the state folder), cloud = \"env\" (OS_* variables) or cloud = \"clouds.yaml:NAME\"",
        );
    match files.first() {
        Some(file) => d.at(file.span(0..0)),
        None => d,
    }
}

/// The folder's files merged into one set of tables.
#[derive(Default)]
struct Merged {
    provider: Option<Provider>,
    /// The `[watch]` table (the daemon's timers), and where the first one is.
    watch: Option<WatchConfig>,
    watch_at: Option<Span>,
    /// Where the first `[provider]` table is, even when it had errors.
    provider_at: Option<Span>,
    resources: BTreeMap<Address, DesiredResource>,
    /// Every address written, with where its name is: duplicates point back to it, and a
    /// reference to a resource whose table is broken is not also called undefined.
    defined: BTreeMap<Address, Span>,
}

impl Merged {
    fn provider_table(
        &mut self,
        file: &SourceFile,
        key: &Key<'_>,
        item: &Item<'_>,
        diags: &mut Diagnostics,
    ) {
        let header = header_range(file, key, item);
        if let Some(first) = &self.provider_at {
            diags.push(
                Diagnostic::error("more than one [provider] table")
                    .at(file.span(header))
                    .note("the first [provider] table is here", first.clone())
                    .help("keep one [provider] table for the whole folder"),
            );
            return;
        }
        self.provider_at = Some(file.span(header.clone()));
        self.provider = read_provider(file, item, header, diags);
    }

    /// A `[kind]` table: every `[kind.name]` resource in it.
    fn kind_table(
        &mut self,
        file: &SourceFile,
        kind: Kind,
        item: &Item<'_>,
        diags: &mut Diagnostics,
    ) {
        let DeValue::Table(of_kind) = item.get_ref() else {
            diags.push(
                Diagnostic::error(format!(
                    "`{kind}` must be a table of resources, found {}",
                    item.get_ref().type_str()
                ))
                .at(file.span(item.span()))
                .help(format!("write each {kind} as a [{kind}.NAME] table")),
            );
            return;
        };
        for (name_key, table_item) in entries_in_order(of_kind) {
            self.resource(file, kind, name_key, table_item, diags);
        }
    }

    fn resource(
        &mut self,
        file: &SourceFile,
        kind: Kind,
        name_key: &Key<'_>,
        item: &Item<'_>,
        diags: &mut Diagnostics,
    ) {
        let addr = Address::new(kind, name_key.get_ref().as_ref());
        let name_span = file.span(name_key.span());
        if !valid_name(&addr.name) {
            diags.push(
                Diagnostic::error(format!("invalid resource name `{}`", addr.name))
                    .at(name_span.clone())
                    .help("a name starts with a letter or digit and holds only letters, digits, `_`, `.` and `-`"),
            );
        }
        // The address's text, made once: its length here, and how messages name the table.
        let what = addr.to_string();
        let address_len = what.chars().count();
        if address_len > crate::addr::MAX_ADDRESS_LEN {
            let room = crate::addr::MAX_ADDRESS_LEN - kind.as_str().len() - 1;
            diags.push(
                Diagnostic::error(format!(
                    "the name `{}` is too long: a {kind} name holds at most {room} characters",
                    addr.name
                ))
                .at(name_span.clone())
                .help(format!(
                    "stackform tags every resource `stackform:{kind}.NAME` and OpenStack tags hold 60 characters; the spec may still set a longer OpenStack name with `name = \"...\"`"
                )),
            );
        }
        if let Some(first) = self.defined.get(&addr) {
            diags.push(
                Diagnostic::error(format!("{addr} is defined twice"))
                    .at(name_span)
                    .note(format!("{addr} is first defined here"), first.clone())
                    .help(format!(
                        "names are unique per kind across the folder's files: rename or remove one {kind}"
                    )),
            );
            return;
        }
        self.defined.insert(addr.clone(), name_span);
        let DeValue::Table(table) = item.get_ref() else {
            diags.push(
                Diagnostic::error(format!(
                    "{addr} must be a table, found {}",
                    item.get_ref().type_str()
                ))
                .at(file.span(item.span()))
                .help(format!("write it as a [{addr}] table")),
            );
            return;
        };
        let header = header_range(file, name_key, item);
        let reader = Table {
            file,
            table,
            what,
            header: header.clone(),
        };
        let built = fields::build(&addr, &reader, diags);
        self.resources.insert(
            addr.clone(),
            DesiredResource {
                addr,
                attrs: built.attrs,
                refs: built.refs,
                span: file.span(header),
                attr_spans: built.attr_spans,
            },
        );
    }
}

/// `[provider] default_internal_network_mtu` for every resource with an `mtu` attribute (the
/// spec's networks) that does not write one.
fn default_mtu(resources: &mut BTreeMap<Address, DesiredResource>, mtu: i64) {
    for resource in resources.values_mut() {
        let has_mtu = resource.addr.kind.schema().attribute("mtu").is_some();
        if has_mtu && !resource.attrs.contains_key("mtu") {
            resource.attrs.insert("mtu".into(), serde_json::json!(mtu));
        }
    }
}

/// `[provider] default_quotas` for every tenant that sets no `quotas`; their errors in plan
/// point at the provider's table, where the limits are written.
fn default_quotas(
    resources: &mut BTreeMap<Address, DesiredResource>,
    quotas: &serde_json::Value,
    span: &Span,
) {
    for resource in resources.values_mut() {
        if resource.addr.kind == crate::resources::schema::tenant_kind()
            && !resource.attrs.contains_key("quotas")
        {
            resource.attrs.insert("quotas".into(), quotas.clone());
            resource.attr_spans.insert("quotas".into(), span.clone());
        }
    }
}

fn default_provider() -> Provider {
    Provider {
        cloud: CloudChoice::Embedded,
        external_network: None,
        external_network_span: None,
        ipv4_external_ip_mapping: BTreeMap::new(),
        parallelism: DEFAULT_PARALLELISM,
        timeout_secs: DEFAULT_TIMEOUT_SECS,
        default_internal_network_mtu: None,
        storage_mode: StorageMode::Fixed,
        catalog_max_age_secs: DEFAULT_CATALOG_MAX_AGE_SECS,
        default_quotas: None,
        tenant_credentials_visible: false,
        images: Default::default(),
        span: None,
    }
}

/// Source order: by file, then by position; problems without a place (reading) come first.
fn sort_by_place(diags: &mut Diagnostics) {
    diags.0.sort_by(|a, b| {
        let place = |d: &Diagnostic| {
            d.span
                .as_ref()
                .map(|s| (s.file.clone(), s.range.start, s.range.end))
        };
        place(a).cmp(&place(b))
    });
}

/// `^[A-Za-z0-9][A-Za-z0-9_.-]*$`
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The `[kind.name]` header when the table is written as one, else the key (inline tables,
/// dotted keys).
fn header_range(file: &SourceFile, key: &Key<'_>, item: &Item<'_>) -> Range<usize> {
    let written_as_header = file
        .text
        .get(item.span())
        .is_some_and(|text| text.starts_with('['));
    if written_as_header {
        item.span()
    } else {
        key.span()
    }
}

fn syntax_error(file: &SourceFile, error: &toml::de::Error) -> Diagnostic {
    let range = error.span().unwrap_or(0..0);
    let message = if error.message() == "duplicate key" {
        let key = file.text.get(range.clone()).unwrap_or_default();
        format!("TOML syntax error: duplicate key `{key}`")
    } else {
        format!("TOML syntax error: {}", error.message())
    };
    let help = if error.message() == "duplicate key" {
        "a key or table is written once per file; merge the two, or remove one"
    } else {
        "see https://toml.io/en/v1.0.0 for the syntax"
    };
    Diagnostic::error(message).at(file.span(range)).help(help)
}

fn unknown_kind(file: &SourceFile, key: &Key<'_>) -> Diagnostic {
    let name: &str = key.get_ref();
    let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    let close = did_you_mean(name, kinds.iter().copied().chain(["provider", "watch"]))
        .map(|c| format!("did you mean `{c}`? "))
        .unwrap_or_default();
    Diagnostic::error(format!("unknown resource kind `{name}`"))
        .at(file.span(key.span()))
        .help(format!(
            "{close}tables are [provider] and [KIND.NAME] with KIND one of: {}",
            kinds.join(", ")
        ))
}

fn read_provider(
    file: &SourceFile,
    item: &Item<'_>,
    header: Range<usize>,
    diags: &mut Diagnostics,
) -> Option<Provider> {
    let DeValue::Table(table) = item.get_ref() else {
        diags.push(
            Diagnostic::error(format!(
                "`provider` must be a table, found {}",
                item.get_ref().type_str()
            ))
            .at(file.span(item.span()))
            .help("write it as a [provider] table"),
        );
        return None;
    };
    let t = Table {
        file,
        table,
        what: "[provider]".to_string(),
        header: header.clone(),
    };
    let before = diags.0.len();
    t.reject_unknown(PROVIDER_FIELDS, diags);
    let mut provider = default_provider();
    provider.span = Some(file.span(header));

    if let Some(cloud) = t.string("cloud", diags) {
        match parse_cloud(cloud.get_ref()) {
            Some(choice) => provider.cloud = choice,
            None => diags.push(
                Diagnostic::error(format!("invalid cloud `{}`", cloud.get_ref()))
                    .at(t.span(cloud.span()))
                    .help("cloud is \"embedded\", \"env\" (OS_CLOUD or OS_* variables) or \"clouds.yaml:NAME\""),
            ),
        }
    }
    if let Some(network) = t.string("external_network", diags) {
        provider.external_network = Some(network.get_ref().to_string());
        provider.external_network_span = Some(t.span(network.span()));
    }
    if let Some(mapping) = t.table("ipv4_external_ip_mapping", diags) {
        provider.ipv4_external_ip_mapping = read_ip_mapping(&t, mapping.get_ref(), diags);
    }
    if let Some(n) = t.integer("parallelism", diags) {
        match usize::try_from(*n.get_ref()) {
            Ok(n @ 1..=64) => provider.parallelism = n,
            _ => diags.push(
                Diagnostic::error(format!(
                    "`parallelism` must be between 1 and 64, found {}",
                    n.get_ref()
                ))
                .at(t.span(n.span()))
                .help(format!("the default is {DEFAULT_PARALLELISM}")),
            ),
        }
    }
    if let Some(mtu) = t.integer("default_internal_network_mtu", diags) {
        match *mtu.get_ref() {
            value @ 68..=9000 => provider.default_internal_network_mtu = Some(value),
            other => diags.push(
                Diagnostic::error(format!(
                    "`default_internal_network_mtu` must be between 68 and 9000, found {other}"
                ))
                .at(t.span(mtu.span()))
                .help("68 is the IPv4 minimum and 9000 the usual jumbo frame size; 1500 is standard Ethernet"),
            ),
        }
    }
    if let Some(mode) = t.string("storage_mode", diags) {
        match &**mode.get_ref() {
            "fixed" => provider.storage_mode = StorageMode::Fixed,
            "dynamic" => provider.storage_mode = StorageMode::Dynamic,
            other => diags.push(
                Diagnostic::error(format!("unknown storage_mode `{other}`"))
                    .at(t.span(mode.span()))
                    .help(
                        "\"fixed\": one `storage` quota (GB) for every volume type; \"dynamic\": \
                         one quota per type in `quotas.volume_types`",
                    ),
            ),
        }
    }
    provider.default_quotas = super::fields::default_quotas(&t, "default_quotas", diags);
    if let Some(visible) = t.bool("tenant_credentials_visible", diags) {
        provider.tenant_credentials_visible = *visible.get_ref();
    }
    super::provider_images::read(&t, &mut provider, diags);
    if let Some((_, item)) = t.get("catalog_max_age") {
        match parse_timeout(item) {
            Ok(secs) => provider.catalog_max_age_secs = secs,
            Err(found) => diags.push(
                Diagnostic::error(format!("invalid catalog_max_age {found}"))
                    .at(t.span(item.span()))
                    .help("write a duration such as \"90s\", \"30m\" or \"1h\" (seconds if no unit), more than zero"),
            ),
        }
    }
    if let Some((_, item)) = t.get("timeout") {
        match parse_timeout(item) {
            Ok(secs) => provider.timeout_secs = secs,
            Err(found) => diags.push(
                Diagnostic::error(format!("invalid timeout {found}"))
                    .at(t.span(item.span()))
                    .help("write a duration such as \"90s\", \"5m\" or \"1h\" (seconds if no unit), more than zero"),
            ),
        }
    }
    (diags.0.len() == before).then_some(provider)
}

/// `"<floating IPv4>" = "<public IPv4>"` pairs. Keys are quoted: a bare `172.24.4.10` is a
/// dotted key in TOML, so it arrives as nested tables, which the error explains.
fn read_ip_mapping(
    t: &Table<'_, '_>,
    mapping: &DeTable<'_>,
    diags: &mut Diagnostics,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let ipv4 = |text: &str| text.parse::<std::net::Ipv4Addr>().ok();
    for (key, item) in entries_in_order(mapping) {
        let floating: &str = key.get_ref();
        let public = match item.get_ref() {
            DeValue::String(s) => s.as_ref(),
            DeValue::Table(_) => {
                diags.push(
                    Diagnostic::error(format!(
                        "`ipv4_external_ip_mapping` key `{floating}` is not an address"
                    ))
                    .at(t.span(key.span()))
                    .help("quote each address: \"172.24.4.10\" = \"203.0.113.10\""),
                );
                continue;
            }
            other => {
                diags.push(
                    Diagnostic::error(format!(
                        "`ipv4_external_ip_mapping` values are addresses, found {}",
                        with_article(other.type_str())
                    ))
                    .at(t.span(item.span()))
                    .help("write \"172.24.4.10\" = \"203.0.113.10\""),
                );
                continue;
            }
        };
        match (ipv4(floating), ipv4(public)) {
            (None, _) => diags.push(
                Diagnostic::error(format!("invalid IPv4 address `{floating}`"))
                    .at(t.span(key.span()))
                    .help(
                        "keys are the floating IP addresses of the cloud, such as \"172.24.4.10\"",
                    ),
            ),
            (_, None) => diags.push(
                Diagnostic::error(format!("invalid IPv4 address `{public}`"))
                    .at(t.span(item.span()))
                    .help("values are the public addresses users reach, such as \"203.0.113.10\""),
            ),
            (Some(f), Some(p)) => {
                out.insert(f.to_string(), p.to_string());
            }
        }
    }
    out
}

fn parse_cloud(text: &str) -> Option<CloudChoice> {
    match text {
        "embedded" => Some(CloudChoice::Embedded),
        "env" => Some(CloudChoice::Environment),
        _ => text
            .strip_prefix("clouds.yaml:")
            .filter(|name| !name.trim().is_empty())
            .map(|name| CloudChoice::CloudsYaml(name.to_string())),
    }
}

/// Seconds from `"90s"`, `"5m"`, `"1h"`, `"300"` or an integer; Err describes what was found.
pub(super) fn parse_timeout(item: &Item<'_>) -> Result<u64, String> {
    let secs = match item.get_ref() {
        DeValue::String(text) => {
            let text = text.trim();
            let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
                Some(i) => text.split_at(i),
                None => (text, "s"),
            };
            let multiplier = match unit {
                "s" => 1,
                "m" => 60,
                "h" => 3600,
                _ => return Err(format!("`{text}`")),
            };
            number
                .parse::<u64>()
                .ok()
                .and_then(|n| n.checked_mul(multiplier))
                .ok_or_else(|| format!("`{text}`"))?
        }
        DeValue::Integer(i) => {
            u64::from_str_radix(i.as_str(), i.radix()).map_err(|_| format!("`{}`", i.as_str()))?
        }
        other => return Err(with_article(other.type_str())),
    };
    if secs == 0 {
        return Err("of zero".to_string());
    }
    Ok(secs)
}

/// The spec files of `dir`, sorted by name, read. Errors carry the path and no span: there is
/// no source to point into.
fn read_folder(dir: &Path) -> Result<Vec<SourceFile>, Diagnostics> {
    let one = |d: Diagnostic| Diagnostics(vec![d]);
    let meta = std::fs::metadata(dir).map_err(|e| {
        one(if e.kind() == std::io::ErrorKind::NotFound {
            Diagnostic::error(format!("spec folder `{}` does not exist", dir.display()))
                .help("pass the folder that holds your *.toml spec files")
        } else {
            Diagnostic::error(format!("cannot read spec folder `{}`: {e}", dir.display()))
                .help("check that the folder exists and that you may read it")
        })
    })?;
    if !meta.is_dir() {
        return Err(one(Diagnostic::error(format!(
            "`{}` is not a folder",
            dir.display()
        ))
        .help(
            "a spec is a folder of *.toml files: pass the folder, not a file",
        )));
    }
    let entries = std::fs::read_dir(dir).map_err(|e| {
        one(
            Diagnostic::error(format!("cannot read spec folder `{}`: {e}", dir.display()))
                .help("check that you may list the folder"),
        )
    })?;
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut diags = Diagnostics::default();
    for entry in entries {
        match entry {
            Ok(entry) => {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
                    paths.push(path);
                }
            }
            Err(e) => diags.push(
                Diagnostic::error(format!("cannot list spec folder `{}`: {e}", dir.display()))
                    .help("check the folder's permissions"),
            ),
        }
    }
    paths.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    if paths.is_empty() && diags.is_empty() {
        return Err(one(Diagnostic::error(format!(
            "no .toml files in `{}`",
            dir.display()
        ))
        .help(format!(
            "a spec is a folder of *.toml files, e.g. `{}` with a [tenant.NAME] table",
            dir.join("main.toml").display()
        ))));
    }
    let mut files = Vec::new();
    for path in paths {
        match std::fs::read_to_string(&path) {
            Ok(text) => files.push(SourceFile::new(path, Arc::from(text))),
            Err(e) => diags.push(
                Diagnostic::error(format!("cannot read `{}`: {e}", path.display()))
                    .help("check the file's permissions, and that it is UTF-8 text"),
            ),
        }
    }
    if diags.iter().any(|d| d.severity == Severity::Error) {
        return Err(diags);
    }
    Ok(files)
}

/// Loads one in-memory file named `spec.toml`, for unit tests of the schema.
#[cfg(test)]
pub(crate) fn load_str(text: &str) -> Result<Desired, Diagnostics> {
    load_str_checked(text).map(|(desired, _warnings)| desired)
}

/// As [`load_str`], with the warnings.
#[cfg(test)]
pub(super) fn load_str_checked(text: &str) -> Result<(Desired, Diagnostics), Diagnostics> {
    let mut files = vec![SourceFile::new(PathBuf::from("spec.toml"), Arc::from(text))];
    // Schema tests are about their resources; the provider a real folder must name is added
    // as a second file so that spans in `spec.toml` stay as written.
    if !text.contains("[provider]") && !text.contains("provider =") {
        files.push(SourceFile::new(
            PathBuf::from("zz-provider.toml"),
            Arc::from("[provider]\ncloud = \"embedded\"\n"),
        ));
    }
    load_files(&files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_fit_in_an_openstack_tag() {
        let ok = format!(
            "[security_group.{}]\ntenant = \"t\"\n[tenant.t]\n",
            "a".repeat(35)
        );
        let long = format!(
            "[security_group.{}]\ntenant = \"t\"\n[tenant.t]\n",
            "a".repeat(36)
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("provider.toml"),
            "[provider]\ncloud = \"env\"\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("a.toml"), ok).unwrap();
        assert!(load(dir.path()).is_ok());
        std::fs::write(dir.path().join("a.toml"), long).unwrap();
        let errors = load(dir.path()).unwrap_err().render(false);
        assert!(
            errors.contains("a security_group name holds at most 35 characters"),
            "{errors}"
        );
        assert!(errors.contains("a.toml:1:17"), "{errors}");
    }

    #[test]
    fn a_spec_is_indexed_once_not_once_per_span() {
        // Regression: every span used to count newlines from the file's start, which made
        // loading quadratic (1.4 s for 2,800 resources).
        let mut text = String::from("[tenant.t]\n");
        for n in 0..200 {
            text.push_str(&format!(
                "[network.n{n}]\ntenant = \"t\"\nmtu = 1450\ndescription = \"network {n}\"\n"
            ));
        }
        let before = crate::diag::index_meter::indexed_bytes();
        let desired = load_str(&text).unwrap();
        let indexed = crate::diag::index_meter::indexed_bytes() - before;
        assert_eq!(desired.resources.len(), 201);
        let provider_file = "[provider]\ncloud = \"embedded\"\n".len();
        assert_eq!(
            indexed,
            text.len() + provider_file,
            "each file is scanned once"
        );
        // Spans still point where they did.
        let net = &desired.resources[&"network.n199".parse().unwrap()];
        assert_eq!(net.span_of("mtu").to_string(), "spec.toml:800:7");
    }

    #[test]
    fn names_follow_the_address_grammar() {
        for good in ["demo", "web-1", "a.b_c", "9lives"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", "-x", "_x", "a b", "é", ".x", "a/b"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn cloud_choices() {
        assert_eq!(parse_cloud("embedded"), Some(CloudChoice::Embedded));
        assert_eq!(parse_cloud("env"), Some(CloudChoice::Environment));
        assert_eq!(
            parse_cloud("clouds.yaml:prod"),
            Some(CloudChoice::CloudsYaml("prod".into()))
        );
        assert_eq!(parse_cloud("clouds.yaml:"), None);
        assert_eq!(parse_cloud("aws"), None);
    }

    fn timeout_of(toml_value: &str) -> Result<u64, String> {
        let source = format!("t = {toml_value}");
        let doc = DeTable::parse(&source).map_err(|e| e.to_string())?;
        let item = doc.get_ref().get("t").ok_or("no value")?;
        parse_timeout(item)
    }

    #[test]
    fn timeouts_take_units() {
        assert_eq!(timeout_of("\"90s\""), Ok(90));
        assert_eq!(timeout_of("\"5m\""), Ok(300));
        assert_eq!(timeout_of("\"1h\""), Ok(3600));
        assert_eq!(timeout_of("\"45\""), Ok(45));
        assert_eq!(timeout_of("120"), Ok(120));
        assert_eq!(timeout_of("\"5 minutes\""), Err("`5 minutes`".into()));
        assert_eq!(timeout_of("\"0s\""), Err("of zero".into()));
        assert_eq!(timeout_of("true"), Err("a boolean".into()));
    }
}
