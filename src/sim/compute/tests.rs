//! Unit tests of Nova's data layer, driven without HTTP.

use axum::http::{HeaderMap, HeaderValue, StatusCode};

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
        }),
        fault: None,
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
