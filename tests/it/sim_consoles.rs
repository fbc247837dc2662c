//! A server's consoles in the embedded Nova, over raw HTTP: remote-consoles (2.6+) for the
//! protocols the cloud enables and Nova's refusals for the others, the os-getVNCConsole action
//! of 2.1 to 2.5, and os-getConsoleOutput with Nova's tail rules; both answer 409 while the
//! server has no host yet.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use stackform::sim::SimConfig;

use crate::sim_common::{Cloud, fast_config, start_with};
use crate::sim_compute::wait_for_status;

async fn post(cloud: &Cloud, path: &str, body: Value, mv: &str) -> (StatusCode, Value) {
    let reply = cloud
        .call_with(
            Method::POST,
            &format!("/compute/v2.1{path}"),
            Some(body),
            &[("OpenStack-API-Version", &format!("compute {mv}"))],
        )
        .await;
    (reply.status, reply.body)
}

fn bad_request(message: &str) -> (StatusCode, Value) {
    (
        StatusCode::BAD_REQUEST,
        json!({"badRequest": {"code": 400, "message": message}}),
    )
}

fn output(text: &str) -> (StatusCode, Value) {
    (StatusCode::OK, json!({ "output": text }))
}

#[tokio::test]
async fn consoles_follow_novas_rules() {
    let cloud = start_with(SimConfig {
        build_delay: Duration::from_millis(1500),
        enabled_consoles: vec!["vnc".into(), "serial".into()],
        ..fast_config()
    })
    .await;
    let image = cloud.cirros_id().await;
    let (status, body) = post(
        &cloud,
        "/servers",
        json!({ "server": {
            "name": "vm", "imageRef": image, "flavorRef": "1", "networks": "none"
        } }),
        "2.79",
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["server"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let consoles = format!("/servers/{id}/remote-consoles");
    let action = format!("/servers/{id}/action");
    let novnc = json!({"remote_console": {"protocol": "vnc", "type": "novnc"}});
    let whole = json!({"os-getConsoleOutput": {}});

    // Building: no host yet.
    let not_ready = (
        StatusCode::CONFLICT,
        json!({"conflictingRequest": {"code": 409, "message": format!("Instance {id} is not ready")}}),
    );
    assert_eq!(
        post(&cloud, &consoles, novnc.clone(), "2.79").await,
        not_ready
    );
    assert_eq!(
        post(&cloud, &action, whole.clone(), "2.79").await,
        not_ready
    );

    let server = wait_for_status(&cloud, &cloud.token, &id, "ACTIVE").await;
    let (status, body) = post(&cloud, &consoles, novnc.clone(), "2.79").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let url = body["remote_console"]["url"].as_str().unwrap_or_default();
    let prefix = cloud.url("/vnc_auto.html?path=%3Ftoken%3D");
    let token = url.strip_prefix(&prefix).unwrap_or_default();
    assert!(uuid::Uuid::parse_str(token).is_ok(), "{body}");
    assert_eq!(
        body,
        json!({"remote_console": {"protocol": "vnc", "type": "novnc", "url": url}})
    );
    let (status, body) = post(
        &cloud,
        &consoles,
        json!({"remote_console": {"protocol": "serial", "type": "serial"}}),
        "2.79",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let host = cloud.url("").trim_start_matches("http://").to_string();
    let url = body["remote_console"]["url"].as_str().unwrap_or_default();
    assert!(url.starts_with(&format!("ws://{host}/?token=")), "{body}");

    for (body, expected) in [
        (
            json!({"remote_console": {"protocol": "spice", "type": "spice-html5"}}),
            bad_request("Unavailable console type spice-html5."),
        ),
        (
            json!({"remote_console": {"protocol": "vnc", "type": "serial"}}),
            bad_request("Invalid console type serial"),
        ),
        (
            json!({"remote_console": {"protocol": "rdp", "type": "rdp-html5"}}),
            bad_request(
                "The server could not comply with the request since it is either malformed \
                 or otherwise incorrect.",
            ),
        ),
        (
            json!({"remote_console": {"protocol": "vnc", "type": "bogus"}}),
            bad_request(
                "Invalid input for field/attribute type. Value: bogus. 'bogus' is not one of \
                 ['novnc', 'xvpvnc', 'spice-html5', 'serial', 'rdp-html5', 'webmks']",
            ),
        ),
        (
            json!({"remote_console": {"protocol": "vnc"}}),
            bad_request(
                "Invalid input for field/attribute remote_console. Value: {'protocol': 'vnc'}. \
                 'type' is a required property",
            ),
        ),
        (
            json!({}),
            bad_request("'remote_console' is a required property"),
        ),
    ] {
        assert_eq!(
            post(&cloud, &consoles, body.clone(), "2.79").await,
            expected,
            "{body}"
        );
    }
    let not_found = (
        StatusCode::NOT_FOUND,
        json!({"itemNotFound": {"code": 404, "message": "The resource could not be found."}}),
    );
    assert_eq!(post(&cloud, &consoles, novnc, "2.5").await, not_found);

    // The action remote-consoles replaced.
    let vnc = json!({"os-getVNCConsole": {"type": "novnc"}});
    let (status, body) = post(&cloud, &action, vnc.clone(), "2.1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["console"]["type"], "novnc", "{body}");
    assert!(
        body["console"]["url"]
            .as_str()
            .is_some_and(|u| u.starts_with(&prefix)),
        "{body}"
    );
    assert_eq!(post(&cloud, &action, vnc, "2.79").await, not_found);
    assert_eq!(
        post(
            &cloud,
            &action,
            json!({"os-getSPICEConsole": {"type": "spice-html5"}}),
            "2.1"
        )
        .await,
        bad_request("Unavailable console type spice-html5.")
    );

    // The boot log, tailed as Nova tails it: -1 drops the first line (Python's lines[1:]).
    let instance = server["OS-EXT-SRV-ATTR:instance_name"]
        .as_str()
        .unwrap_or_default();
    let launched = server["OS-SRV-USG:launched_at"]
        .as_str()
        .unwrap_or_default();
    let log = [
        "[    0.000000] Linux version 6.1.0-stackform (stackform-sim) #1 SMP".to_string(),
        format!("[    0.000000] Command line: console=ttyS0 root=/dev/vda1 ({instance})"),
        "[    1.204518] Run /sbin/init as init process".to_string(),
        "cloud-init: hostname set to vm".to_string(),
        format!(
            "cloud-init: boot finished at {}Z",
            launched.get(..19).unwrap_or_default()
        ),
        "vm login: ".to_string(),
    ];
    let length = |n: Value| json!({"os-getConsoleOutput": {"length": n}});
    assert_eq!(
        post(&cloud, &action, whole, "2.79").await,
        output(&log.join("\n"))
    );
    assert_eq!(
        post(&cloud, &action, length(json!(2)), "2.79").await,
        output(&log[4..].join("\n"))
    );
    assert_eq!(
        post(&cloud, &action, length(json!("1")), "2.79").await,
        output(&log[5])
    );
    assert_eq!(
        post(&cloud, &action, length(json!(-1)), "2.79").await,
        output(&log[1..].join("\n"))
    );
    assert_eq!(
        post(&cloud, &action, length(json!(0)), "2.79").await,
        output("")
    );
    assert_eq!(
        post(&cloud, &action, length(json!(-2)), "2.79").await,
        bad_request(
            "Invalid input for field/attribute length. Value: -2. -2 is less than the minimum of -1"
        )
    );
    assert_eq!(
        post(
            &cloud,
            "/servers/0b6c2a4e-9d1f-4c5e-8a7b-3f2e1d0c9b8a/action",
            length(json!(1)),
            "2.79"
        )
        .await,
        (
            StatusCode::NOT_FOUND,
            json!({"itemNotFound": {"code": 404, "message": "Instance 0b6c2a4e-9d1f-4c5e-8a7b-3f2e1d0c9b8a could not be found."}})
        )
    );
}
