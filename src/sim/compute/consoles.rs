//! A server's consoles on the embedded Nova: `POST /servers/{id}/remote-consoles` (2.6+: a URL
//! for the protocols the cloud enables, Nova's "Unavailable console type" for the others; before
//! 2.6 the `os-getVNCConsole`-style actions) and the `os-getConsoleOutput` action (the boot log the server's guest wrote, tailed as Nova
//! tails it). Request checks follow nova/api/openstack/compute/schemas (remote_consoles.py,
//! console_output.py) with the jsonschema messages Nova returns.

use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::sim::core::{Caller, Fault, Service, SimState, World, new_uuid, parse_json};
use crate::sim::wire::json_reply;

use super::*;

/// The protocols of the remote-consoles schema: `rdp` is still listed (and refused by the
/// controller), `mks` from 2.8.
fn protocols(mv: Microversion) -> Vec<&'static str> {
    let mut protocols = vec!["vnc", "spice", "serial", "rdp"];
    if mv.at_least(8) {
        protocols.push("mks");
    }
    protocols
}

/// The console types of the schema: `webmks` from 2.8 (`spice-direct` comes with 2.99, past
/// the embedded cloud's maximum).
fn console_types(mv: Microversion) -> Vec<&'static str> {
    let mut types = vec!["novnc", "xvpvnc", "spice-html5", "serial", "rdp-html5"];
    if mv.at_least(8) {
        types.push("webmks");
    }
    types
}

/// POST /servers/{id}/remote-consoles: `{"remote_console": {"protocol", "type", "url"}}`.
pub(super) async fn create_remote_console(
    State(state): State<SimState>,
    headers: HeaderMap,
    Extension(mv): Extension<Microversion>,
    Path(server_id): Path<String>,
    body: Bytes,
) -> Result<Response, Fault> {
    // The route exists from 2.6; before it the old per-protocol actions stood in.
    if !mv.at_least(6) {
        return Err(resource_not_found());
    }
    let caller = state.caller(&headers, Service::Compute)?;
    let body = parse_json(Service::Compute, &body)?;
    let (protocol, console_type) = remote_console_request(&body, mv)?;
    let mut world = state.world();
    let server = find_server(&mut world, &caller, &server_id)?;
    // Nova's controller refuses the removed RDP console with webob's default explanation.
    if protocol == "rdp" {
        return Err(bad_request(
            "The server could not comply with the request since it is either malformed or \
             otherwise incorrect.",
        ));
    }
    if !server.has_host() {
        return Err(not_ready(&server.id));
    }
    let url = enabled_console_url(&state, &protocol, &console_type)?;
    Ok(json_reply(
        StatusCode::OK,
        json!({ "remote_console": { "protocol": protocol, "type": console_type, "url": url } }),
    ))
}

/// The protocol and type of a remote-consoles body, checked as Nova's schema checks them.
fn remote_console_request(body: &Value, mv: Microversion) -> Result<(String, String), Fault> {
    let object = body
        .as_object()
        .ok_or_else(|| bad_request(format!("{} is not of type 'object'", py_repr(body))))?;
    let console = object
        .get("remote_console")
        .ok_or_else(|| bad_request("'remote_console' is a required property"))?;
    if let Some(extra) = object.keys().find(|k| *k != "remote_console") {
        return Err(bad_request(format!(
            "Additional properties are not allowed ('{extra}' was unexpected)"
        )));
    }
    let fields = console.as_object().ok_or_else(|| {
        invalid_field_py(
            "remote_console",
            console,
            &format!("{} is not of type 'object'", py_repr(console)),
        )
    })?;
    let protocol = enum_field(fields, "protocol", &protocols(mv))?;
    let console_type = enum_field(fields, "type", &console_types(mv))?;
    let (Some(protocol), Some(console_type)) = (protocol, console_type) else {
        let missing = if fields.contains_key("protocol") {
            "type"
        } else {
            "protocol"
        };
        return Err(invalid_field_py(
            "remote_console",
            console,
            &format!("'{missing}' is a required property"),
        ));
    };
    if let Some(extra) = fields
        .keys()
        .find(|k| !matches!(k.as_str(), "protocol" | "type"))
    {
        return Err(invalid_field_py(
            "remote_console",
            console,
            &format!("Additional properties are not allowed ('{extra}' was unexpected)"),
        ));
    }
    Ok((protocol, console_type))
}

/// A string field limited to `allowed`, if present.
fn enum_field(
    fields: &Map<String, Value>,
    name: &str,
    allowed: &[&str],
) -> Result<Option<String>, Fault> {
    let Some(value) = fields.get(name) else {
        return Ok(None);
    };
    let listed = allowed
        .iter()
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(", ");
    match value.as_str() {
        Some(text) if allowed.contains(&text) => Ok(Some(text.to_string())),
        Some(_) => Err(invalid_field_py(
            name,
            value,
            &format!("{} is not one of [{listed}]", py_repr(value)),
        )),
        None => Err(invalid_field_py(
            name,
            value,
            &format!("{} is not of type 'string'", py_repr(value)),
        )),
    }
}

/// Where the console of `protocol` is reached: the proxy's page on the cloud's own address
/// with a fresh token, spelt as Nova's ConsoleAuthToken.access_url spells it (noVNC's token
/// travels inside its `path` parameter). A type the protocol does not serve is Nova's
/// ConsoleTypeInvalid.
fn console_url(base_url: &str, protocol: &str, console_type: &str) -> Result<String, Fault> {
    let token = new_uuid();
    match (protocol, console_type) {
        ("vnc", "novnc") => Ok(format!("{base_url}/vnc_auto.html?path=%3Ftoken%3D{token}")),
        ("spice", "spice-html5") => Ok(format!("{base_url}/spice_auto.html?token={token}")),
        // Nova's serial console takes any type; its proxy speaks websocket.
        ("serial", _) => {
            let host = base_url
                .strip_prefix("http://")
                .or_else(|| base_url.strip_prefix("https://"))
                .unwrap_or(base_url);
            Ok(format!("ws://{host}/?token={token}"))
        }
        _ => Err(bad_request(format!("Invalid console type {console_type}"))),
    }
}

/// nova.exception.InstanceNotReady: the server has no host yet (or never got one).
fn not_ready(server_id: &str) -> Fault {
    fault(
        StatusCode::CONFLICT,
        format!("Instance {server_id} is not ready"),
    )
}

/// The `os-getConsoleOutput` action, and before 2.6 the per-protocol console actions
/// (`os-getVNCConsole`, `os-getSPICEConsole`, `os-getSerialConsole`); None for any other.
pub(super) fn console_action(
    state: &SimState,
    mv: Microversion,
    world: &mut World,
    caller: &Caller,
    server_id: &str,
    action: &str,
    argument: &Value,
) -> Option<Result<Response, Fault>> {
    let (protocol, types): (&str, &[&str]) = match action {
        "os-getConsoleOutput" => {
            return Some(console_output(world, caller, server_id, argument));
        }
        "os-getVNCConsole" => ("vnc", &["novnc", "xvpvnc"]),
        "os-getSPICEConsole" => ("spice", &["spice-html5"]),
        "os-getSerialConsole" => ("serial", &["serial"]),
        _ => return None,
    };
    Some(old_console_action(
        state, mv, world, caller, server_id, action, protocol, types, argument,
    ))
}

/// `{"os-getVNCConsole": {"type": "novnc"}}` and its kin (2.1 to 2.5):
/// `{"console": {"type", "url"}}`. From 2.6 remote-consoles replaces them (404).
#[allow(clippy::too_many_arguments)]
fn old_console_action(
    state: &SimState,
    mv: Microversion,
    world: &mut World,
    caller: &Caller,
    server_id: &str,
    action: &str,
    protocol: &str,
    types: &[&str],
    argument: &Value,
) -> Result<Response, Fault> {
    if mv.at_least(6) {
        return Err(resource_not_found());
    }
    let fields = argument.as_object().ok_or_else(|| {
        invalid_field_py(
            action,
            argument,
            &format!("{} is not of type 'object'", py_repr(argument)),
        )
    })?;
    let console_type = enum_field(fields, "type", types)?
        .ok_or_else(|| invalid_field_py(action, argument, "'type' is a required property"))?;
    if let Some(extra) = fields.keys().find(|k| *k != "type") {
        return Err(invalid_field_py(
            action,
            argument,
            &format!("Additional properties are not allowed ('{extra}' was unexpected)"),
        ));
    }
    let server = find_server(world, caller, server_id)?;
    if !server.has_host() {
        return Err(not_ready(&server.id));
    }
    let url = enabled_console_url(state, protocol, &console_type)?;
    Ok(json_reply(
        StatusCode::OK,
        json!({ "console": { "type": console_type, "url": url } }),
    ))
}

/// The console URL if the cloud enables `protocol`, else Nova's ConsoleTypeUnavailable.
fn enabled_console_url(
    state: &SimState,
    protocol: &str,
    console_type: &str,
) -> Result<String, Fault> {
    let enabled = state
        .config()
        .enabled_consoles
        .iter()
        .any(|p| p == protocol);
    if !enabled {
        return Err(bad_request(format!(
            "Unavailable console type {console_type}."
        )));
    }
    console_url(state.base_url(), protocol, console_type)
}

fn console_output(
    world: &mut World,
    caller: &Caller,
    server_id: &str,
    argument: &Value,
) -> Result<Response, Fault> {
    let length = output_length(argument)?;
    let server = find_server(world, caller, server_id)?;
    if !server.has_host() {
        return Err(not_ready(&server.id));
    }
    let output = tail(&boot_log(server), length);
    Ok(json_reply(StatusCode::OK, json!({ "output": output })))
}

/// `length` of an os-getConsoleOutput body: an integer, a string of digits, or null (all).
fn output_length(argument: &Value) -> Result<Option<i64>, Fault> {
    let field = "os-getConsoleOutput";
    let fields = argument.as_object().ok_or_else(|| {
        invalid_field_py(
            field,
            argument,
            &format!("{} is not of type 'object'", py_repr(argument)),
        )
    })?;
    if let Some(extra) = fields.keys().find(|k| *k != "length") {
        return Err(invalid_field_py(
            field,
            argument,
            &format!("Additional properties are not allowed ('{extra}' was unexpected)"),
        ));
    }
    let Some(length) = fields.get("length") else {
        return Ok(None);
    };
    match length {
        Value::Null => Ok(None),
        Value::Number(n) => match n.as_i64() {
            Some(n) if n < -1 => Err(invalid_field_py(
                "length",
                length,
                &format!("{n} is less than the minimum of -1"),
            )),
            Some(n) => Ok(Some(n)),
            None => Err(not_a_length(length)),
        },
        // A string must be digits (the minimum does not apply to strings).
        Value::String(text) => {
            let digits = text.strip_prefix('-').unwrap_or(text);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid_field_py(
                    "length",
                    length,
                    &format!("{} does not match '^-?[0-9]+$'", py_repr(length)),
                ));
            }
            // Nova's int() of a number too long for i64 would still work; here it counts as
            // "everything", which is what so long a tail means.
            Ok(text.parse::<i64>().ok())
        }
        _ => Err(not_a_length(length)),
    }
}

fn not_a_length(length: &Value) -> Fault {
    invalid_field_py(
        "length",
        length,
        &format!(
            "{} is not of type 'integer', 'string', 'null'",
            py_repr(length)
        ),
    )
}

/// Nova's _tail_log: the lines after the last `length` newlines; 0 gives nothing, and a
/// negative length (-1 is allowed) drops that many lines from the start, as Python's
/// `lines[-length:]` does.
fn tail(log: &str, length: Option<i64>) -> String {
    let Some(length) = length else {
        return log.to_string();
    };
    if length == 0 {
        return String::new();
    }
    let lines: Vec<&str> = log.split('\n').collect();
    let count = lines.len() as i64;
    let start = if length > 0 {
        (count - length).max(0)
    } else {
        (-length).min(count)
    };
    lines[start as usize..].join("\n")
}

/// What the server's guest printed on its console while it booted: a few kernel and
/// cloud-init lines that name the server, with no final newline (as Nova's fake driver
/// answers).
fn boot_log(server: &Server) -> String {
    let instance = format!("instance-{:08x}", server.instance_index);
    let booted = server
        .launched_at
        .unwrap_or(server.created)
        .format("%Y-%m-%dT%H:%M:%SZ");
    [
        "[    0.000000] Linux version 6.1.0-stackform (stackform-sim) #1 SMP".to_string(),
        format!("[    0.000000] Command line: console=ttyS0 root=/dev/vda1 ({instance})"),
        "[    1.204518] Run /sbin/init as init process".to_string(),
        format!("cloud-init: hostname set to {}", server.name),
        format!("cloud-init: boot finished at {booted}"),
        format!("{} login: ", server.name),
    ]
    .join("\n")
}

/// Nova's "Invalid input for field/attribute ..." with the value as Python prints it
/// (`str()`: a string bare, a dict as its repr).
fn invalid_field_py(field: &str, value: &Value, reason: &str) -> Fault {
    let shown = match value {
        Value::String(text) => text.clone(),
        other => py_repr(other),
    };
    bad_request(format!(
        "Invalid input for field/attribute {field}. Value: {shown}. {reason}"
    ))
}

/// A JSON value as Python's repr() prints the object json.loads makes of it.
fn py_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(text) => format!("'{text}'"),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(py_repr).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(fields) => format!(
            "{{{}}}",
            fields
                .iter()
                .map(|(k, v)| format!("'{k}': {}", py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tail_keeps_the_last_lines_as_nova_does() {
        let log = "one\ntwo\nthree";
        assert_eq!(tail(log, None), log);
        assert_eq!(tail(log, Some(2)), "two\nthree");
        assert_eq!(tail(log, Some(9)), log);
        assert_eq!(tail(log, Some(0)), "");
        // Python's lines[1:]: Nova's -1 drops the first line.
        assert_eq!(tail(log, Some(-1)), "two\nthree");
    }

    #[test]
    fn lengths_are_checked_with_novas_messages() {
        assert_eq!(output_length(&json!({})).ok(), Some(None));
        assert_eq!(output_length(&json!({"length": "2"})).ok(), Some(Some(2)));
        assert_eq!(output_length(&json!({"length": null})).ok(), Some(None));
        let message = |v: Value| {
            output_length(&v)
                .err()
                .map(|f| f.message)
                .unwrap_or_default()
        };
        assert_eq!(
            message(json!({"length": -2})),
            "Invalid input for field/attribute length. Value: -2. -2 is less than the minimum of -1"
        );
        assert_eq!(
            message(json!({"length": "x"})),
            "Invalid input for field/attribute length. Value: x. 'x' does not match '^-?[0-9]+$'"
        );
        assert_eq!(
            message(json!({"length": 1.5})),
            "Invalid input for field/attribute length. Value: 1.5. 1.5 is not of type 'integer', 'string', 'null'"
        );
        assert_eq!(
            message(json!({"foo": 1})),
            "Invalid input for field/attribute os-getConsoleOutput. Value: {'foo': 1}. Additional properties are not allowed ('foo' was unexpected)"
        );
        assert_eq!(
            message(Value::Null),
            "Invalid input for field/attribute os-getConsoleOutput. Value: None. None is not of type 'object'"
        );
    }
}
