//! RBAC policies: what they let a target project see and use, and the 409s real Neutron
//! answers (duplicate, in use, over quota).

use super::*;

/// Keystone-like project ids: Neutron refuses a target that is not a UUID.
const OWNER: &str = "0000000000000000000000000000aaaa";
const GUEST: &str = "0000000000000000000000000000bbbb";
const OTHER: &str = "0000000000000000000000000000cccc";

fn share(data: &mut NetworkData, net: &str, target: &str) -> Result<String, NeutronError> {
    data.create(
        Kind::RbacPolicy,
        &user(OWNER),
        &obj(json!({"object_type": "network", "object_id": net,
                    "action": "access_as_shared", "target_tenant": target})),
    )
}

fn port_on(data: &mut NetworkData, project: &str, net: &str) -> Result<String, NeutronError> {
    data.create(Kind::Port, &user(project), &obj(json!({"network_id": net})))
}

#[test]
fn a_policy_lets_its_target_see_and_use_the_network_and_nothing_more() {
    let mut data = seeded();
    let (net, subnet) = net_with_subnet(&mut data, OWNER, "10.5.0.0/24");
    let hidden = port_on(&mut data, GUEST, &net).expect_err("not shared yet");
    assert_eq!(
        (hidden.status.as_u16(), hidden.kind),
        (404, "NetworkNotFound")
    );

    let policy = share(&mut data, &net, GUEST).expect("shared");
    let shown = data
        .show(Kind::RbacPolicy, &user(OWNER), &policy)
        .expect("own");
    assert_eq!(shown["target_tenant"], json!(GUEST));
    assert_eq!(shown["project_id"], json!(OWNER));
    assert_eq!(
        shown.get("tags"),
        None,
        "policies have no standard attributes"
    );

    // The target sees the network as shared, and its subnet; the owner does not see it shared.
    let as_guest = data
        .show(Kind::Network, &user(GUEST), &net)
        .expect("visible");
    assert_eq!(as_guest["shared"], json!(true));
    let as_owner = data.show(Kind::Network, &user(OWNER), &net).expect("own");
    assert_eq!(as_owner["shared"], json!(false));
    let listed = data.visible(Kind::Network, &user(GUEST), &ListQuery::default());
    assert!(listed.iter().any(|n| n["id"] == json!(net)));
    data.show(Kind::Subnet, &user(GUEST), &subnet)
        .expect("subnet visible");
    // ... but not the policy, and another project sees nothing.
    let err = data
        .show(Kind::RbacPolicy, &user(GUEST), &policy)
        .expect_err("hidden");
    assert_eq!(err.kind, "RbacPolicyNotFound");
    assert!(data.show(Kind::Network, &user(OTHER), &net).is_err());

    // Ports yes, subnets no (create_subnet is admin_or_network_owner).
    port_on(&mut data, GUEST, &net).expect("a port on the shared network");
    let err = data
        .create(
            Kind::Subnet,
            &user(GUEST),
            &obj(json!({"network_id": net, "ip_version": 4, "cidr": "10.6.0.0/24"})),
        )
        .expect_err("no subnet on another's network");
    assert_eq!(
        (err.status.as_u16(), err.message.as_str()),
        (403, "rule:create_subnet is disallowed by policy")
    );
}

#[test]
fn a_policy_in_use_cannot_go_or_move_until_its_target_leaves() {
    let mut data = seeded();
    let (net, _) = net_with_subnet(&mut data, OWNER, "10.5.0.0/24");
    let policy = share(&mut data, &net, GUEST).expect("shared");
    let dup = share(&mut data, &net, GUEST).expect_err("one per target");
    assert_eq!(
        (dup.status.as_u16(), dup.kind),
        (409, "DuplicateRbacPolicy")
    );
    let port = port_on(&mut data, GUEST, &net).expect("port");

    let err = data
        .delete(Kind::RbacPolicy, &user(OWNER), &policy)
        .expect_err("in use");
    assert_eq!((err.status.as_u16(), err.kind), (409, "RbacPolicyInUse"));
    assert!(err.message.starts_with(&format!(
        "RBAC policy on object {net} cannot be removed because other objects depend on it."
    )));
    let moved = data.update(
        Kind::RbacPolicy,
        &user(OWNER),
        &policy,
        &obj(json!({"target_tenant": OTHER})),
    );
    assert_eq!(moved.map_err(|e| e.kind), Err("RbacPolicyInUse"));
    let read_only = check_attributes(
        &obj(json!({"action": "access_as_external"})),
        Kind::RbacPolicy,
        Method::Put,
    )
    .expect_err("read-only");
    assert_eq!(
        read_only.message,
        "Cannot update read-only attribute action"
    );

    data.delete(Kind::Port, &user(GUEST), &port)
        .expect("port gone");
    data.update(
        Kind::RbacPolicy,
        &user(OWNER),
        &policy,
        &obj(json!({"target_tenant": OTHER})),
    )
    .expect("free to move");
    data.delete(Kind::RbacPolicy, &user(OWNER), &policy)
        .expect("free to go");
}

#[test]
fn shared_is_the_wildcard_policy_and_targets_are_checked() {
    let mut data = seeded();
    let (net, _) = net_with_subnet(&mut data, OWNER, "10.5.0.0/24");
    let wildcard = share(&mut data, &net, "*").expect_err("admin only");
    assert_eq!(
        (wildcard.status.as_u16(), wildcard.kind),
        (403, "PolicyNotAuthorized")
    );
    let bad = share(&mut data, &net, "guest").expect_err("not a project id");
    assert_eq!(
        bad.message,
        "Invalid input for operation: 'guest' is not a valid target project ID; expected a UUID or '*'."
    );

    data.update(Kind::Network, &admin(), &net, &obj(json!({"shared": true})))
        .expect("admin shares");
    let policies = data.visible(Kind::RbacPolicy, &user(OWNER), &ListQuery::default());
    assert_eq!(policies.len(), 1, "{policies:?}");
    assert_eq!(policies[0]["target_tenant"], json!("*"));
    assert_eq!(policies[0]["project_id"], json!(OWNER));
    port_on(&mut data, OTHER, &net).expect("everyone may use it");
    let err = data
        .update(
            Kind::Network,
            &admin(),
            &net,
            &obj(json!({"shared": false})),
        )
        .expect_err("another project has a port");
    assert_eq!(err.kind, "InvalidSharedSetting");

    let (other_net, _) = net_with_subnet(&mut data, OWNER, "10.7.0.0/24");
    data.update(
        Kind::Network,
        &admin(),
        &other_net,
        &obj(json!({"shared": true})),
    )
    .expect("shared");
    data.update(
        Kind::Network,
        &admin(),
        &other_net,
        &obj(json!({"shared": false})),
    )
    .expect("unshared");
    let left = data.visible(Kind::RbacPolicy, &admin(), &ListQuery::default());
    assert!(
        left.iter().all(|p| p["object_id"] != json!(other_net)),
        "{left:?}"
    );
}

#[test]
fn policies_count_against_the_owners_quota() {
    let mut data = seeded();
    let (net, _) = net_with_subnet(&mut data, OWNER, "10.5.0.0/24");
    data.quotas
        .insert(OWNER.to_string(), [("rbac_policy".to_string(), 1)].into());
    share(&mut data, &net, GUEST).expect("within quota");
    let err = share(&mut data, &net, OTHER).expect_err("over quota");
    assert_eq!((err.status.as_u16(), err.kind), (409, "OverQuota"));
    assert_eq!(
        err.message,
        "Quota exceeded for resources: ['rbac_policy']."
    );
    data.delete(Kind::Network, &user(OWNER), &net)
        .expect("network goes");
    // Left: the seeded external network's wildcard access_as_external policy, as real
    // Neutron keeps one for every external network.
    let left = data.visible(Kind::RbacPolicy, &admin(), &ListQuery::default());
    let left: Vec<(&Value, &Value)> = left
        .iter()
        .map(|p| (&p["object_id"], &p["action"]))
        .collect();
    assert_eq!(
        left,
        [(&json!(public_id(&data)), &json!("access_as_external"))]
    );
}
