//! Security group rules: the short spec form (`protocol = "tcp"`, `port_range = "80"`,
//! `cidr = "0.0.0.0/0"`) into Neutron's full rule objects, sorted and deduplicated.

use std::cmp::Ordering;
use std::ops::Range;

use ipnet::IpNet;
use serde_json::{Value, json};
use toml::de::{DeArray, DeValue};

use super::fields::parse_network;
use super::reader::{Table, with_article};
use crate::diag::{Diagnostic, Diagnostics};
use crate::fast_hash::FastHashMap;

const RULE_FIELDS: &[&str] = &[
    "direction",
    "protocol",
    "port_range",
    "cidr",
    "remote_group",
    "ethertype",
];

/// A group a rule names as its remote, and where.
type RemoteGroup = (String, Range<usize>);

/// The rules of one group, and the groups they name as their remote (with where), which the
/// group depends on.
pub(super) struct GroupRules {
    pub rules: Vec<Value>,
    pub remote_groups: Vec<RemoteGroup>,
}

/// Protocol names Neutron accepts (besides numbers 0–255).
const PROTOCOL_NAMES: &[&str] = &[
    "ah",
    "dccp",
    "egp",
    "esp",
    "gre",
    "hopopt",
    "icmp",
    "icmpv6",
    "igmp",
    "ipip",
    "ipv6-encap",
    "ipv6-frag",
    "ipv6-icmp",
    "ipv6-nonxt",
    "ipv6-opts",
    "ipv6-route",
    "ospf",
    "pgm",
    "rsvp",
    "sctp",
    "tcp",
    "udp",
    "udplite",
    "vrrp",
];

/// Neutron's protocol numbers by name (neutron_lib `IP_PROTOCOL_MAP`, without 0, which names
/// two protocols there, and without the legacy alias `icmpv6`).
const PROTOCOL_NUMBERS: &[(&str, u8)] = &[
    ("icmp", 1),
    ("igmp", 2),
    ("ipip", 4),
    ("tcp", 6),
    ("egp", 8),
    ("udp", 17),
    ("dccp", 33),
    ("ipv6-encap", 41),
    ("ipv6-route", 43),
    ("ipv6-frag", 44),
    ("rsvp", 46),
    ("gre", 47),
    ("esp", 50),
    ("ah", 51),
    ("ipv6-icmp", 58),
    ("ipv6-nonxt", 59),
    ("ipv6-opts", 60),
    ("ospf", 89),
    ("vrrp", 112),
    ("pgm", 113),
    ("sctp", 132),
    ("udplite", 136),
];

/// A rule's protocol in the one form desired and observed rules are compared in: lowercase,
/// a number Neutron has a name for written as that name, and ICMP for IPv6 as `ipv6-icmp`.
/// Real Neutron stores `icmpv6`, and `icmp` or `1` in an IPv6 rule, as `ipv6-icmp` / `58`
/// (securitygroups_db `_make_canonical_ipv6_icmp_protocol`); without this a spec saying
/// `icmpv6` planned a rule change after every apply.
pub fn canonical_protocol(protocol: &str, ethertype: &str) -> String {
    let lower = protocol.to_ascii_lowercase();
    let named = lower
        .parse::<u8>()
        .ok()
        .and_then(|n| PROTOCOL_NUMBERS.iter().find(|(_, num)| *num == n))
        .map_or(lower.as_str(), |(name, _)| *name);
    match (named, ethertype) {
        ("icmpv6", _) | ("icmp", "IPv6") => "ipv6-icmp".to_string(),
        (other, _) => other.to_string(),
    }
}

/// The rules a group ends up with: the written ones, normalized, plus (when `default_egress`)
/// the two egress rules Neutron adds to every new group, so a spec that never mentions egress
/// does not fight them. Sorted by the rule objects' JSON text, as the attribute contract
/// (`resources::schema`) fixes: compared as [`RuleKey`] values in that order, since making
/// each rule's text was a quarter of building a spec's attributes.
pub(super) fn security_group_rules(
    written: Option<&DeArray<'_>>,
    default_egress: bool,
    t: &Table<'_, '_>,
    diags: &mut Diagnostics,
) -> GroupRules {
    let mut remote_groups = Vec::new();
    // Each rule with where it is written: a map finds duplicates (not a scan of the rules so
    // far: a group may hold a thousand).
    let mut seen: FastHashMap<RuleKey, Range<usize>> = FastHashMap::default();
    for item in written.into_iter().flat_map(|a| a.iter()) {
        let DeValue::Table(table) = item.get_ref() else {
            diags.push(
                Diagnostic::error(format!(
                    "each rule must be a table, found {}",
                    with_article(item.get_ref().type_str())
                ))
                .at(t.span(item.span()))
                .help("write rules as { protocol = \"tcp\", port_range = \"22\", cidr = \"0.0.0.0/0\" }"),
            );
            continue;
        };
        let rule_table = Table {
            file: t.file,
            table,
            what: format!("a rule of {}", t.what),
            header: item.span(),
        };
        let Some((rule, remote_group)) = rule(&rule_table, diags) else {
            continue;
        };
        if let Some(first) = seen.get(&rule) {
            diags.push(
                Diagnostic::error(format!("duplicate rule in {}", t.what))
                    .at(t.span(item.span()))
                    .note("the same rule is written here", t.span(first.clone()))
                    .help("remove one of them"),
            );
            continue;
        }
        seen.insert(rule, item.span());
        remote_groups.extend(remote_group);
    }
    let mut defaults = Vec::new();
    if default_egress {
        for ethertype in ["IPv4", "IPv6"] {
            let egress = RuleKey::egress(ethertype, None);
            // Real Neutron treats a remote of 0.0.0.0/0 or ::/0 as no remote when it looks
            // for duplicates (`_rule_to_key`): adding its default beside a written egress to
            // anywhere would be refused with 409 SecurityGroupRuleExists.
            let any = if ethertype == "IPv4" {
                "0.0.0.0/0"
            } else {
                "::/0"
            };
            let written_anywhere = RuleKey::egress(ethertype, Some(any.to_string()));
            if !seen.contains_key(&egress) && !seen.contains_key(&written_anywhere) {
                defaults.push(egress);
            }
        }
    }
    let mut rules: Vec<RuleKey> = seen.into_keys().chain(defaults).collect();
    rules.sort_unstable();
    GroupRules {
        rules: rules.iter().map(RuleKey::to_value).collect(),
        remote_groups,
    }
}

/// One normalized rule as a value: equal exactly when the rule objects sent to Neutron are,
/// and ordered as those objects' JSON text is (see its `Ord`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct RuleKey {
    direction: &'static str,
    ethertype: &'static str,
    /// Canonical ([`canonical_protocol`]); None for any.
    protocol: Option<String>,
    /// None for all ports.
    ports: Option<(u16, u16)>,
    remote_group: Option<String>,
    remote_ip_prefix: Option<String>,
}

impl RuleKey {
    fn egress(ethertype: &'static str, remote_ip_prefix: Option<String>) -> RuleKey {
        RuleKey {
            direction: "egress",
            ethertype,
            protocol: None,
            ports: None,
            remote_group: None,
            remote_ip_prefix,
        }
    }

    /// The rule object of the attribute contract. Only rules with a remote group carry that
    /// key, as observed rules do.
    fn to_value(&self) -> Value {
        let mut object = json!({
            "direction": self.direction,
            "ethertype": self.ethertype,
            "protocol": self.protocol,
            "port_range_min": self.ports.map(|p| p.0),
            "port_range_max": self.ports.map(|p| p.1),
            "remote_ip_prefix": self.remote_ip_prefix,
        });
        if let Some(group) = &self.remote_group {
            object["remote_group"] = json!(group);
        }
        object
    }
}

/// The order of the rule objects' JSON text, field by field. `serde_json` writes keys sorted
/// (direction, ethertype, port_range_max, port_range_min, protocol, remote_group,
/// remote_ip_prefix); in that text a string (`"`) sorts before a number (a digit) before
/// `null`, numbers compare as their digits, and a string that is a prefix of another comes
/// first (its closing quote is below every character a loaded rule's values hold: names,
/// CIDRs, protocol names and numbers). `rule_order_is_the_json_text_order` checks this
/// against the text itself.
impl Ord for RuleKey {
    fn cmp(&self, other: &RuleKey) -> Ordering {
        self.direction
            .cmp(other.direction)
            .then_with(|| self.ethertype.cmp(other.ethertype))
            .then_with(|| port_text_order(self.ports.map(|p| p.1), other.ports.map(|p| p.1)))
            .then_with(|| port_text_order(self.ports.map(|p| p.0), other.ports.map(|p| p.0)))
            .then_with(|| absent_last(&self.protocol, &other.protocol))
            .then_with(|| absent_last(&self.remote_group, &other.remote_group))
            .then_with(|| absent_last(&self.remote_ip_prefix, &other.remote_ip_prefix))
    }
}

impl PartialOrd for RuleKey {
    fn partial_cmp(&self, other: &RuleKey) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A string before `null`, strings by their text.
fn absent_last(a: &Option<String>, b: &Option<String>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// A number before `null`, numbers by their decimal digits (`100` before `22`).
fn port_text_order(a: Option<u16>, b: Option<u16>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => Digits::of(a).as_bytes().cmp(Digits::of(b).as_bytes()),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// A port's decimal digits, without allocating.
struct Digits {
    buf: [u8; 5],
    start: usize,
}

impl Digits {
    fn of(mut n: u16) -> Digits {
        let mut buf = [0u8; 5];
        let mut start = buf.len();
        loop {
            start -= 1;
            buf[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        Digits { buf, start }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

/// One rule and the group it names as its remote, or None when it has an error (already
/// reported).
fn rule(t: &Table<'_, '_>, diags: &mut Diagnostics) -> Option<(RuleKey, Option<RemoteGroup>)> {
    let before = diags.0.len();
    t.reject_unknown(RULE_FIELDS, diags);

    let direction = match t.string("direction", diags) {
        None => "ingress",
        Some(d) if matches!(*d.get_ref(), "ingress" | "egress") => *d.get_ref(),
        Some(d) => {
            diags.push(
                Diagnostic::error(format!("invalid rule direction `{}`", d.get_ref()))
                    .at(t.span(d.span()))
                    .help("direction is \"ingress\" (the default) or \"egress\""),
            );
            "ingress"
        }
    };

    let protocol = protocol(t, diags).map(|p| canonical_protocol(&p, "IPv4"));

    // Real Neutron stores a port range of 1-65535 as no range at all
    // (`_make_canonical_port_range`), so that is the form a plan compares.
    let ports = port_range(t, protocol.as_deref(), diags).filter(|&r| r != (1, 65535));

    let network = t
        .string("cidr", diags)
        .and_then(|c| parse_network(c.get_ref(), c.span(), "cidr", true, t, diags));

    let remote_group = t.string("remote_group", diags).and_then(|g| {
        if g.get_ref().is_empty() {
            diags.push(
                Diagnostic::error("`remote_group` must not be empty")
                    .at(t.span(g.span()))
                    .help("name a security group of the spec by its address name, as in [security_group.NAME]"),
            );
            return None;
        }
        if network.is_some() {
            // Neutron refuses both with 400 ("Only remote_ip_prefix or remote_group_id may
            // be provided").
            diags.push(
                Diagnostic::error("a rule has either `cidr` or `remote_group`, not both")
                    .at(t.span(g.span()))
                    .help("remove one: `remote_group` admits the ports of that group, `cidr` the addresses of a network"),
            );
            return None;
        }
        Some((g.get_ref().to_string(), g.span()))
    });

    let ethertype = match t.string("ethertype", diags) {
        None => match network {
            Some(IpNet::V6(_)) => "IPv6",
            _ => "IPv4",
        },
        Some(e) => match (*e.get_ref(), network) {
            ("IPv4", Some(net @ IpNet::V6(_))) | ("IPv6", Some(net @ IpNet::V4(_))) => {
                diags.push(
                    Diagnostic::error(format!(
                        "ethertype {} does not match cidr {net}",
                        e.get_ref()
                    ))
                    .at(t.span(e.span()))
                    .help("remove `ethertype`: it follows the cidr's address family"),
                );
                "IPv4"
            }
            (ethertype @ ("IPv4" | "IPv6"), _) => ethertype,
            (other, _) => {
                let help = ["IPv4", "IPv6"]
                    .into_iter()
                    .find(|known| known.eq_ignore_ascii_case(other))
                    .map_or_else(
                        || "ethertype is \"IPv4\" or \"IPv6\"".to_string(),
                        |known| format!("write it \"{known}\""),
                    );
                diags.push(
                    Diagnostic::error(format!("invalid rule ethertype `{other}`"))
                        .at(t.span(e.span()))
                        .help(help),
                );
                "IPv4"
            }
        },
    };

    if diags.0.len() > before {
        return None;
    }
    let key = RuleKey {
        direction: if direction == "egress" {
            "egress"
        } else {
            "ingress"
        },
        ethertype: if ethertype == "IPv6" { "IPv6" } else { "IPv4" },
        protocol: protocol.map(|p| canonical_protocol(&p, ethertype)),
        ports,
        remote_group: remote_group.as_ref().map(|(group, _)| group.clone()),
        remote_ip_prefix: network.map(|n| n.to_string()),
    };
    Some((key, remote_group))
}

/// The rule's protocol: None for any. Names are lowercased; numbers stay numbers as text.
fn protocol(t: &Table<'_, '_>, diags: &mut Diagnostics) -> Option<String> {
    let (_, item) = t.get("protocol")?;
    let (text, range) = match item.get_ref() {
        DeValue::String(s) => (s.to_lowercase(), item.span()),
        DeValue::Integer(_) => {
            let n = super::reader::integer_value("protocol", item, t.file, diags)?;
            (n.to_string(), item.span())
        }
        other => {
            diags.push(
                Diagnostic::error(format!(
                    "`protocol` must be a string, found {}",
                    other.type_str()
                ))
                .at(t.span(item.span()))
                .help("write a protocol name such as \"tcp\", or a number from 0 to 255"),
            );
            return None;
        }
    };
    if text == "any" {
        return None;
    }
    let is_number = text.parse::<u8>().is_ok();
    if !is_number && !PROTOCOL_NAMES.contains(&text.as_str()) {
        let close = super::suggest::did_you_mean(&text, PROTOCOL_NAMES.iter().copied())
            .map(|c| format!("did you mean \"{c}\"? "))
            .unwrap_or_default();
        diags.push(
            Diagnostic::error(format!("invalid rule protocol `{text}`"))
                .at(t.span(range))
                .help(format!(
                    "{close}use \"tcp\", \"udp\", \"icmp\", \"any\", another IP protocol name, or a number from 0 to 255"
                )),
        );
    }
    Some(text)
}

/// `port_range = "80"` or `"8000-8100"` (an integer port is accepted too); tcp and udp only.
fn port_range(
    t: &Table<'_, '_>,
    protocol: Option<&str>,
    diags: &mut Diagnostics,
) -> Option<(u16, u16)> {
    let (_, item) = t.get("port_range")?;
    if !matches!(protocol, Some("tcp" | "udp")) {
        diags.push(
            Diagnostic::error(format!(
                "`port_range` is only valid for tcp and udp rules, this rule's protocol is {}",
                protocol.unwrap_or("any")
            ))
            .at(t.span(item.span()))
            .help("set protocol = \"tcp\" or \"udp\", or remove `port_range`"),
        );
        return None;
    }
    let text = match item.get_ref() {
        DeValue::String(s) => s.to_string(),
        DeValue::Integer(_) => {
            super::reader::integer_value("port_range", item, t.file, diags)?.to_string()
        }
        other => {
            diags.push(
                Diagnostic::error(format!(
                    "`port_range` must be a string, found {}",
                    other.type_str()
                ))
                .at(t.span(item.span()))
                .help("write a port (\"80\") or a range (\"8000-8100\")"),
            );
            return None;
        }
    };
    let invalid = |diags: &mut Diagnostics, why: &str| {
        diags.push(
            Diagnostic::error(format!("invalid port range `{text}`: {why}"))
                .at(t.span(item.span()))
                .help("write a port (\"80\") or a range (\"8000-8100\") of ports from 1 to 65535"),
        );
    };
    let (low, high) = text.split_once('-').unwrap_or((&text, &text));
    let (Ok(low), Ok(high)) = (low.trim().parse::<u32>(), high.trim().parse::<u32>()) else {
        invalid(diags, "not a port number");
        return None;
    };
    let in_range = |p: u32| (1..=65535).contains(&p);
    if !in_range(low) || !in_range(high) {
        invalid(diags, "ports go from 1 to 65535");
        return None;
    }
    if low > high {
        invalid(diags, "the first port is greater than the last");
        return None;
    }
    // Both are within 1..=65535, so they fit.
    Some((low as u16, high as u16))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::load::load_str;
    use crate::addr::{Address, Kind};

    fn rules_of(rules: &str, default_egress: bool) -> Value {
        let text = format!(
            "[tenant.t]\n[security_group.g]\ntenant = \"t\"\ndefault_egress = {default_egress}\nrules = [\n{rules}\n]\n"
        );
        match load_str(&text) {
            Ok(d) => d
                .get(&Address::new(Kind::SecurityGroup, "g"))
                .and_then(|r| r.attrs.get("rules").cloned())
                .unwrap_or_default(),
            Err(diags) => panic!("should load:\n{diags}"),
        }
    }

    fn rule(
        direction: &str,
        ethertype: &str,
        protocol: Value,
        ports: (Value, Value),
        prefix: Value,
    ) -> Value {
        json!({"direction": direction, "ethertype": ethertype, "protocol": protocol,
               "port_range_min": ports.0, "port_range_max": ports.1, "remote_ip_prefix": prefix})
    }

    #[test]
    fn short_rules_expand_to_full_neutron_rules() {
        let rules = rules_of(
            r#"{ protocol = "TCP", port_range = "8000-8100", cidr = "2001:db8::/32" },
               { protocol = "udp", port_range = 53 },
               { direction = "egress", protocol = "any", cidr = "10.1.2.3" },
               { protocol = "icmp", ethertype = "IPv4" },
               { protocol = "112" }"#,
            false,
        );
        let none = (Value::Null, Value::Null);
        assert_eq!(
            rules,
            json!([
                rule(
                    "egress",
                    "IPv4",
                    Value::Null,
                    none.clone(),
                    json!("10.1.2.3/32")
                ),
                // JSON text order: `"port_range_max":53` sorts before `"port_range_max":null`.
                rule(
                    "ingress",
                    "IPv4",
                    json!("udp"),
                    (json!(53), json!(53)),
                    Value::Null
                ),
                rule("ingress", "IPv4", json!("icmp"), none.clone(), Value::Null),
                // A number Neutron has a name for is compared by that name.
                rule("ingress", "IPv4", json!("vrrp"), none.clone(), Value::Null),
                rule(
                    "ingress",
                    "IPv6",
                    json!("tcp"),
                    (json!(8000), json!(8100)),
                    json!("2001:db8::/32")
                ),
            ])
        );
    }

    #[test]
    fn rules_take_the_form_real_neutron_stores() {
        let none = (Value::Null, Value::Null);
        let rules = rules_of(
            r#"{ protocol = "icmpv6", ethertype = "IPv6" },
               { protocol = "icmp", cidr = "::/0" },
               { protocol = 6, port_range = "1-65535" },
               { protocol = "200" }"#,
            false,
        );
        assert_eq!(
            rules,
            json!([
                rule("ingress", "IPv4", json!("200"), none.clone(), Value::Null),
                rule("ingress", "IPv4", json!("tcp"), none.clone(), Value::Null),
                rule(
                    "ingress",
                    "IPv6",
                    json!("ipv6-icmp"),
                    none.clone(),
                    json!("::/0")
                ),
                rule(
                    "ingress",
                    "IPv6",
                    json!("ipv6-icmp"),
                    none.clone(),
                    Value::Null
                ),
            ])
        );
        assert_eq!(super::canonical_protocol("58", "IPv6"), "ipv6-icmp");
        assert_eq!(super::canonical_protocol("1", "IPv6"), "ipv6-icmp");
        assert_eq!(super::canonical_protocol("1", "IPv4"), "icmp");
        assert_eq!(super::canonical_protocol("UDP", "IPv4"), "udp");
        assert_eq!(super::canonical_protocol("0", "IPv4"), "0");
    }

    #[test]
    fn a_written_egress_to_anywhere_replaces_the_neutron_default() {
        let any = (Value::Null, Value::Null);
        let rules = rules_of(r#"{ direction = "egress", cidr = "0.0.0.0/0" }"#, true);
        assert_eq!(
            rules,
            json!([
                rule(
                    "egress",
                    "IPv4",
                    Value::Null,
                    any.clone(),
                    json!("0.0.0.0/0")
                ),
                rule("egress", "IPv6", Value::Null, any.clone(), Value::Null),
            ])
        );
    }

    #[test]
    fn default_egress_rules_are_added_once() {
        let any = (Value::Null, Value::Null);
        let rules = rules_of(r#"{ direction = "egress", ethertype = "IPv6" }"#, true);
        assert_eq!(
            rules,
            json!([
                rule("egress", "IPv4", Value::Null, any.clone(), Value::Null),
                rule("egress", "IPv6", Value::Null, any.clone(), Value::Null),
            ])
        );
    }

    #[test]
    fn rules_may_be_written_as_an_array_of_tables() {
        let text = "[tenant.t]\n[security_group.g]\ntenant = \"t\"\ndefault_egress = false\n\n[[security_group.g.rules]]\nprotocol = \"tcp\"\nport_range = \"22\"\n";
        let desired = match load_str(text) {
            Ok(d) => d,
            Err(diags) => panic!("should load:\n{diags}"),
        };
        let group = desired.get(&Address::new(Kind::SecurityGroup, "g"));
        assert_eq!(
            group.and_then(|g| g.attrs.get("rules")),
            Some(&json!([rule(
                "ingress",
                "IPv4",
                json!("tcp"),
                (json!(22), json!(22)),
                Value::Null
            )]))
        );
        let written_at = group
            .and_then(|g| g.attr_spans.get("rules"))
            .map(|s| s.to_string());
        assert_eq!(written_at.as_deref(), Some("spec.toml:6:1"));
    }

    #[test]
    fn rule_order_is_the_json_text_order() {
        // Every combination of values that sort differently as text than as numbers or as
        // absent/present: the keys must order exactly as the rule objects' text does.
        let strings = |values: &[&str]| -> Vec<Option<String>> {
            std::iter::once(None)
                .chain(values.iter().map(|v| Some(v.to_string())))
                .collect()
        };
        let mut keys = Vec::new();
        for direction in ["ingress", "egress"] {
            for ethertype in ["IPv4", "IPv6"] {
                for ports in [
                    None,
                    Some((22, 22)),
                    Some((100, 100)),
                    Some((8, 80)),
                    Some((80, 8000)),
                    Some((1, 65534)),
                ] {
                    for protocol in strings(&["tcp", "udp", "6", "17", "200", "ipv6-icmp"]) {
                        for (remote_group, remote_ip_prefix) in [
                            (None, None),
                            (Some("web".to_string()), None),
                            (Some("web-2".to_string()), None),
                            (None, Some("0.0.0.0/0".to_string())),
                            (None, Some("10.0.0.0/8".to_string())),
                            (None, Some("10.0.0.0/16".to_string())),
                            (None, Some("::/0".to_string())),
                        ] {
                            keys.push(super::RuleKey {
                                direction,
                                ethertype,
                                protocol: protocol.clone(),
                                ports,
                                remote_group,
                                remote_ip_prefix,
                            });
                        }
                    }
                }
            }
        }
        let mut by_key = keys.clone();
        by_key.sort();
        let mut by_text = keys;
        by_text.sort_by_cached_key(|k| k.to_value().to_string());
        assert_eq!(by_key, by_text);
    }
}
