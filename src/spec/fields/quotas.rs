//! The `quotas` attribute: a partial map of quota limits by service, with its renamed keys and
//! per-volume-type table.

use std::ops::Range;

use serde_json::{Value, json};

use super::{Builder, NamePairs};
use crate::diag::Diagnostic;
use crate::spec::reader::Table;

impl Builder<'_, '_, '_> {
    /// A partial map of quota limits; absent means unmanaged.
    pub(super) fn quotas(
        &mut self,
        key: &str,
        keys: &[&str],
        maps: &[&str],
        (aliases, renamed): (NamePairs<'_>, NamePairs<'_>),
        max: i64,
    ) {
        let Some(quotas) = self.t.table(key, self.diags) else {
            return;
        };
        let all_keys: Vec<&str> = keys.iter().chain(maps).copied().collect();
        let table = Table {
            file: self.t.file,
            table: quotas.get_ref(),
            what: key.to_string(),
            header: quotas.span(),
        };
        let mut normalized = serde_json::Map::new();
        for (quota, item) in crate::spec::reader::entries_in_order(quotas.get_ref()) {
            let written: &str = quota.get_ref();
            let name = match renamed.iter().find(|(old, _)| *old == written) {
                Some((old, new)) => {
                    self.diags.push(
                        Diagnostic::warning(format!("quota `{old}` is now written `{new}`"))
                            .at(self.t.span(quota.span()))
                            .help(format!("rename it `{new}`: `{old}` will stop being read")),
                    );
                    *new
                }
                None => written,
            };
            if written != name && table.get(name).is_some() {
                self.error(
                    format!("quota `{name}` is written twice (once as `{written}`)"),
                    quota.span(),
                    format!("remove `{written}`"),
                );
                continue;
            }
            if maps.contains(&name) {
                if let Some(map) = self.quota_map(&table, name, max) {
                    normalized.insert(name.to_string(), map);
                }
                continue;
            }
            if !keys.contains(&name) {
                let help = match aliases.iter().find(|(alias, _)| *alias == name) {
                    Some((_, help)) => help.to_string(),
                    None => {
                        // A typo of a former name (`netwroks`) means its current one.
                        let candidates = all_keys.iter().chain(renamed.iter().map(|(old, _)| old));
                        let close = crate::spec::suggest::did_you_mean(name, candidates.copied())
                            .map(|c| match renamed.iter().find(|(old, _)| *old == c) {
                                Some((_, new)) => *new,
                                None => c,
                            })
                            .map(|c| format!("did you mean `{c}`? "))
                            .unwrap_or_default();
                        format!("{close}quotas are: {}", all_keys.join(", "))
                    }
                };
                self.error(format!("unknown quota `{name}`"), quota.span(), help);
                continue;
            }
            let Some(value) = table.integer(written, self.diags) else {
                continue;
            };
            if self.quota_in_range(name, *value.get_ref(), item.span(), max) {
                normalized.insert(name.to_string(), json!(value.get_ref()));
            }
        }
        self.set(key, Value::Object(normalized), Some(quotas.span()));
    }

    /// A quota's limit: -1 (unlimited) up to `max`.
    fn quota_in_range(&mut self, name: &str, value: i64, at: Range<usize>, max: i64) -> bool {
        if value < -1 {
            self.error(
                format!("quota `{name}` must be -1 (unlimited) or more, found {value}"),
                at,
                "write -1 for no limit, or the maximum count",
            );
            return false;
        }
        if value > max {
            self.error(
                format!("quota `{name}` must be at most {max}, found {value}"),
                at,
                format!(
                    "the API stores quotas as 32-bit integers: write -1 for no limit, or at most {max}"
                ),
            );
            return false;
        }
        true
    }

    /// A quota whose value is a table of name → limit (`volume_types = { ssd = 100 }`).
    fn quota_map(&mut self, quotas: &Table<'_, '_>, name: &str, max: i64) -> Option<Value> {
        let map = quotas.table(name, self.diags)?;
        let table = Table {
            file: quotas.file,
            table: map.get_ref(),
            what: format!("{}.{name}", quotas.what),
            header: map.span(),
        };
        let mut normalized = serde_json::Map::new();
        for (entry, item) in crate::spec::reader::entries_in_order(map.get_ref()) {
            let entry: &str = entry.get_ref();
            let Some(value) = table.integer(entry, self.diags) else {
                continue;
            };
            if self.quota_in_range(
                &format!("{name}.{entry}"),
                *value.get_ref(),
                item.span(),
                max,
            ) {
                normalized.insert(entry.to_string(), json!(value.get_ref()));
            }
        }
        Some(Value::Object(normalized))
    }
}
