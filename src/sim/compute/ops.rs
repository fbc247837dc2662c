//! Nova's rules without HTTP: its faults, body readers (tags, metadata, networks), quota
//! checks, server lookup by caller, and the NIC requests it hands to Neutron.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::sim::core::{Caller, Fault, Service, SimState, World, now, parse_json};
use crate::sim::network::{NicError, ServerNic};
use crate::sim::wire::tags::{TagListError, tag_list, valid_tag};

use super::*;

// ---------------------------------------------------------------------------------------------
// Faults and small helpers

pub(super) fn fault(status: StatusCode, message: impl Into<String>) -> Fault {
    Fault::new(Service::Compute, status, message)
}

pub(super) fn bad_request(message: impl Into<String>) -> Fault {
    fault(StatusCode::BAD_REQUEST, message)
}

pub(super) fn server_not_found(server_id: &str) -> Fault {
    fault(
        StatusCode::NOT_FOUND,
        format!("Instance {server_id} could not be found."),
    )
}

pub(super) fn resource_not_found() -> Fault {
    fault(StatusCode::NOT_FOUND, "The resource could not be found.")
}

pub(super) fn policy_forbids(rule: &str) -> Fault {
    fault(
        StatusCode::FORBIDDEN,
        format!("Policy doesn't allow {rule} to be performed."),
    )
}

/// nova/api/openstack/common.py raise_http_conflict_for_instance_invalid_state.
pub(super) fn invalid_state(action: &str, server: &Server) -> Fault {
    let (attribute, state) = match &server.task_state {
        Some(task) => ("task_state", task.clone()),
        None => ("vm_state", server.vm_state.clone()),
    };
    fault(
        StatusCode::CONFLICT,
        format!(
            "Cannot '{action}' instance {} while it is in {attribute} {state}",
            server.id
        ),
    )
}

pub(super) fn invalid_field(field: &str, value: &Value, reason: &str) -> Fault {
    bad_request(format!(
        "Invalid input for field/attribute {field}. Value: {value}. {reason}"
    ))
}

/// Nova's tag rules: 1 to 60 characters, no '/' and no ','.
pub(super) fn valid_server_tag(tag: &str) -> Result<String, Fault> {
    if !valid_tag(tag, MAX_TAG_LEN) {
        return Err(invalid_field(
            "tags",
            &json!(tag),
            "Tags are 1 to 60 characters long and contain neither '/' nor ','.",
        ));
    }
    Ok(tag.to_string())
}

pub(super) fn tags_from(value: &Value) -> Result<Vec<String>, Fault> {
    tag_list(value, MAX_TAG_LEN, MAX_SERVER_TAGS).map_err(|error| match error {
        TagListError::NotAList => invalid_field("tags", value, "It is not of type 'array'."),
        TagListError::NotAString => invalid_field("tags", value, "Tags are strings."),
        TagListError::Invalid(tag) => invalid_field(
            "tags",
            &json!(tag),
            "Tags are 1 to 60 characters long and contain neither '/' nor ','.",
        ),
        TagListError::TooMany => bad_request(format!(
            "The number of tags exceeded the per-server limit {MAX_SERVER_TAGS}"
        )),
    })
}

pub(super) fn metadata_from(value: &Value, field: &str) -> Result<BTreeMap<String, String>, Fault> {
    let object = value
        .as_object()
        .ok_or_else(|| invalid_field(field, value, "It is not of type 'object'."))?;
    let mut metadata = BTreeMap::new();
    for (key, item) in object {
        if key.is_empty() || key.chars().count() > 255 {
            return Err(invalid_field(
                field,
                value,
                "Metadata keys are 1 to 255 characters long.",
            ));
        }
        let item = item
            .as_str()
            .filter(|s| s.chars().count() <= 255)
            .ok_or_else(|| {
                invalid_field(
                    field,
                    value,
                    "Metadata values are strings of at most 255 characters.",
                )
            })?;
        metadata.insert(key.clone(), item.to_string());
    }
    Ok(metadata)
}

pub(super) fn check_metadata_quota(quota: &Quota, count: usize) -> Result<(), Fault> {
    if quota.metadata_items >= 0 && count as i64 > quota.metadata_items {
        return Err(fault(
            StatusCode::FORBIDDEN,
            // nova/exception.py MetadataLimitExceeded, answered 403 by the servers API.
            format!(
                "Maximum number of metadata items exceeds {}",
                quota.metadata_items
            ),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Server create

/// The NICs a create asks for, resolved to Neutron requests.
pub(super) fn requested_nics(
    world: &World,
    input: &Value,
    mv: Microversion,
    project_id: &str,
) -> Result<Vec<ServerNic>, Fault> {
    let auto = |world: &World| -> Result<Vec<ServerNic>, Fault> {
        let networks = world.network.bootable_networks(project_id);
        match networks.as_slice() {
            [] => Ok(Vec::new()),
            [network_id] => Ok(vec![ServerNic::Network {
                network_id: network_id.clone(),
                fixed_ip: None,
            }]),
            _ => Err(fault(
                StatusCode::CONFLICT,
                "Multiple possible networks found, use a Network ID to be more specific.",
            )),
        }
    };
    match input.get("networks") {
        None if mv.at_least(37) => Err(invalid_field(
            "server",
            input,
            "'networks' is a required property",
        )),
        None => auto(world),
        Some(Value::String(text)) if mv.at_least(37) && text == "none" => Ok(Vec::new()),
        Some(Value::String(text)) if mv.at_least(37) && text == "auto" => {
            let nics = auto(world)?;
            if nics.is_empty() {
                return Err(bad_request(format!(
                    "Unable to automatically allocate a network for project {project_id}"
                )));
            }
            Ok(nics)
        }
        Some(Value::Array(list)) => list
            .iter()
            .map(|item| {
                let text = |key: &str| item.get(key).and_then(Value::as_str).map(str::to_string);
                if let Some(port) = text("port") {
                    Ok(ServerNic::Port(port))
                } else if let Some(network_id) = text("uuid") {
                    if uuid::Uuid::parse_str(&network_id).is_err() {
                        return Err(bad_request(format!(
                            "Bad networks format: network uuid is not in proper format \
                             ({network_id})"
                        )));
                    }
                    Ok(ServerNic::Network {
                        network_id,
                        fixed_ip: text("fixed_ip"),
                    })
                } else {
                    Err(invalid_field(
                        "networks",
                        item,
                        "A network needs 'uuid' or 'port'.",
                    ))
                }
            })
            .collect(),
        Some(other) => Err(invalid_field(
            "networks",
            other,
            "It must be a list, or 'auto' or 'none' (microversion 2.37 and later).",
        )),
    }
}

/// Nova's answers to Neutron's refusals during a create.
pub(super) fn nic_fault(error: NicError) -> Fault {
    match error {
        NicError::PortNotFound(id) => bad_request(format!("Port id {id} could not be found.")),
        NicError::PortInUse(id) => {
            fault(StatusCode::CONFLICT, format!("Port {id} is still in use."))
        }
        NicError::NetworkNotFound(id) => bad_request(format!("Network {id} could not be found.")),
        NicError::NetworkRequiresSubnet(id) => bad_request(format!(
            "Network {id} requires a subnet in order to boot instances on."
        )),
        NicError::SecurityGroupNotFound(name) => {
            bad_request(format!("Security group {name} not found."))
        }
        NicError::NoMoreFixedIps(network) => bad_request(format!(
            "No fixed IP addresses available for network: {network}"
        )),
        NicError::FixedIpInvalid(address) => {
            bad_request(format!("Fixed IP address {address} is invalid."))
        }
        NicError::OverQuota(_) => fault(StatusCode::FORBIDDEN, "Maximum number of ports exceeded"),
    }
}

/// Nova's quota message (nova/exception.py TooManyInstances), for the resources over limit.
pub(super) fn check_quota(quota: &Quota, usage: &Usage, flavor: &Flavor) -> Result<(), Fault> {
    let requested = [
        ("cores", flavor.vcpus),
        ("instances", 1),
        ("ram", flavor.ram),
    ];
    let overs: Vec<(&str, i64)> = requested
        .into_iter()
        .filter(|(key, amount)| {
            let limit = quota.get(key);
            limit >= 0 && usage.get(key) + amount > limit
        })
        .collect();
    if overs.is_empty() {
        return Ok(());
    }
    let join = |values: Vec<String>| values.join(", ");
    let names = join(overs.iter().map(|(k, _)| k.to_string()).collect());
    let requested = join(overs.iter().map(|(_, a)| a.to_string()).collect());
    let used = join(
        overs
            .iter()
            .map(|(k, _)| usage.get(k).to_string())
            .collect(),
    );
    let allowed = join(
        overs
            .iter()
            .map(|(k, _)| quota.get(k).to_string())
            .collect(),
    );
    Err(fault(
        StatusCode::FORBIDDEN,
        format!(
            "Quota exceeded for {names}: Requested {requested}, but already used {used} of \
             {allowed} {names}"
        ),
    ))
}

pub(super) fn admin_password() -> String {
    uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .chars()
        .take(12)
        .collect()
}

pub(super) fn project_of(caller: &Caller) -> Result<String, Fault> {
    caller
        .project_id
        .clone()
        .ok_or_else(|| fault(StatusCode::FORBIDDEN, "A project-scoped token is required."))
}

/// The server if the caller may see it: its own project's, or any for an admin.
pub(super) fn find_server<'a>(
    world: &'a mut World,
    caller: &Caller,
    server_id: &str,
) -> Result<&'a mut Server, Fault> {
    let at = now();
    let server = world
        .compute
        .servers
        .get_mut(server_id)
        .filter(|s| {
            caller.is_admin() || caller.project_id.as_deref() == Some(s.project_id.as_str())
        })
        .ok_or_else(|| server_not_found(server_id))?;
    server.settle(at);
    Ok(server)
}

// ---------------------------------------------------------------------------------------------
// Server tags (2.26+)

/// Tags need 2.26; before it the routes do not exist.
pub(super) fn require_tags_api(mv: Microversion) -> Result<(), Fault> {
    if mv.at_least(26) {
        Ok(())
    } else {
        Err(resource_not_found())
    }
}

/// Nova changes tags only on a server at rest (not building, no task running).
pub(super) fn check_taggable(server: &Server, action: &str) -> Result<(), Fault> {
    let at_rest = matches!(
        server.vm_state.as_str(),
        "active"
            | "paused"
            | "rescued"
            | "resized"
            | "stopped"
            | "suspended"
            | "shelved"
            | "shelved_offloaded"
    );
    if !at_rest {
        // Nova checks only the vm_state here (nova/api/openstack/compute/server_tags.py).
        return Err(fault(
            StatusCode::CONFLICT,
            format!(
                "Cannot '{action}' instance {} while it is in vm_state {}",
                server.id, server.vm_state
            ),
        ));
    }
    Ok(())
}

pub(super) fn tag_not_found(tag: &str, server_id: &str) -> Fault {
    fault(
        StatusCode::NOT_FOUND,
        format!("Tag {tag} is not found on resource {server_id}"),
    )
}

pub(super) fn flavor_not_found(flavor_id: &str) -> Fault {
    fault(
        StatusCode::NOT_FOUND,
        format!("Flavor {flavor_id} could not be found."),
    )
}

// ---------------------------------------------------------------------------------------------
// Quotas and limits

/// A caller may read its own project's quotas; an admin any project's.
pub(super) fn quota_reader(
    state: &SimState,
    headers: &HeaderMap,
    project_id: &str,
    rule: &str,
) -> Result<Caller, Fault> {
    let caller = state.caller(headers, Service::Compute)?;
    if caller.is_admin() || caller.project_id.as_deref() == Some(project_id) {
        Ok(caller)
    } else {
        Err(policy_forbids(rule))
    }
}

/// Removes the servers whose deletion has completed, with their ports.
pub fn reap_deleted_servers(world: &mut World, at: DateTime<Utc>) {
    let mut gone = Vec::new();
    let mut failed = Vec::new();
    world.compute.servers.settle_each(|server| {
        if server.task_state.as_deref() == Some("deleting") {
            server.settle(at);
        }
        if server.vm_state == "deleted" {
            gone.push((server.id.clone(), server.has_ports));
        }
        // A build that failed (no valid host) gives its network back, as Nova's conductor
        // does: the ports it made are deleted, the ports it was given are unbound.
        let build_failing = server.vm_state == "building"
            && server
                .pending
                .as_ref()
                .is_some_and(|p| p.vm_state == "error" && p.done_at <= at);
        if build_failing {
            server.settle(at);
            if server.has_ports {
                server.has_ports = false;
                failed.push(server.id.clone());
            }
        }
    });
    for server_id in failed {
        world.network.detach_server_ports(&server_id);
    }
    for (server_id, has_ports) in gone {
        let boot = world.compute.servers.remove(&server_id).map(|s| s.boot);
        // As Nova does on delete: the server's volumes are detached (and available), and the
        // boot volume it made with delete_on_termination deleted.
        world.block_storage.detach_server(&server_id, at);
        if let Some(boot) = boot.filter(|b| b.delete_on_termination)
            && let Some(volume_id) = &boot.volume_id
        {
            world.block_storage.delete_for_server(volume_id, at);
        }
        if has_ports {
            world.network.detach_server_ports(&server_id);
        }
    }
}

pub(super) fn metadata_body(body: &Bytes) -> Result<BTreeMap<String, String>, Fault> {
    let body = parse_json(Service::Compute, body)?;
    let value = body
        .get("metadata")
        .ok_or_else(|| invalid_field("metadata", &body, "'metadata' is a required property"))?;
    metadata_from(value, "metadata")
}
