//! The lists of tables a port holds: fixed IPs (`{ subnet = "a", ip_address = "10.0.0.5" }`)
//! and allowed address pairs (`{ ip_address = "10.0.0.0/24", mac_address = "..." }`), read,
//! validated one table at a time and normalized (sorted, each entry once). Checks against the
//! subnets they name are the port kind's `spec_check`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::ops::Range;

use serde_json::{Map, Value, json};
use toml::de::DeValue;

use super::Reference;
use super::reader::{Table, with_article};
use crate::addr::{Address, Kind};
use crate::diag::{Diagnostic, Diagnostics, Span};

/// What one list of tables reads into: the normalized value, where each entry was written
/// (keyed by [`entry_span_key`]), and the references it makes.
pub(super) struct Read {
    pub value: Value,
    pub spans: Vec<(String, Span)>,
    pub refs: Vec<Reference>,
}

/// The `attr_spans` key of one entry's field: `fixed_ips[web/10.0.0.5].ip_address`. Kinds
/// read it back to point at the entry a cross-resource rule rejects.
pub fn entry_span_key(attr: &str, entry: &str, field: &str) -> String {
    format!("{attr}[{entry}].{field}")
}

/// The id of a fixed IP entry in [`entry_span_key`]: its subnet and address.
pub fn fixed_ip_entry(subnet: &str, ip: Option<&str>) -> String {
    format!("{subnet}/{}", ip.unwrap_or(""))
}

/// The tables of array `key`, each as a [`Table`] that names itself `what`.
pub(super) fn tables<'a, 'i>(
    t: &Table<'a, 'i>,
    key: &str,
    what: &str,
    example: &str,
    diags: &mut Diagnostics,
) -> Option<Vec<Table<'a, 'i>>> {
    let array = t.array_of_tables(key, diags)?;
    let mut out = Vec::new();
    for item in array.get_ref().iter() {
        let DeValue::Table(table) = item.get_ref() else {
            diags.push(
                Diagnostic::error(format!(
                    "each entry of `{key}` must be a table, found {}",
                    with_article(item.get_ref().type_str())
                ))
                .at(t.span(item.span()))
                .help(format!("write entries as {example}")),
            );
            continue;
        };
        out.push(Table {
            file: t.file,
            table,
            what: format!("{what} of {}", t.what),
            header: item.span(),
        });
    }
    Some(out)
}

/// `fixed_ips`: each entry names a subnet (`to`) and optionally an address on it.
pub(super) fn fixed_ips(
    t: &Table<'_, '_>,
    key: &str,
    to: Kind,
    diags: &mut Diagnostics,
) -> Option<Read> {
    let target = to.schema().name;
    let example = format!("{{ {target} = \"<{target} name>\", ip_address = \"10.0.0.5\" }}");
    let entries = tables(t, key, "a fixed IP", &example, diags)?;
    let mut read = Read {
        value: Value::Null,
        spans: Vec::new(),
        refs: Vec::new(),
    };
    let mut items = Vec::new();
    let mut seen: BTreeMap<(String, String), Range<usize>> = BTreeMap::new();
    for entry in &entries {
        entry.reject_unknown(&[target, "ip_address"], diags);
        let subnet = match entry.string(target, diags) {
            Some(s) if !s.get_ref().is_empty() => s,
            Some(s) => {
                diags.push(
                    Diagnostic::error(format!("`{target}` must not be empty"))
                        .at(t.span(s.span()))
                        .help(format!("name the {target} by its address name")),
                );
                continue;
            }
            None => {
                if entry.get(target).is_none() {
                    entry.missing(target, &format!("\"<{target} name>\""), diags);
                }
                continue;
            }
        };
        let ip = match entry.string("ip_address", diags) {
            None => None,
            Some(text) => match text.get_ref().parse::<IpAddr>() {
                Ok(ip) => Some((ip.to_string(), text.span())),
                Err(_) => {
                    diags.push(
                        Diagnostic::error(format!(
                            "invalid IP address `{}` in `{key}`",
                            text.get_ref()
                        ))
                        .at(t.span(text.span()))
                        .help("write an address such as \"10.0.0.5\", or leave ip_address out to let Neutron pick one"),
                    );
                    continue;
                }
            },
        };
        let name = subnet.get_ref().to_string();
        let ip_text = ip.as_ref().map(|(ip, _)| ip.clone()).unwrap_or_default();
        // Two entries without an address on one subnet are two addresses there: only an
        // explicit address written twice is a mistake.
        if ip.is_some() {
            if let Some(first) = seen.get(&(name.clone(), ip_text.clone())) {
                diags.push(
                    Diagnostic::error(format!(
                        "fixed IP {ip_text} on {to}.{name} is listed twice in `{key}`"
                    ))
                    .at(entry.header_span())
                    .note("first listed here", t.span(first.clone()))
                    .help("remove the second entry"),
                );
                continue;
            }
            seen.insert((name.clone(), ip_text.clone()), entry.header.clone());
        }
        let id = fixed_ip_entry(&name, ip.as_ref().map(|(ip, _)| ip.as_str()));
        read.spans
            .push((entry_span_key(key, &id, target), t.span(subnet.span())));
        read.refs.push(Reference {
            field: key.to_string(),
            target: Address::new(to, name.clone()),
            span: t.span(subnet.span()),
        });
        let mut object = Map::new();
        object.insert(target.to_string(), json!(name));
        if let Some((ip, range)) = ip {
            read.spans
                .push((entry_span_key(key, &id, "ip_address"), t.span(range)));
            object.insert("ip_address".into(), json!(ip));
        }
        items.push(Value::Object(object));
    }
    sort_entries(&mut items, target, "ip_address");
    read.value = Value::Array(items);
    Some(read)
}

/// Sorts entries by two of their fields, as the attribute contract's sets are.
pub fn sort_entries(items: &mut [Value], first: &str, second: &str) {
    let key = |v: &Value| {
        let field = |f: &str| v.get(f).and_then(Value::as_str).unwrap_or("").to_string();
        (field(first), field(second))
    };
    items.sort_by_key(key);
}

/// Allowed address pairs as Neutron reports them for a port whose MAC is `own_mac`: a pair
/// written with the port's own MAC is the pair written without one (Neutron fills that MAC
/// in), and MACs compare in lower case. Sorted as observed pairs are.
pub fn pairs_as_observed(desired: &Value, own_mac: Option<&str>) -> Value {
    let Value::Array(pairs) = desired else {
        return desired.clone();
    };
    let mut pairs: Vec<Value> = pairs
        .iter()
        .map(|pair| {
            let mut pair = pair.clone();
            let mac = pair
                .get("mac_address")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase);
            if let (Some(entry), Some(mac)) = (pair.as_object_mut(), mac) {
                if own_mac.is_some_and(|own| own.eq_ignore_ascii_case(&mac)) {
                    entry.remove("mac_address");
                } else {
                    entry.insert("mac_address".into(), Value::String(mac));
                }
            }
            pair
        })
        .collect();
    sort_entries(&mut pairs, "ip_address", "mac_address");
    Value::Array(pairs)
}

/// For fixed IPs, the observed entries with the addresses the spec leaves to Neutron taken
/// out: an entry `{ subnet = "a" }` is satisfied by any address on subnet a that no entry
/// of the spec names. The result is sorted as the spec's entries are, so that it compares
/// with `==`.
pub fn managed_addresses(observed: &Value, desired: &Value, target: &str) -> Value {
    let (Value::Array(seen), Value::Array(wanted)) = (observed, desired) else {
        return observed.clone();
    };
    let field = |v: &Value, f: &str| v.get(f).and_then(Value::as_str).map(str::to_string);
    let mut unaddressed: Vec<String> = wanted
        .iter()
        .filter(|w| w.get("ip_address").is_none())
        .filter_map(|w| field(w, target))
        .collect();
    let named: Vec<(Option<String>, Option<String>)> = wanted
        .iter()
        .filter(|w| w.get("ip_address").is_some())
        .map(|w| (field(w, target), field(w, "ip_address")))
        .collect();
    let mut out: Vec<Value> = Vec::new();
    for entry in seen {
        let key = (field(entry, target), field(entry, "ip_address"));
        if named.contains(&key) {
            out.push(entry.clone());
            continue;
        }
        match key.0.and_then(|s| unaddressed.iter().position(|u| *u == s)) {
            Some(at) => {
                let subnet = unaddressed.remove(at);
                out.push(json!({ target: subnet }));
            }
            None => out.push(entry.clone()),
        }
    }
    sort_entries(&mut out, target, "ip_address");
    Value::Array(out)
}

/// `allowed_address_pairs`: an address or CIDR each, with an optional MAC; `[]` when absent.
pub(super) fn address_pairs(t: &Table<'_, '_>, key: &str, diags: &mut Diagnostics) -> Read {
    let mut read = Read {
        value: json!([]),
        spans: Vec::new(),
        refs: Vec::new(),
    };
    if t.get(key).is_none() {
        return read;
    }
    let example = "{ ip_address = \"10.0.0.0/24\", mac_address = \"fa:16:3e:00:00:01\" }";
    let Some(entries) = tables(t, key, "an address pair", example, diags) else {
        return read;
    };
    let mut items = Vec::new();
    let mut seen: BTreeMap<(String, String), Range<usize>> = BTreeMap::new();
    for entry in &entries {
        entry.reject_unknown(&["ip_address", "mac_address"], diags);
        let Some(text) = entry.string("ip_address", diags) else {
            if entry.get("ip_address").is_none() {
                entry.missing("ip_address", "\"10.0.0.5\"", diags);
            }
            continue;
        };
        let Some(ip) = address_or_network(text.get_ref()) else {
            diags.push(
                Diagnostic::error(format!("invalid address `{}` in `{key}`", text.get_ref()))
                    .at(t.span(text.span()))
                    .help("write an IP address (\"10.0.0.5\") or a network (\"10.0.0.0/24\")"),
            );
            continue;
        };
        let mac = match entry.string("mac_address", diags) {
            None => None,
            Some(m) if valid_mac(m.get_ref()) => Some(m.get_ref().to_ascii_lowercase()),
            Some(m) => {
                diags.push(
                    Diagnostic::error(format!("invalid MAC address `{}` in `{key}`", m.get_ref()))
                        .at(t.span(m.span()))
                        .help("write six hexadecimal pairs such as \"fa:16:3e:00:00:01\", or leave mac_address out for the port's own"),
                );
                continue;
            }
        };
        let pair = (ip.clone(), mac.clone().unwrap_or_default());
        if let Some(first) = seen.get(&pair) {
            diags.push(
                Diagnostic::error(format!("address pair {ip} is listed twice in `{key}`"))
                    .at(entry.header_span())
                    .note("first listed here", t.span(first.clone()))
                    .help("remove the second entry (Neutron refuses duplicate pairs)"),
            );
            continue;
        }
        seen.insert(pair, entry.header.clone());
        let mut object = Map::new();
        object.insert("ip_address".into(), json!(ip));
        if let Some(mac) = mac {
            object.insert("mac_address".into(), json!(mac));
        }
        items.push(Value::Object(object));
    }
    sort_entries(&mut items, "ip_address", "mac_address");
    read.value = Value::Array(items);
    read
}

/// An address, or a network in canonical form, as Neutron stores it (`10.0.0.0/24`).
fn address_or_network(text: &str) -> Option<String> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip.to_string());
    }
    let net = text.parse::<ipnet::IpNet>().ok()?;
    // Neutron keeps what it is given; a network with host bits would then differ from every
    // other spelling of it, so only the canonical one is accepted.
    (net.trunc() == net).then(|| net.to_string())
}

fn valid_mac(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwritten_addresses_match_any_address_of_their_subnet() {
        let seen = json!([{"subnet": "a", "ip_address": "10.0.0.9"},
                          {"subnet": "a", "ip_address": "10.0.0.5"},
                          {"subnet": "b", "ip_address": "10.1.0.3"}]);
        let wanted = json!([{"subnet": "a"}, {"subnet": "a", "ip_address": "10.0.0.5"},
                            {"subnet": "b"}]);
        assert_eq!(managed_addresses(&seen, &wanted, "subnet"), wanted);
        let moved = json!([{"subnet": "a"}, {"subnet": "a", "ip_address": "10.0.0.6"},
                           {"subnet": "b"}]);
        assert_eq!(
            managed_addresses(&seen, &moved, "subnet"),
            json!([{"subnet": "a"}, {"subnet": "a", "ip_address": "10.0.0.5"}, {"subnet": "b"}])
        );
        let fewer = json!([{"subnet": "b"}]);
        assert_eq!(
            managed_addresses(&seen, &fewer, "subnet"),
            json!([{"subnet": "a", "ip_address": "10.0.0.5"},
                   {"subnet": "a", "ip_address": "10.0.0.9"}, {"subnet": "b"}])
        );
    }

    #[test]
    fn pair_addresses_are_canonical() {
        assert_eq!(address_or_network("10.0.0.5"), Some("10.0.0.5".into()));
        assert_eq!(
            address_or_network("10.0.0.0/24"),
            Some("10.0.0.0/24".into())
        );
        assert_eq!(address_or_network("10.0.0.5/24"), None);
        assert_eq!(address_or_network("10.0.0.0/33"), None);
        assert_eq!(address_or_network("nonsense"), None);
        assert!(valid_mac("FA:16:3e:00:00:01"));
        assert!(!valid_mac("fa:16:3e:00:00"));
    }

    #[test]
    fn a_pair_with_the_ports_own_mac_is_a_pair_without_one() {
        let wanted = json!([{"ip_address": "10.0.0.9", "mac_address": "FA:16:3E:00:00:09"},
                            {"ip_address": "10.0.0.1", "mac_address": "FA:16:3E:00:00:01"}]);
        assert_eq!(
            pairs_as_observed(&wanted, Some("fa:16:3e:00:00:09")),
            json!([{"ip_address": "10.0.0.1", "mac_address": "fa:16:3e:00:00:01"},
                   {"ip_address": "10.0.0.9"}])
        );
    }
}
