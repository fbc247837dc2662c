//! A server's consoles on an ACTIVE `{server}`: remote-consoles for novnc and spice (the real
//! cloud runs no console proxy, `[vnc] enabled = false`, and the embedded cloud is started
//! with none enabled to match: both refuse with "Unavailable console type"), a type outside
//! Nova's schema, the route before 2.6, the os-getVNCConsole action it replaced (2.1 to 2.5),
//! and os-getConsoleOutput whole, tailed and with a length Nova's schema refuses.

use serde_json::json;

use super::recorder::{Recorder, Svc};
use super::script::post;

pub(super) async fn consoles(rec: &mut Recorder) {
    use Svc::Compute as C;
    let consoles = "/v2.1/servers/{server}/remote-consoles";
    rec.call(post(
        "nova.server.remote_console.novnc",
        C,
        consoles,
        json!({"remote_console": {"protocol": "vnc", "type": "novnc"}}),
    ))
    .await;
    rec.call(post(
        "nova.server.remote_console.spice_unavailable",
        C,
        consoles,
        json!({"remote_console": {"protocol": "spice", "type": "spice-html5"}}),
    ))
    .await;
    rec.call(post(
        "nova.server.remote_console.unknown_type",
        C,
        consoles,
        json!({"remote_console": {"protocol": "vnc", "type": "bogus"}}),
    ))
    .await;
    rec.call(post(
        "nova.server.remote_console.no_type",
        C,
        consoles,
        json!({"remote_console": {"protocol": "vnc"}}),
    ))
    .await;
    rec.call(
        post(
            "nova.server.remote_console.before_2_6",
            C,
            consoles,
            json!({"remote_console": {"protocol": "vnc", "type": "novnc"}}),
        )
        .header("OpenStack-API-Version", "compute 2.5"),
    )
    .await;
    rec.call(post(
        "nova.server.remote_console.no_such_server",
        C,
        "/v2.1/servers/0b6c2a4e-9d1f-4c5e-8a7b-3f2e1d0c9b8a/remote-consoles",
        json!({"remote_console": {"protocol": "vnc", "type": "novnc"}}),
    ))
    .await;
    let action = "/v2.1/servers/{server}/action";
    rec.call(
        post(
            "nova.server.get_vnc_console.v2_1",
            C,
            action,
            json!({"os-getVNCConsole": {"type": "novnc"}}),
        )
        .header("OpenStack-API-Version", "compute 2.1"),
    )
    .await;
    rec.call(post(
        "nova.server.get_vnc_console.after_2_5",
        C,
        action,
        json!({"os-getVNCConsole": {"type": "novnc"}}),
    ))
    .await;
    rec.call(post(
        "nova.server.console_output",
        C,
        action,
        json!({"os-getConsoleOutput": {}}),
    ))
    .await;
    rec.call(post(
        "nova.server.console_output.length",
        C,
        action,
        json!({"os-getConsoleOutput": {"length": 2}}),
    ))
    .await;
    rec.call(post(
        "nova.server.console_output.length_string",
        C,
        action,
        json!({"os-getConsoleOutput": {"length": "1"}}),
    ))
    .await;
    rec.call(post(
        "nova.server.console_output.length_below_minimum",
        C,
        action,
        json!({"os-getConsoleOutput": {"length": -2}}),
    ))
    .await;
    rec.call(post(
        "nova.server.console_output.unknown_field",
        C,
        action,
        json!({"os-getConsoleOutput": {"lines": 2}}),
    ))
    .await;
}
