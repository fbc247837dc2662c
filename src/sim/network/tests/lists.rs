//! Quotas, tags and list queries (filters, fields, paging links).

use super::*;

#[test]
fn quotas_limit_creates() {
    let mut data = seeded();
    assert_eq!(data.quota_limit(ALICE, "network"), 100);
    assert_eq!(
        data.update_quota(&user(ALICE), ALICE, &json!({"quota": {"network": 1}}))
            .err(),
        Some(err(
            403,
            "PolicyNotAuthorized",
            "rule:update_quota is disallowed by policy"
        ))
    );
    let set = data
        .update_quota(&admin(), ALICE, &json!({"quota": {"network": 1}}))
        .expect("set");
    assert_eq!(
        Value::Object(set),
        json!({"floatingip": 50, "network": 1, "port": 500, "rbac_policy": 10, "router": 10,
               "router_route": 30, "security_group": 10, "security_group_rule": 100,
               "subnet": 100, "subnetpool": -1})
    );
    data.create_network(&user(ALICE), &obj(json!({})))
        .expect("first");
    let over = data
        .create_network(&user(ALICE), &obj(json!({})))
        .expect_err("over quota");
    assert_eq!(
        over.body(),
        json!({"NeutronError": {"type": "OverQuota",
               "message": "Quota exceeded for resources: ['network'].", "detail": ""}})
    );
    assert_eq!(over.status, axum::http::StatusCode::CONFLICT);
    assert_eq!(
        data.quota_details(ALICE)["network"],
        json!({"used": 1, "limit": 1, "reserved": 0})
    );
    assert_eq!(data.quota_list(&admin()).len(), 1);
    data.reset_quota(&admin(), ALICE).expect("reset");
    assert_eq!(data.quota_limit(ALICE, "network"), 100);
}

#[test]
fn tags_and_tag_filters() {
    let mut data = NetworkData::default();
    let actor = user(ALICE);
    let mut ids = Vec::new();
    for tags in [json!(["a", "b"]), json!(["a"]), json!(["c"]), json!([])] {
        ids.push(
            data.create_network(&actor, &obj(json!({"tags": tags})))
                .expect("network"),
        );
    }
    let names = |data: &NetworkData, query: &[(&str, &str)]| -> Vec<String> {
        let pairs: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let q = ListQuery::parse(&pairs).expect("query");
        let body = q
            .apply(
                Kind::Network,
                data.visible(Kind::Network, &actor, &ListQuery::default()),
                "http://x/networks",
            )
            .expect("listed");
        body["networks"]
            .as_array()
            .expect("list")
            .iter()
            .map(|n| n["id"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let set = |idx: &[usize]| sorted(idx.iter().map(|i| ids[*i].clone()).collect());
    assert_eq!(names(&data, &[("tags", "a,b")]), set(&[0]));
    assert_eq!(names(&data, &[("tags-any", "b,c")]), set(&[0, 2]));
    assert_eq!(names(&data, &[("not-tags", "a,b")]), set(&[1, 2, 3]));
    assert_eq!(names(&data, &[("not-tags-any", "a,c")]), set(&[3]));
    assert_eq!(names(&data, &[("tags", "a"), ("not-tags", "b")]), set(&[1]));
    assert_eq!(
        data.replace_tags(
            Kind::Network,
            &actor,
            &ids[3],
            &["z".into(), "y".into(), "z".into()]
        )
        .err(),
        Some(err(
            400,
            "InvalidInput",
            "Invalid input for operation: Duplicate items in the list: 'z'."
        ))
    );
    let long = "x".repeat(61);
    assert_eq!(
        data.add_tag(Kind::Network, &actor, &ids[3], &long).err(),
        Some(err(
            400,
            "InvalidInput",
            &format!("Invalid input for operation: '{long}' exceeds maximum length of 60.")
        ))
    );
    assert_eq!(
        data.create_network(&actor, &obj(json!({"tags": ["a", "a"]})))
            .err(),
        Some(err(
            400,
            "HTTPBadRequest",
            "Invalid input for tags. Reason: Duplicate items in the list: 'a'."
        ))
    );
    let replaced = data
        .replace_tags(Kind::Network, &actor, &ids[3], &["z".into(), "y".into()])
        .expect("replaced");
    assert_eq!(replaced, vec!["y", "z"]);
    data.add_tag(Kind::Network, &actor, &ids[3], "x")
        .expect("added");
    data.remove_tag(Kind::Network, &actor, &ids[3], "y")
        .expect("removed");
    assert_eq!(
        data.tags(Kind::Network, &actor, &ids[3]).expect("tags"),
        vec!["x", "z"]
    );
    assert_eq!(
        data.remove_tag(Kind::Network, &actor, &ids[3], "nope")
            .err(),
        Some(err(
            404,
            "TagNotFound",
            &format!("Tag nope could not be found for network {}.", ids[3])
        ))
    );
    assert_eq!(data.networks[&ids[3]].meta.revision_number, 4);
    data.clear_tags(Kind::Network, &actor, &ids[3])
        .expect("cleared");
    assert!(
        data.tags(Kind::Network, &actor, &ids[3])
            .expect("tags")
            .is_empty()
    );
}

#[test]
fn paging_links_filters_and_fields() {
    let mut data = NetworkData::default();
    let actor = user(ALICE);
    for i in 0..5 {
        data.create_network(
            &actor,
            &obj(json!({"name": format!("n{i}"), "admin_state_up": i % 2 == 0})),
        )
        .expect("network");
    }
    let mut ids: Vec<String> = data.networks.keys().cloned().collect();
    ids.sort();
    let list = |pairs: &[(&str, &str)]| -> Value {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ListQuery::parse(&pairs)
            .expect("query")
            .apply(
                Kind::Network,
                data.visible(Kind::Network, &actor, &ListQuery::default()),
                "http://h/networking/v2.0/networks",
            )
            .expect("listed")
    };
    let page1 = list(&[("limit", "2")]);
    assert_eq!(
        page1["networks_links"],
        json!([
            {"rel": "next", "href": format!("http://h/networking/v2.0/networks?limit=2&marker={}", ids[1])},
            {"rel": "previous", "href": format!("http://h/networking/v2.0/networks?limit=2&marker={}&page_reverse=True", ids[0])}
        ])
    );
    let page2 = list(&[("limit", "2"), ("marker", &ids[1])]);
    let page2_ids: Vec<&str> = page2["networks"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|n| n["id"].as_str())
        .collect();
    assert_eq!(page2_ids, vec![ids[2].as_str(), ids[3].as_str()]);
    assert_eq!(
        page2["networks_links"],
        json!([
            {"rel": "next", "href": format!("http://h/networking/v2.0/networks?limit=2&marker={}", ids[3])},
            {"rel": "previous", "href": format!("http://h/networking/v2.0/networks?limit=2&marker={}&page_reverse=True", ids[2])}
        ])
    );
    let last = list(&[("limit", "2"), ("marker", &ids[3])]);
    assert_eq!(last["networks"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        last["networks_links"],
        json!([{"rel": "previous", "href": format!("http://h/networking/v2.0/networks?limit=2&marker={}&page_reverse=True", ids[4])}])
    );
    let back = list(&[
        ("limit", "2"),
        ("marker", &ids[2]),
        ("page_reverse", "True"),
    ]);
    let back_ids: Vec<&str> = back["networks"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|n| n["id"].as_str())
        .collect();
    assert_eq!(back_ids, vec![ids[0].as_str(), ids[1].as_str()]);
    assert!(list(&[]).get("networks_links").is_none());
    let filtered = list(&[
        ("admin_state_up", "True"),
        ("fields", "name"),
        ("sort_key", "name"),
        ("sort_dir", "desc"),
    ]);
    assert_eq!(
        filtered["networks"],
        json!([{"name": "n4"}, {"name": "n2"}, {"name": "n0"}])
    );
    assert_eq!(
        ListQuery::parse(&[("colour".into(), "red".into())])
            .expect("query")
            .validate_filters(Kind::Network)
            .err(),
        Some(err(
            400,
            "HTTPBadRequest",
            "colour is invalid attribute for filtering"
        ))
    );
    assert_eq!(
        ListQuery::parse(&[
            ("router:external".into(), "true".into()),
            ("tenant_id".into(), "x".into())
        ])
        .expect("query")
        .validate_filters(Kind::Network),
        Ok(())
    );
    let any_of = list(&[
        ("name", "n1"),
        ("name", "n3"),
        ("fields", "name"),
        ("sort_key", "name"),
    ]);
    assert_eq!(any_of["networks"], json!([{"name": "n1"}, {"name": "n3"}]));
    assert_eq!(
        ListQuery::parse(&[("marker".into(), "nope".into())])
            .expect("query")
            .apply(
                Kind::Network,
                data.visible(Kind::Network, &actor, &ListQuery::default()),
                "http://h"
            )
            .err(),
        Some(err(
            404,
            "NetworkNotFound",
            "Network nope could not be found."
        ))
    );
}

#[test]
fn port_list_filter_by_fixed_ip_subnet() {
    let mut data = seeded();
    let actor = user(ALICE);
    let (net, subnet) = net_with_subnet(&mut data, ALICE, "10.0.0.0/24");
    let port = data
        .create_port(&actor, &obj(json!({"network_id": net})))
        .expect("port");
    let filter = format!("subnet_id={subnet}");
    let q = ListQuery::parse(&[("fixed_ips".into(), filter), ("fields".into(), "id".into())])
        .expect("query");
    let body = q
        .apply(
            Kind::Port,
            data.visible(Kind::Port, &actor, &ListQuery::default()),
            "http://h",
        )
        .expect("listed");
    assert_eq!(body["ports"], json!([{"id": port}]));
}

/// Lists render what they return, not the cloud (issue 8): a project's list looks at that
/// project's records only, through the indexes.
#[test]
fn a_list_renders_only_what_it_may_return() {
    let mut data = seeded();
    let (alice_net, _) = net_with_subnet(&mut data, ALICE, "10.1.0.0/24");
    net_with_subnet(&mut data, BOB, "10.2.0.0/24");
    let tagged = |tags: &[&str]| obj(json!({"name": "g", "tags": tags}));
    for _ in 0..2 {
        data.create_security_group(&user(ALICE), &tagged(&["mine"]))
            .expect("group");
    }
    for index in 0..8 {
        let tags: &[&str] = if index == 0 { &["lineage"] } else { &[] };
        data.create_security_group(&user(BOB), &tagged(tags))
            .expect("group");
        data.create_port(&user(BOB), &obj(json!({"network_id": alice_net})))
            .ok();
    }
    let rendered = |data: &NetworkData, kind: Kind, actor: &Actor, params: &[(&str, &str)]| {
        let pairs: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let query = ListQuery::parse(&pairs).expect("query");
        super::super::render::RENDERED.with(|count| count.set(0));
        let items = data.visible(kind, actor, &query);
        let listed = query.apply(kind, items, "http://h").expect("list")[kind.collection()]
            .as_array()
            .map_or(0, Vec::len);
        (
            listed,
            super::super::render::RENDERED.with(std::cell::Cell::get),
        )
    };
    // Alice's two groups and her default one, among Bob's nine.
    let alice_groups = data.security_groups.of_project(ALICE).count();
    assert_eq!(alice_groups, 3);
    assert_eq!(
        rendered(&data, Kind::SecurityGroup, &user(ALICE), &[]),
        (alice_groups, alice_groups)
    );
    // As admin: a project filter and a tag filter look at what they name only.
    assert_eq!(
        rendered(
            &data,
            Kind::SecurityGroup,
            &admin(),
            &[("project_id", ALICE)]
        ),
        (alice_groups, alice_groups)
    );
    assert_eq!(
        rendered(&data, Kind::SecurityGroup, &admin(), &[("tags", "lineage")]),
        (1, 1)
    );
    // Tags move in the index: one of Alice's groups gains the tag, Bob's loses it.
    let alice_group = data
        .security_groups
        .of_project(ALICE)
        .find(|g| !g.is_default)
        .map(|g| g.meta.id.clone())
        .expect("group");
    let bob_group = data
        .security_groups
        .ids_tagged("lineage")
        .first()
        .cloned()
        .expect("tagged");
    data.add_tag(Kind::SecurityGroup, &admin(), &alice_group, "lineage")
        .expect("tag");
    data.add_tag(Kind::SecurityGroup, &admin(), &alice_group, "other")
        .expect("tag");
    data.clear_tags(Kind::SecurityGroup, &admin(), &bob_group)
        .expect("untag");
    data.reindex_changed();
    let tagged = |data: &NetworkData, params: &[(&str, &str)]| {
        rendered(data, Kind::SecurityGroup, &admin(), params)
    };
    assert_eq!(tagged(&data, &[("tags", "lineage")]), (1, 1));
    assert_eq!(tagged(&data, &[("tags", "lineage,other")]), (1, 1));
    assert_eq!(tagged(&data, &[("tags-any", "other,mine")]), (2, 2));
    assert_eq!(
        tagged(&data, &[("tags", "mine"), ("not-tags", "lineage")]).0,
        1
    );
    // Ports another project made on Alice's network are Alice's to see.
    let (alice_ports, alice_renders) = rendered(&data, Kind::Port, &user(ALICE), &[]);
    assert_eq!(alice_ports, alice_renders);
    assert_eq!(
        rendered(&data, Kind::Port, &user(BOB), &[]),
        (alice_ports, alice_ports)
    );
    // A group's rules are found through the group, not by scanning every rule.
    let alice_rules = data.rules.of_project(ALICE).count();
    assert!(alice_rules < data.rules.len() / 2);
    assert_eq!(
        rendered(&data, Kind::SecurityGroupRule, &user(ALICE), &[]),
        (alice_rules, alice_rules)
    );
}
