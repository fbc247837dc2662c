//! Security groups and their rules: each project's automatic "default" group, rule
//! validation (protocols, port ranges, ethertype against the prefix family) and duplicates.

use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::NetworkData;
use super::model::*;
use super::ops::{ensure_owner, owner};
use super::subnets::parse_cidr;

/// Protocol names Neutron accepts, with their IANA numbers (for duplicate detection, where
/// "tcp" and "6" are the same rule).
const PROTOCOLS: [(&str, u8); 26] = [
    ("ah", 51),
    ("dccp", 33),
    ("egp", 8),
    ("esp", 50),
    ("gre", 47),
    ("hopopt", 0),
    ("icmp", 1),
    ("icmpv6", 58),
    ("igmp", 2),
    ("ip", 0),
    ("ipip", 4),
    ("ipv6-encap", 41),
    ("ipv6-frag", 44),
    ("ipv6-icmp", 58),
    ("ipv6-nonxt", 59),
    ("ipv6-opts", 60),
    ("ipv6-route", 43),
    ("ospf", 89),
    ("pgm", 113),
    ("rsvp", 46),
    ("sctp", 132),
    ("tcp", 6),
    ("udp", 17),
    ("udplite", 136),
    ("vrrp", 112),
    ("any", 255),
];

/// Protocols whose port range is a TCP/UDP-style port range.
const PORT_PROTOCOLS: [u8; 5] = [6, 17, 33, 132, 136];

fn protocol_number(protocol: &str) -> Option<u8> {
    PROTOCOLS
        .iter()
        .find(|(name, _)| *name == protocol)
        .map(|(_, n)| *n)
        .or_else(|| protocol.parse::<u8>().ok())
}

fn read_protocol(body: &Map<String, Value>) -> NResult<Option<String>> {
    let text = match body.get("protocol") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.to_ascii_lowercase(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => other.to_string(),
    };
    if text == "any" {
        return Ok(None);
    }
    if protocol_number(&text).is_none() {
        let names: Vec<String> = PROTOCOLS
            .iter()
            .filter(|(name, _)| *name != "any")
            .map(|(name, _)| format!("'{name}'"))
            .collect();
        return Err(NeutronError::new(
            StatusCode::BAD_REQUEST,
            "SecurityGroupRuleInvalidProtocol",
            format!(
                "Security group rule protocol {text} not supported. Only protocol values [None, \
                 {}] and integer representations [0 to 255] are supported.",
                names.join(", ")
            ),
        ));
    }
    Ok(Some(text))
}

fn read_port(body: &Map<String, Value>, key: &str) -> NResult<Option<i64>> {
    let value = get_int(body, key)?.flatten();
    if let Some(port) = value
        && !(0..=65535).contains(&port)
    {
        return Err(NeutronError::new(
            StatusCode::BAD_REQUEST,
            "SecurityGroupInvalidPortValue",
            format!("Invalid value for port {port}"),
        ));
    }
    Ok(value)
}

fn validate_ports(protocol: Option<&str>, min: Option<i64>, max: Option<i64>) -> NResult<()> {
    let Some(protocol) = protocol else {
        if min.is_some() || max.is_some() {
            return Err(NeutronError::new(
                StatusCode::BAD_REQUEST,
                "SecurityGroupProtocolRequiredWithPorts",
                "Must also specify protocol if port range is given.",
            ));
        }
        return Ok(());
    };
    let number = protocol_number(protocol).unwrap_or(0);
    if PORT_PROTOCOLS.contains(&number) {
        for port in [min, max].into_iter().flatten() {
            if port == 0 {
                return Err(NeutronError::new(
                    StatusCode::BAD_REQUEST,
                    "SecurityGroupInvalidPortValue",
                    "Invalid value for port 0",
                ));
            }
        }
        match (min, max) {
            (None, None) => Ok(()),
            (Some(lo), Some(hi)) if lo <= hi => Ok(()),
            _ => Err(NeutronError::new(
                StatusCode::BAD_REQUEST,
                "SecurityGroupInvalidPortRange",
                "For TCP/UDP protocols, port_range_min must be <= port_range_max",
            )),
        }
    } else if number == 1 || number == 58 {
        for (field, attr, value) in [
            ("type", "port_range_min", min),
            ("code", "port_range_max", max),
        ] {
            if let Some(v) = value
                && !(0..=255).contains(&v)
            {
                return Err(NeutronError::new(
                    StatusCode::BAD_REQUEST,
                    "SecurityGroupInvalidIcmpValue",
                    format!("Invalid value for ICMP {field} ({attr}) {v}. It must be 0 to 255."),
                ));
            }
        }
        if let (None, Some(code)) = (min, max) {
            return Err(NeutronError::new(
                StatusCode::BAD_REQUEST,
                "SecurityGroupMissingIcmpType",
                format!(
                    "ICMP code (port-range-max) {code} is provided but ICMP type (port-range-min) \
                     is missing."
                ),
            ));
        }
        Ok(())
    } else {
        Ok(())
    }
}

impl NetworkData {
    pub fn group_visible(&self, group: &SecurityGroup, actor: &Actor) -> bool {
        actor.admin || group.meta.project_id == actor.project_id
    }

    pub fn rule_visible(&self, rule: &SecurityGroupRule, actor: &Actor) -> bool {
        actor.admin
            || rule.meta.project_id == actor.project_id
            || self
                .security_groups
                .get(&rule.security_group_id)
                .is_some_and(|g| g.meta.project_id == actor.project_id)
    }

    pub fn security_group(&self, actor: &Actor, id: &str) -> NResult<&SecurityGroup> {
        self.security_groups
            .get(id)
            .filter(|g| self.group_visible(g, actor))
            .ok_or_else(|| Kind::SecurityGroup.not_found(id))
    }

    pub fn security_group_rule(&self, actor: &Actor, id: &str) -> NResult<&SecurityGroupRule> {
        self.rules
            .get(id)
            .filter(|r| self.rule_visible(r, actor))
            .ok_or_else(|| Kind::SecurityGroupRule.not_found(id))
    }

    /// The project's "default" group, created with Neutron's four rules (ingress from the
    /// group itself, egress anywhere, IPv4 and IPv6) on first use. Returns its id.
    pub fn ensure_default_security_group(&mut self, project_id: &str) -> String {
        if let Some(group) = self
            .security_groups
            .of_project(project_id)
            .find(|g| g.is_default)
        {
            return group.meta.id.clone();
        }
        let group = SecurityGroup {
            meta: Meta::new(
                project_id,
                "default".into(),
                "Default security group".into(),
                Vec::new(),
            ),
            stateful: true,
            is_default: true,
        };
        let id = group.meta.id.clone();
        self.security_groups.insert(id.clone(), group);
        for (direction, ethertype, remote) in [
            ("ingress", "IPv4", Some(id.clone())),
            ("ingress", "IPv6", Some(id.clone())),
            ("egress", "IPv4", None),
            ("egress", "IPv6", None),
        ] {
            self.insert_rule(project_id, &id, direction, ethertype, remote);
        }
        id
    }

    fn insert_rule(
        &mut self,
        project_id: &str,
        group_id: &str,
        direction: &str,
        ethertype: &str,
        remote_group_id: Option<String>,
    ) {
        let rule = SecurityGroupRule {
            meta: Meta::new(project_id, String::new(), String::new(), Vec::new()),
            security_group_id: group_id.to_string(),
            direction: direction.to_string(),
            ethertype: ethertype.to_string(),
            protocol: None,
            port_range_min: None,
            port_range_max: None,
            remote_ip_prefix: None,
            remote_group_id,
            automatic: true,
        };
        self.rules.insert(rule.meta.id.clone(), rule);
    }

    pub fn create_security_group(
        &mut self,
        actor: &Actor,
        body: &Map<String, Value>,
    ) -> NResult<String> {
        let project = owner(actor, body)?;
        let name = get_str(body, "name", 255)?.unwrap_or_default();
        let description = get_str(body, "description", 255)?.unwrap_or_default();
        let stateful = get_bool(body, "stateful")?.unwrap_or(true);
        let tags = validate_tags(&get_str_list(body, "tags")?.unwrap_or_default())?;
        self.ensure_default_security_group(&project);
        if name == "default" {
            return Err(NeutronError::conflict(
                "SecurityGroupDefaultAlreadyExists",
                "Default security group already exists.",
            ));
        }
        self.check_quota(&project, "security_group", 1)?;
        let group = SecurityGroup {
            meta: Meta::new(&project, name, description, tags),
            stateful,
            is_default: false,
        };
        let id = group.meta.id.clone();
        self.security_groups.insert(id.clone(), group);
        self.insert_rule(&project, &id, "egress", "IPv4", None);
        self.insert_rule(&project, &id, "egress", "IPv6", None);
        Ok(id)
    }

    pub fn update_security_group(
        &mut self,
        actor: &Actor,
        id: &str,
        body: &Map<String, Value>,
    ) -> NResult<()> {
        let mut group = self.security_group(actor, id)?.clone();
        ensure_owner(actor, &group.meta.project_id, "update_security_group")?;
        if let Some(name) = get_str(body, "name", 255)? {
            if group.is_default && name != "default" {
                return Err(NeutronError::conflict(
                    "SecurityGroupCannotUpdateDefault",
                    "Updating default security group not allowed.",
                ));
            }
            if !group.is_default && name == "default" {
                return Err(NeutronError::conflict(
                    "SecurityGroupDefaultAlreadyExists",
                    "Default security group already exists.",
                ));
            }
            group.meta.name = name;
        }
        if let Some(description) = get_str(body, "description", 255)? {
            group.meta.description = description;
        }
        if let Some(stateful) = get_bool(body, "stateful")? {
            if stateful != group.stateful
                && self
                    .ports
                    .values()
                    .any(|p| p.security_groups.contains(&group.meta.id))
            {
                return Err(NeutronError::conflict(
                    "SecurityGroupInUse",
                    format!("Security Group {id} in use."),
                ));
            }
            group.stateful = stateful;
        }
        group.meta.touch();
        self.security_groups.insert(id.to_string(), group);
        Ok(())
    }

    pub fn delete_security_group(&mut self, actor: &Actor, id: &str) -> NResult<()> {
        let group = self.security_group(actor, id)?;
        ensure_owner(actor, &group.meta.project_id, "delete_security_group")?;
        if group.is_default && !actor.admin {
            return Err(NeutronError::conflict(
                "SecurityGroupCannotRemoveDefault",
                "Insufficient rights for removing default security group.",
            ));
        }
        if self
            .ports
            .values()
            .any(|p| p.security_groups.iter().any(|g| g == id))
        {
            return Err(NeutronError::conflict(
                "SecurityGroupInUse",
                format!("Security Group {id} in use."),
            ));
        }
        // Rules of the group, and rules elsewhere naming it as remote group, go with it
        // (Neutron's ON DELETE CASCADE on both foreign keys).
        self.rules
            .retain(|_, r| r.security_group_id != id && r.remote_group_id.as_deref() != Some(id));
        self.security_groups.remove(id);
        Ok(())
    }

    pub fn create_security_group_rule(
        &mut self,
        actor: &Actor,
        body: &Map<String, Value>,
    ) -> NResult<String> {
        let group_id = match required(body, "security_group_id")? {
            Value::String(s) => s.clone(),
            other => {
                return Err(NeutronError::invalid_attr(
                    "security_group_id",
                    format!("{} is not a valid UUID", py(other)),
                ));
            }
        };
        let direction = match required(body, "direction")? {
            Value::String(s) if s == "ingress" || s == "egress" => s.clone(),
            other => {
                return Err(NeutronError::invalid_attr(
                    "direction",
                    format!("{} is not in ['ingress', 'egress']", py(other)),
                ));
            }
        };
        let ethertype = match body.get("ethertype") {
            None => "IPv4".to_string(),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("ipv4") => "IPv4".to_string(),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("ipv6") => "IPv6".to_string(),
            Some(other) => {
                return Err(NeutronError::invalid_attr(
                    "ethertype",
                    format!("{} is not in ['IPv4', 'IPv6']", py(other)),
                ));
            }
        };
        let protocol = read_protocol(body)?;
        let port_range_min = read_port(body, "port_range_min")?;
        let port_range_max = read_port(body, "port_range_max")?;
        validate_ports(protocol.as_deref(), port_range_min, port_range_max)?;
        let remote_ip_prefix = match get_nullable_str(body, "remote_ip_prefix")?.flatten() {
            None => None,
            Some(text) => {
                let net = parse_cidr("remote_ip_prefix", &text)?;
                let family = if matches!(net, ipnet::IpNet::V4(_)) {
                    "IPv4"
                } else {
                    "IPv6"
                };
                if family != ethertype {
                    return Err(NeutronError::new(
                        StatusCode::BAD_REQUEST,
                        "SecurityGroupRuleParameterConflict",
                        format!("Conflicting value ethertype {ethertype} for CIDR {text}"),
                    ));
                }
                Some(net.to_string())
            }
        };
        let remote_group_id = get_nullable_str(body, "remote_group_id")?.flatten();
        if remote_group_id.is_some() && remote_ip_prefix.is_some() {
            return Err(NeutronError::new(
                StatusCode::BAD_REQUEST,
                "SecurityGroupMultipleRemoteEntites",
                "Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may be provided.",
            ));
        }
        let description = get_str(body, "description", 255)?.unwrap_or_default();
        let group = self.security_group(actor, &group_id)?;
        ensure_owner(actor, &group.meta.project_id, "create_security_group_rule")?;
        let project = if body.contains_key("project_id") || body.contains_key("tenant_id") {
            owner(actor, body)?
        } else {
            group.meta.project_id.clone()
        };
        if let Some(remote) = &remote_group_id {
            self.security_group(actor, remote)?;
        }
        let same_protocol = |a: &Option<String>, b: &Option<String>| match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => protocol_number(a) == protocol_number(b),
            _ => false,
        };
        if let Some(existing) = self.rules.values().find(|r| {
            r.security_group_id == group_id
                && r.direction == direction
                && r.ethertype == ethertype
                && same_protocol(&r.protocol, &protocol)
                && r.port_range_min == port_range_min
                && r.port_range_max == port_range_max
                && r.remote_ip_prefix == remote_ip_prefix
                && r.remote_group_id == remote_group_id
        }) {
            return Err(NeutronError::conflict(
                "SecurityGroupRuleExists",
                format!(
                    "Security group rule already exists. Rule id is {}.",
                    existing.meta.id
                ),
            ));
        }
        self.check_quota(&project, "security_group_rule", 1)?;
        let rule = SecurityGroupRule {
            meta: Meta::new(&project, String::new(), description, Vec::new()),
            security_group_id: group_id.clone(),
            direction,
            ethertype,
            protocol,
            port_range_min,
            port_range_max,
            remote_ip_prefix,
            remote_group_id,
            automatic: false,
        };
        let id = rule.meta.id.clone();
        self.rules.insert(id.clone(), rule);
        if let Some(group) = self.security_groups.get_mut(&group_id) {
            group.meta.touch();
        }
        Ok(id)
    }

    /// Neutron's native bulk create (`POST /v2.0/security-group-rules` with
    /// `{"security_group_rules": [...]}`): every rule validated as a single create validates
    /// it, all in one group, none twice in the request, and all of them created or none (real
    /// Neutron runs them in one DB transaction). Where a request has several faults, real
    /// Neutron reports the validation ones first; this reports the first rule's first fault.
    pub fn create_security_group_rules(
        &mut self,
        actor: &Actor,
        bodies: &[Map<String, Value>],
    ) -> NResult<Vec<String>> {
        // A rule without a group is left to the single create's check, which names the field.
        let mut groups = bodies.iter().filter_map(|b| b.get("security_group_id"));
        let first_group = groups.next();
        if groups.any(|g| Some(g) != first_group) {
            return Err(NeutronError::new(
                StatusCode::BAD_REQUEST,
                "SecurityGroupNotSingleGroupRules",
                "Only allowed to update rules for one security profile at a time",
            ));
        }
        // Kept to be put back on failure: each rule's create touches the group.
        let group_before = first_group
            .and_then(Value::as_str)
            .and_then(|id| self.security_groups.get(id))
            .cloned();
        let mut created: Vec<String> = Vec::with_capacity(bodies.len());
        for body in bodies {
            match self.create_security_group_rule(actor, body) {
                Ok(id) => created.push(id),
                Err(error) => {
                    for id in &created {
                        self.rules.remove(id);
                    }
                    if let Some(group) = group_before {
                        self.security_groups.insert(group.meta.id.clone(), group);
                    }
                    // A rule equal to one made earlier in this request: Neutron checks the
                    // request against itself before the stored rules, with its own error.
                    let repeats_this_request = error.kind == "SecurityGroupRuleExists"
                        && created.iter().any(|id| error.message.contains(id.as_str()));
                    return Err(if repeats_this_request {
                        NeutronError::conflict(
                            "DuplicateSecurityGroupRuleInPost",
                            "Duplicate Security Group Rule in POST.",
                        )
                    } else {
                        error
                    });
                }
            }
        }
        Ok(created)
    }

    pub fn delete_security_group_rule(&mut self, actor: &Actor, id: &str) -> NResult<()> {
        let rule = self.security_group_rule(actor, id)?;
        ensure_owner(actor, &rule.meta.project_id, "delete_security_group_rule")?;
        let group_id = rule.security_group_id.clone();
        self.rules.remove(id);
        if let Some(group) = self.security_groups.get_mut(&group_id) {
            group.meta.touch();
        }
        Ok(())
    }
}
