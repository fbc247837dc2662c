//! The `[watch]` table: how often the daemon (`stackform watch`) pulls the cloud to find
//! drift. Its own top-level table beside `[provider]` (one per folder, like it): the provider
//! says which cloud, this says how the daemon keeps it in shape. Read only by `watch`; `plan`
//! and `apply` load it and ignore it.

use std::time::Duration;

use toml::de::DeValue;

use super::load::parse_timeout;
use super::reader::{Item, SourceFile, Table};
use crate::diag::{Diagnostic, Diagnostics, Span};

/// The pull intervals, defaults from the seed system this replaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchConfig {
    /// Instances, volumes, snapshots.
    pub pull_resources: Duration,
    /// Networks, subnets, ports, routers, security groups, floating IPs, server groups.
    pub pull_sub_resources: Duration,
    /// Tenants' quotas.
    pub pull_quotas: Duration,
    /// Flavors, images, volume types, availability zones (the catalogs).
    pub pull_properties: Duration,
    /// Where the `[watch]` table is, when the spec has one.
    pub span: Option<Span>,
}

impl Default for WatchConfig {
    fn default() -> Self {
        const HOUR: u64 = 3600;
        WatchConfig {
            pull_resources: Duration::from_secs(HOUR),
            pull_sub_resources: Duration::from_secs(2 * HOUR),
            pull_quotas: Duration::from_secs(12 * HOUR),
            pull_properties: Duration::from_secs(24 * HOUR),
            span: None,
        }
    }
}

pub(super) const WATCH_FIELDS: &[&str] = &[
    "pull_resources",
    "pull_sub_resources",
    "pull_quotas",
    "pull_properties",
];

/// A `[watch]` table of the folder: one per folder, as `[provider]`; `found` is what was
/// read before and where.
pub(super) fn watch_table(
    file: &SourceFile,
    header: std::ops::Range<usize>,
    item: &Item<'_>,
    found: (&mut Option<WatchConfig>, &mut Option<Span>),
    diags: &mut Diagnostics,
) {
    let (config, at) = found;
    if let Some(first) = at.as_ref() {
        diags.push(
            Diagnostic::error("more than one [watch] table")
                .at(file.span(header))
                .note("the first [watch] table is here", first.clone())
                .help("keep one [watch] table for the whole folder"),
        );
        return;
    }
    *at = Some(file.span(header.clone()));
    *config = read_watch(file, item, header, diags);
}

/// Reads a `[watch]` table; `None` when it has errors (reported in `diags`).
fn read_watch(
    file: &SourceFile,
    item: &Item<'_>,
    header: std::ops::Range<usize>,
    diags: &mut Diagnostics,
) -> Option<WatchConfig> {
    let DeValue::Table(table) = item.get_ref() else {
        diags.push(
            Diagnostic::error(format!(
                "`watch` must be a table, found {}",
                item.get_ref().type_str()
            ))
            .at(file.span(item.span()))
            .help("write it as a [watch] table"),
        );
        return None;
    };
    let t = Table {
        file,
        table,
        what: "[watch]".to_string(),
        header: header.clone(),
    };
    let before = diags.0.len();
    t.reject_unknown(WATCH_FIELDS, diags);
    let mut config = WatchConfig {
        span: Some(file.span(header)),
        ..WatchConfig::default()
    };
    for field in WATCH_FIELDS {
        let Some((_, item)) = t.get(field) else {
            continue;
        };
        match parse_timeout(item) {
            Ok(secs) => {
                let every = Duration::from_secs(secs);
                match *field {
                    "pull_resources" => config.pull_resources = every,
                    "pull_sub_resources" => config.pull_sub_resources = every,
                    "pull_quotas" => config.pull_quotas = every,
                    _ => config.pull_properties = every,
                }
            }
            Err(found) => diags.push(
                Diagnostic::error(format!("invalid {field} {found}"))
                    .at(t.span(item.span()))
                    .help("write a duration such as \"90s\", \"30m\" or \"1h\" (seconds if no unit), more than zero"),
            ),
        }
    }
    (diags.0.len() == before).then_some(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::load_str;

    const PROVIDER: &str = "[provider]\ncloud = \"embedded\"\n";

    fn errors(text: &str) -> String {
        match load_str(&format!("{PROVIDER}{text}")) {
            Ok(_) => panic!("should not load:\n{text}"),
            Err(diags) => diags.to_string(),
        }
    }

    #[test]
    fn without_a_watch_table_the_seed_systems_intervals_apply() {
        let desired = load_str(PROVIDER).expect("loads");
        assert_eq!(desired.watch, WatchConfig::default());
        assert_eq!(desired.watch.pull_resources, Duration::from_secs(3600));
        assert_eq!(desired.watch.pull_sub_resources, Duration::from_secs(7200));
        assert_eq!(desired.watch.pull_quotas, Duration::from_secs(43200));
        assert_eq!(desired.watch.pull_properties, Duration::from_secs(86400));
    }

    #[test]
    fn a_watch_table_sets_the_intervals_it_names() {
        let desired = load_str(&format!(
            "{PROVIDER}[watch]\npull_resources = \"10m\"\npull_quotas = 600\n"
        ))
        .expect("loads");
        assert_eq!(desired.watch.pull_resources, Duration::from_secs(600));
        assert_eq!(desired.watch.pull_quotas, Duration::from_secs(600));
        assert_eq!(desired.watch.pull_sub_resources, Duration::from_secs(7200));
        assert!(desired.watch.span.is_some());
    }

    #[test]
    fn watch_table_errors_are_located() {
        let text = errors("[watch]\npull_resource = \"1h\"\n");
        assert!(
            text.contains("unknown field `pull_resource` in [watch]"),
            "{text}"
        );
        assert!(text.contains("did you mean `pull_resources`?"), "{text}");
        assert!(text.contains("spec.toml:4:1"), "{text}");

        let text = errors("[watch]\npull_quotas = \"0s\"\n");
        assert!(text.contains("invalid pull_quotas of zero"), "{text}");
        assert!(text.contains("spec.toml:4:15"), "{text}");

        let text = errors("[watch]\n[watch.x]\n");
        assert!(text.contains("unknown field `x` in [watch]"), "{text}");

        let Err(diags) = load_str(&format!("watch = 3\n{PROVIDER}")) else {
            panic!("`watch = 3` loads");
        };
        let text = diags.to_string();
        assert!(
            text.contains("`watch` must be a table, found integer"),
            "{text}"
        );
    }
}
