//! Unit tests of Nova's data layer, driven without HTTP.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{Value, json};

use super::api::negotiate;
use super::*;
use crate::sim::core::now;

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (key, value) in pairs {
        map.insert(*key, HeaderValue::from_static(value));
    }
    map
}

#[test]
fn microversion_negotiation() {
    assert_eq!(negotiate(&headers(&[])).ok(), Some(Microversion(1)));
    assert_eq!(
        negotiate(&headers(&[("openstack-api-version", "compute 2.37")])).ok(),
        Some(Microversion(37))
    );
    assert_eq!(
        negotiate(&headers(&[("x-openstack-nova-api-version", "latest")])).ok(),
        Some(Microversion(MAX_MINOR))
    );
    assert_eq!(
        negotiate(&headers(&[(
            "openstack-api-version",
            "volume 3.5, compute 2.52"
        )]))
        .ok(),
        Some(Microversion(52))
    );
    assert_eq!(
        negotiate(&headers(&[("openstack-api-version", "compute 2.200")]))
            .err()
            .map(|(f, _)| f.status),
        Some(StatusCode::NOT_ACCEPTABLE)
    );
    assert_eq!(
        negotiate(&headers(&[("openstack-api-version", "compute two")]))
            .err()
            .map(|(f, _)| f.status),
        Some(StatusCode::BAD_REQUEST)
    );
}

#[test]
fn name_filter_behaves_like_a_regex_search() {
    assert!(name_matches("web-1", "web"));
    assert!(name_matches("web-1", "^web"));
    assert!(!name_matches("my-web", "^web"));
    assert!(name_matches("web-1", "-1$"));
    assert!(name_matches("web-1", "^web-1$"));
}

#[test]
fn quota_message_names_every_resource_over_its_limit() {
    let quota = Quota::default();
    let usage = Usage {
        instances: 5,
        cores: 20,
        ram: 10240,
    };
    let flavor = Flavor {
        id: "4".into(),
        name: "m1.large".into(),
        vcpus: 4,
        ram: 8192,
        disk: 80,
    };
    let message = check_quota(&quota, &usage, &flavor)
        .err()
        .map(|f| f.message);
    assert_eq!(
        message.as_deref(),
        Some("Quota exceeded for cores: Requested 4, but already used 20 of 20 cores")
    );
}

#[test]
fn pending_transitions_settle_by_time() {
    let at = now();
    let mut server = Server {
        id: "s".into(),
        name: "n".into(),
        description: None,
        project_id: "p".into(),
        user_id: "u".into(),
        image_id: "i".into(),
        flavor: Flavor {
            id: "1".into(),
            name: "m1.tiny".into(),
            vcpus: 1,
            ram: 512,
            disk: 1,
        },
        key_name: None,
        metadata: BTreeMap::new(),
        tags: Vec::new(),
        security_groups: Vec::new(),
        has_ports: false,
        instance_index: 1,
        vm_state: "building".into(),
        task_state: Some("spawning".into()),
        power_state: POWER_NOSTATE,
        pending: Some(Pending {
            done_at: at + chrono::Duration::seconds(5),
            vm_state: "active".into(),
            power_state: POWER_RUNNING,
            fault: None,
            flavor: None,
        }),
        fault: None,
        actions: Vec::new(),
        old_flavor: None,
        confirm_fails: false,
        boot: Default::default(),
        server_group: None,
        created: at,
        updated: at,
        launched_at: None,
    };
    server.settle(at);
    assert_eq!(server.status(), "BUILD");
    server.settle(at + chrono::Duration::seconds(6));
    assert_eq!(
        (
            server.status(),
            server.task_state.clone(),
            server.power_state
        ),
        ("ACTIVE", None, POWER_RUNNING)
    );
    assert_eq!(server.launched_at, Some(at + chrono::Duration::seconds(5)));
}

/// os-instance-actions views: an event's result and finish time appear once its transition
/// is over; the microversion and the caller's role decide which keys are shown.
#[test]
fn instance_actions_follow_the_clock_and_the_microversion() {
    let at = now();
    let action = Action {
        action: "stop".into(),
        request_id: "req-1".into(),
        user_id: "u".into(),
        project_id: "p".into(),
        start: at,
        event: "compute_stop_instance".into(),
        finish: at + chrono::Duration::seconds(5),
        failed: false,
    };
    let running = action_detail(&action, "s", Microversion(79), false, at);
    assert_eq!(running["message"], Value::Null);
    assert_eq!(running["updated_at"], running["start_time"]);
    let event = &running["events"][0];
    assert_eq!(event["event"], "compute_stop_instance");
    assert_eq!(event["result"], Value::Null);
    assert_eq!(event["finish_time"], Value::Null);
    assert!(event.get("traceback").is_none(), "admins only");
    assert!(event.get("host").is_none(), "admins only");
    assert_eq!(event["hostId"], json!(host_id("p")));

    let later = at + chrono::Duration::seconds(6);
    let done = action_detail(&action, "s", Microversion(84), true, later);
    let event = &done["events"][0];
    assert_eq!(event["result"], "Success");
    assert_eq!(event["finish_time"], json!(action_time(action.finish)));
    assert_eq!(event["traceback"], Value::Null);
    assert_eq!(event["host"], json!(HOST));
    assert_eq!(event["details"], Value::Null);
    assert_eq!(done["updated_at"], json!(action_time(action.finish)));

    let old = action_detail(&action, "s", Microversion(50), false, later);
    assert!(old.get("events").is_none(), "owners see events from 2.51");
    assert!(old.get("updated_at").is_none(), "updated_at from 2.58");

    let failed = Action {
        action: "create".into(),
        event: "conductor_schedule_and_build_instances".into(),
        failed: true,
        ..action
    };
    let view = action_detail(&failed, "s", Microversion(79), true, later);
    assert_eq!(view["message"], "Error");
    assert_eq!(view["events"][0]["result"], "Error");
    let traceback = view["events"][0]["traceback"].as_str().unwrap_or_default();
    assert!(traceback.contains("NoValidHost"), "{traceback}");
}
