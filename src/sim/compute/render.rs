//! Nova's wire format: version documents, server, flavor and quota views, timestamps.

use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::sim::core::{Caller, World};
use crate::sim::wire::{json_reply, versions};

use super::*;

/// Nova's timestamps: seconds and a Z.
pub(super) fn nova_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Nova's launched_at: microseconds, no zone.
pub(super) fn nova_usage_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// The deprecated v2.0 API Nova still lists beside v2.1.
pub(super) fn legacy_version_value(base: &str) -> Value {
    let mut entry = versions::entry("v2.0", "DEPRECATED", &format!("{base}/compute/v2/"));
    entry["version"] = json!("");
    entry["min_version"] = json!("");
    entry["updated"] = json!("2025-07-04T12:00:00Z");
    entry
}

pub(super) fn version_value(base: &str) -> Value {
    let mut entry = versions::entry("v2.1", "CURRENT", &format!("{base}/compute/v2.1/"));
    entry["version"] = json!(format!("2.{MAX_MINOR}"));
    entry["min_version"] = json!(format!("2.{MIN_MINOR}"));
    entry["updated"] = json!("2013-07-23T11:33:21Z");
    entry
}

// ---------------------------------------------------------------------------------------------
// Server views

pub(super) fn server_links(base: &str, id: &str) -> Value {
    json!([
        { "href": format!("{base}/compute/v2.1/servers/{id}"), "rel": "self" },
        { "href": format!("{base}/compute/servers/{id}"), "rel": "bookmark" },
    ])
}

pub(super) fn server_summary(server: &Server, base: &str) -> Value {
    json!({ "id": server.id, "name": server.name, "links": server_links(base, &server.id) })
}

pub(super) fn server_detail(
    world: &World,
    server: &Server,
    base: &str,
    mv: Microversion,
    caller: &Caller,
) -> Value {
    let (addresses, security_groups) = if server.has_ports {
        let groups: Vec<Value> = world
            .network
            .server_security_groups(&server.id)
            .into_iter()
            .map(|name| json!({ "name": name }))
            .collect();
        (world.network.server_addresses(&server.id), groups)
    } else {
        (json!({}), Vec::new())
    };
    let flavor = if mv.at_least(47) {
        json!({
            "vcpus": server.flavor.vcpus,
            "ram": server.flavor.ram,
            "disk": server.flavor.disk,
            "ephemeral": 0,
            "swap": 0,
            "original_name": server.flavor.name,
            "extra_specs": {},
        })
    } else {
        json!({
            "id": server.flavor.id,
            "links": [{ "href": format!("{base}/compute/flavors/{}", server.flavor.id), "rel": "bookmark" }],
        })
    };
    // A server the scheduler found no host for never had one (nor a root device).
    let scheduled = server.vm_state != "building"
        && !(server.vm_state == "error" && server.fault.as_deref() == Some(NO_VALID_HOST));
    let mut body = json!({
        "id": server.id,
        "name": server.name,
        "status": server.status(),
        "tenant_id": server.project_id,
        "user_id": server.user_id,
        "metadata": server.metadata,
        "hostId": if scheduled { host_id(&server.project_id) } else { String::new() },
        "image": if server.boot.volume_id.is_some() {
            json!("")
        } else {
            json!({
                "id": server.image_id,
                "links": [{ "href": format!("{base}/compute/images/{}", server.image_id), "rel": "bookmark" }],
            })
        },
        "flavor": flavor,
        "created": nova_time(server.created),
        "updated": nova_time(server.updated),
        "addresses": addresses,
        "accessIPv4": "",
        "accessIPv6": "",
        "links": server_links(base, &server.id),
        "key_name": server.key_name,
        "config_drive": if server.boot.config_drive { "True" } else { "" },
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": AVAILABILITY_ZONE,
        "OS-EXT-STS:power_state": server.power_state,
        "OS-EXT-STS:task_state": server.task_state,
        "OS-EXT-STS:vm_state": server.vm_state,
        "OS-SRV-USG:launched_at": server.launched_at.map(nova_usage_time),
        "OS-SRV-USG:terminated_at": null,
        "os-extended-volumes:volumes_attached": volumes_attached(world, server, mv),
    });
    let extra = |body: &mut Value, key: &str, value: Value| {
        if let Value::Object(map) = body {
            map.insert(key.to_string(), value);
        }
    };
    // A server without ports (`networks: "none"`) has no security groups to show, and Nova
    // leaves the key out.
    if server.has_ports {
        extra(&mut body, "security_groups", json!(security_groups));
    }
    // Nova shows progress only in the statuses where it means something.
    if matches!(
        server.status(),
        "ACTIVE" | "BUILD" | "REBUILD" | "RESIZE" | "VERIFY_RESIZE" | "MIGRATING"
    ) {
        extra(&mut body, "progress", json!(0));
    }
    if server.vm_state == "error"
        && let Some(message) = &server.fault
    {
        extra(
            &mut body,
            "fault",
            json!({ "code": 500, "created": nova_time(server.updated), "message": message }),
        );
        // Nova shows an admin the fault's traceback (a 500's details are hidden from others).
        if caller.is_admin()
            && let Some(fault) = body.get_mut("fault")
        {
            fault["details"] = json!(format!(
                "Traceback (most recent call last):\nnova.exception.NoValidHost: {message}\n"
            ));
        }
    }
    if caller.is_admin() {
        let host = if scheduled { json!(HOST) } else { Value::Null };
        extra(&mut body, "OS-EXT-SRV-ATTR:host", host.clone());
        extra(&mut body, "OS-EXT-SRV-ATTR:hypervisor_hostname", host);
        extra(
            &mut body,
            "OS-EXT-SRV-ATTR:instance_name",
            json!(format!("instance-{:08x}", server.instance_index)),
        );
        if mv.at_least(3) {
            extra(
                &mut body,
                "OS-EXT-SRV-ATTR:reservation_id",
                json!(server.reservation_id()),
            );
            extra(&mut body, "OS-EXT-SRV-ATTR:launch_index", json!(0));
            extra(&mut body, "OS-EXT-SRV-ATTR:kernel_id", json!(""));
            extra(&mut body, "OS-EXT-SRV-ATTR:ramdisk_id", json!(""));
            let root = match (scheduled, server.boot.volume_id.is_some()) {
                (false, _) => Value::Null,
                (true, true) => json!(super::boot::BOOT_DEVICE),
                (true, false) => json!("/dev/vda"),
            };
            extra(&mut body, "OS-EXT-SRV-ATTR:root_device_name", root);
            extra(
                &mut body,
                "OS-EXT-SRV-ATTR:user_data",
                json!(server.boot.user_data),
            );
        }
        if mv.at_least(16) {
            let host_status = if scheduled { json!("UP") } else { json!("") };
            extra(&mut body, "host_status", host_status);
        }
    }
    if mv.at_least(9) {
        extra(&mut body, "locked", json!(false));
    }
    if mv.at_least(19) {
        extra(&mut body, "description", json!(server.description));
    }
    if mv.at_least(26) {
        extra(&mut body, "tags", json!(server.tags));
    }
    if mv.at_least(63) {
        extra(&mut body, "trusted_image_certificates", Value::Null);
    }
    if mv.at_least(71) {
        extra(
            &mut body,
            "server_groups",
            json!(server.server_group.iter().collect::<Vec<_>>()),
        );
    }
    if mv.at_least(73) {
        extra(&mut body, "locked_reason", Value::Null);
    }
    if mv.at_least(90) || (caller.is_admin() && mv.at_least(3)) {
        extra(&mut body, "OS-EXT-SRV-ATTR:hostname", json!(server.name));
    }
    if mv.at_least(96) {
        extra(&mut body, "pinned_availability_zone", Value::Null);
    }
    body
}

// ---------------------------------------------------------------------------------------------
// Flavors

pub(super) fn flavor_links(base: &str, id: &str) -> Value {
    json!([
        { "href": format!("{base}/compute/v2.1/flavors/{id}"), "rel": "self" },
        { "href": format!("{base}/compute/flavors/{id}"), "rel": "bookmark" },
    ])
}

pub(super) fn flavor_body(flavor: &Flavor, base: &str, mv: Microversion, detail: bool) -> Value {
    let mut body = Map::new();
    body.insert("id".into(), json!(flavor.id));
    body.insert("name".into(), json!(flavor.name));
    body.insert("links".into(), flavor_links(base, &flavor.id));
    if mv.at_least(55) {
        body.insert("description".into(), Value::Null);
    }
    if detail {
        body.insert("vcpus".into(), json!(flavor.vcpus));
        body.insert("ram".into(), json!(flavor.ram));
        body.insert("disk".into(), json!(flavor.disk));
        // Before 2.75 Nova shows an empty swap as "".
        if mv.at_least(75) {
            body.insert("swap".into(), json!(0));
        } else {
            body.insert("swap".into(), json!(""));
        }
        // Nova still shows rxtx_factor at every microversion this cloud speaks.
        body.insert("rxtx_factor".into(), json!(1.0));
        body.insert("OS-FLV-EXT-DATA:ephemeral".into(), json!(0));
        body.insert("OS-FLV-DISABLED:disabled".into(), json!(false));
        body.insert("os-flavor-access:is_public".into(), json!(true));
        if mv.at_least(61) {
            body.insert("extra_specs".into(), json!({}));
        }
    }
    Value::Object(body)
}

/// The quota keys shown at a microversion: 2.36 dropped the network proxies, 2.57 the
/// injected files.
pub(super) fn legacy_quota_fields(mv: Microversion) -> Vec<(&'static str, i64)> {
    let mut fields = Vec::new();
    if !mv.at_least(57) {
        fields.extend([
            ("injected_file_content_bytes", 10240),
            ("injected_file_path_bytes", 255),
            ("injected_files", 5),
        ]);
    }
    if !mv.at_least(36) {
        fields.extend([
            ("fixed_ips", -1),
            ("floating_ips", 10),
            ("security_group_rules", 20),
            ("security_groups", 10),
        ]);
    }
    fields
}

pub(super) fn quota_body(
    quota: &Quota,
    mv: Microversion,
    usage: Option<&Usage>,
    id: Option<&str>,
) -> Value {
    let mut body = Map::new();
    if let Some(id) = id {
        body.insert("id".into(), json!(id));
    }
    for key in QUOTA_KEYS {
        let limit = quota.get(key);
        let value = match usage {
            Some(usage) => json!({ "in_use": usage.get(key), "limit": limit, "reserved": 0 }),
            None => json!(limit),
        };
        body.insert(key.into(), value);
    }
    for (key, limit) in legacy_quota_fields(mv) {
        let value = match usage {
            Some(_) => json!({ "in_use": 0, "limit": limit, "reserved": 0 }),
            None => json!(limit),
        };
        body.insert(key.into(), value);
    }
    json!({ "quota_set": Value::Object(body) })
}

// ---------------------------------------------------------------------------------------------
// Server metadata

pub(super) fn metadata_response(server: &Server) -> Response {
    json_reply(StatusCode::OK, json!({ "metadata": server.metadata }))
}

/// Nova's instance action times: its database keeps whole seconds.
pub(super) fn action_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S.000000").to_string()
}

/// An instance action as os-instance-actions lists it (`updated_at` from 2.58: when its
/// event last changed).
pub(super) fn action_summary(
    action: &Action,
    server_id: &str,
    mv: Microversion,
    at: DateTime<Utc>,
) -> Value {
    let finished = action.finish <= at;
    let mut view = json!({
        "action": action.action,
        "instance_uuid": server_id,
        "request_id": action.request_id,
        "user_id": action.user_id,
        "project_id": action.project_id,
        "start_time": action_time(action.start),
        // Nova marks an action whose event failed with "Error".
        "message": if finished && action.failed { json!("Error") } else { Value::Null },
    });
    if mv.at_least(58) {
        let updated = if finished {
            action.finish
        } else {
            action.start
        };
        view["updated_at"] = json!(action_time(updated));
    }
    view
}

/// An instance action with its event, as GET os-instance-actions/{request_id} shows it:
/// events for admins always and for owners from 2.51, the traceback for admins only, the
/// host for admins from 2.62 and the hashed hostId for all from 2.62, `details` from 2.84.
pub(super) fn action_detail(
    action: &Action,
    server_id: &str,
    mv: Microversion,
    admin: bool,
    at: DateTime<Utc>,
) -> Value {
    let mut view = action_summary(action, server_id, mv, at);
    if !admin && !mv.at_least(51) {
        return view;
    }
    let finished = action.finish <= at;
    let result = match (finished, action.failed) {
        (false, _) => Value::Null,
        (true, false) => json!("Success"),
        (true, true) => json!("Error"),
    };
    let mut event = json!({
        "event": action.event,
        "start_time": action_time(action.start),
        "finish_time": if finished { json!(action_time(action.finish)) } else { Value::Null },
        "result": result,
    });
    if admin {
        // Nova keeps the Python traceback of a failed event; the only failure here is the
        // scheduler's.
        event["traceback"] = if finished && action.failed {
            json!(format!(
                "Traceback (most recent call last):\nnova.exception.NoValidHost: {NO_VALID_HOST}\n"
            ))
        } else {
            Value::Null
        };
        if mv.at_least(62) {
            // The host that ran the event, the conductor's or the compute's: one host here.
            event["host"] = json!(HOST);
        }
    }
    if mv.at_least(62) {
        event["hostId"] = json!(host_id(&action.project_id));
    }
    if mv.at_least(84) && admin {
        event["details"] = Value::Null;
    }
    view["events"] = json!([event]);
    view
}
