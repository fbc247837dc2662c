//! The resource kinds against the embedded cloud: create every kind from a real spec, refresh,
//! and check that what refresh reads equals what the spec asked (the contract that makes a
//! re-plan empty); then in-place updates, adoption after a lost create answer, and deletes.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use stackform::addr::{Address, Kind};
use stackform::openstack::network::{
    NETWORKS, Network, PORTS, Port, SECURITY_GROUPS, SecurityGroup,
};
use stackform::openstack::{AuthConfig, Cloud, Secret};
use stackform::resources::{self, Context, Ids, Observed, QuotaReads};
use stackform::sim::{ADMIN_PASSWORD, ADMIN_PROJECT, ADMIN_USER, Sim, SimConfig, SimHandle};
use stackform::spec::{self, Desired};

const SPEC: &str = r#"
[tenant.demo]
description = "demo tenant"
quotas = { vcpu = 8, instances = 4, network_count = 5 }

[network.web]
tenant = "demo"
mtu = 1400

[subnet.web-v4]
network = "web"
cidr = "10.20.0.0/24"
dns_nameservers = ["9.9.9.9", "1.1.1.1"]

[router.edge]
tenant = "demo"
external_gateway = true
subnets = ["web-v4"]

[security_group.ssh]
tenant = "demo"
rules = [{ protocol = "tcp", port_range = "22", cidr = "0.0.0.0/0" }]

[security_group.http]
tenant = "demo"
description = "web traffic"
rules = [{ protocol = "tcp", port_range = "80-81" }]

[instance.web-1]
tenant = "demo"
flavor = "m1.tiny"
image = "cirros"
subnet = "web-v4"
security_groups = ["ssh"]
"#;

fn load(text: &str) -> Desired {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.toml"), text).unwrap();
    std::fs::write(
        dir.path().join("provider.toml"),
        "[provider]\ncloud = \"env\"\n",
    )
    .unwrap();
    match spec::load_dir(dir.path()) {
        Ok(desired) => desired,
        Err(diags) => panic!("spec should load:\n{diags}"),
    }
}

async fn connect(sim: &SimHandle) -> Context {
    let auth = AuthConfig::new(
        sim.auth_url.clone(),
        ADMIN_USER,
        Secret::new(ADMIN_PASSWORD),
        ADMIN_PROJECT,
    );
    Context {
        cloud: Cloud::connect(auth).await.unwrap(),
        lineage: "0b0e4d1e-7d1c-4d8a-9b7a-3f5f2f0c1a11".into(),
        external_network: Some("public".into()),
        ipv4_external_ip_mapping: Default::default(),
        timeout: Duration::from_secs(30),
        quotas_of: QuotaReads::All,
        listings: Default::default(),
        volume_catalog: None,
        compute_catalog: None,
        reads_storage: true,
        credentials: None,
        images: Default::default(),
    }
}

async fn start() -> (SimHandle, Context) {
    let config = SimConfig {
        build_delay: Duration::from_millis(50),
        action_delay: Duration::from_millis(20),
        ..SimConfig::default()
    };
    let sim = Sim::start_on_loopback(config).await.unwrap();
    let cx = connect(&sim).await;
    (sim, cx)
}

/// Creates every resource of `desired` in dependency order, recording ids.
async fn create_all(cx: &Context, desired: &Desired) -> Ids {
    let mut ids = Ids::new();
    for kind in Kind::ALL {
        for res in desired.of_kind(kind) {
            let id = resources::create(cx, res, &ids)
                .await
                .unwrap_or_else(|e| panic!("create {}: {e}", res.addr));
            ids.insert(res.addr.clone(), id);
        }
    }
    ids
}

/// The observed attributes limited to the keys desired has (the diff's rule), and for
/// quotas to the desired quota keys.
fn comparable(desired: &Desired, observed: &Observed) -> BTreeMap<Address, (Value, Value)> {
    let mut out = BTreeMap::new();
    for (addr, res) in &desired.resources {
        let seen = observed
            .resources
            .get(addr)
            .unwrap_or_else(|| panic!("{addr} was not refreshed"));
        let mut got = serde_json::Map::new();
        for (key, want) in &res.attrs {
            let mut value = seen.attrs.get(key).cloned().unwrap_or(Value::Null);
            if let (Some(want), Some(have)) = (want.as_object(), value.as_object()) {
                value = Value::Object(
                    have.iter()
                        .filter(|(k, _)| want.contains_key(*k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                );
            }
            got.insert(key.clone(), value);
        }
        out.insert(addr.clone(), (json!(res.attrs), Value::Object(got)));
    }
    out
}

fn assert_converged(desired: &Desired, observed: &Observed) {
    for (addr, (want, got)) in comparable(desired, observed) {
        assert_eq!(
            got, want,
            "{addr}: refreshed attributes differ from the spec"
        );
    }
}

#[tokio::test]
async fn every_kind_is_created_refreshed_as_specified_and_deleted() {
    let (sim, cx) = start().await;
    let desired = load(SPEC);
    let ids = create_all(&cx, &desired).await;

    let observed = resources::refresh(&cx, &ids).await.unwrap();
    assert_converged(&desired, &observed);
    let server = &observed.resources[&Address::new(Kind::Instance, "web-1")];
    assert_eq!(server.status.as_deref(), Some("ACTIVE"));
    assert!(
        observed.images.contains_key("cirros"),
        "{:?}",
        observed.images
    );
    assert_eq!(observed.flavors["m1.tiny"].ram_mb, 512);
    // Neutron's two default egress rules are there too, as the spec loader expects.
    let rules = &observed.resources[&Address::new(Kind::SecurityGroup, "ssh")].attrs["rules"];
    assert_eq!(rules.as_array().map(Vec::len), Some(3));
    assert_eq!(
        observed.resources[&Address::new(Kind::Instance, "web-1")].attrs["security_groups"],
        json!(["ssh"])
    );

    // Refresh matches by tag alone when the state lost every id.
    let by_tag = resources::refresh(&cx, &Ids::new()).await.unwrap();
    let found: BTreeMap<Address, String> = by_tag
        .resources
        .iter()
        .map(|(a, r)| (a.clone(), r.id.clone()))
        .collect();
    assert_eq!(found, ids);

    // Delete in reverse dependency order; refresh then finds nothing.
    for kind in Kind::ALL.into_iter().rev() {
        for res in desired.of_kind(kind) {
            let current = &observed.resources[&res.addr];
            resources::delete(&cx, current, &ids)
                .await
                .unwrap_or_else(|e| panic!("delete {}: {e}", res.addr));
            // A second delete finds it gone and succeeds.
            resources::delete(&cx, current, &ids).await.unwrap();
        }
    }
    let after = resources::refresh(&cx, &ids).await.unwrap();
    assert_eq!(
        after.resources.keys().collect::<Vec<_>>(),
        Vec::<&Address>::new()
    );
    // The instance's port went with it.
    let ports: Vec<Port> = cx.cloud.admin().network().list(PORTS, &[]).await.unwrap();
    let lineage = format!("stackform-lineage:{}", cx.lineage);
    assert_eq!(
        ports.iter().filter(|p| p.tags.contains(&lineage)).count(),
        0
    );
    sim.stop().await;
}

#[tokio::test]
async fn updates_change_only_what_differs() {
    let (sim, cx) = start().await;
    let desired = load(SPEC);
    let ids = create_all(&cx, &desired).await;
    let before = resources::refresh(&cx, &ids).await.unwrap();

    let changed = load(
        &SPEC
            .replace("mtu = 1400", "mtu = 1300\ndescription = \"public web\"")
            .replace("quotas = { vcpu = 8, instances = 4, network_count = 5 }", "quotas = { vcpu = 6, instances = 4, network_count = 5 }")
            .replace("external_gateway = true\nsubnets = [\"web-v4\"]", "external_gateway = false\nsubnets = []")
            .replace(
                r#"rules = [{ protocol = "tcp", port_range = "22", cidr = "0.0.0.0/0" }]"#,
                r#"rules = [{ protocol = "tcp", port_range = "2222", cidr = "10.0.0.0/8" }]"#,
            )
            .replace(
                "security_groups = [\"ssh\"]",
                "security_groups = [\"http\", \"ssh\"]\npower_state = \"stopped\"\nname = \"web-one\"",
            ),
    );
    let rule_ids = |group: SecurityGroup| -> Vec<(String, String)> {
        let mut ids: Vec<(String, String)> = group
            .security_group_rules
            .into_iter()
            .map(|r| (r.direction, r.id))
            .collect();
        ids.sort();
        ids
    };
    let ssh = Address::new(Kind::SecurityGroup, "ssh");
    let ssh_id = &before.resources[&ssh].id;
    let api = cx.cloud.admin().network();
    let rules_before = rule_ids(api.get(SECURITY_GROUPS, ssh_id).await.unwrap());
    for kind in Kind::ALL {
        for res in changed.of_kind(kind) {
            resources::update(&cx, res, &before.resources[&res.addr], &ids)
                .await
                .unwrap_or_else(|e| panic!("update {}: {e}", res.addr));
        }
    }
    let after = resources::refresh(&cx, &ids).await.unwrap();
    assert_converged(&changed, &after);
    assert_eq!(
        after.resources[&Address::new(Kind::Instance, "web-1")]
            .status
            .as_deref(),
        Some("SHUTOFF")
    );
    assert_eq!(&after.resources[&ssh].id, ssh_id);
    // The two egress rules were kept as they were; only the ingress rule was replaced.
    let rules_after = rule_ids(api.get(SECURITY_GROUPS, ssh_id).await.unwrap());
    let egress = |rules: &[(String, String)]| -> Vec<String> {
        rules
            .iter()
            .filter(|(d, _)| d == "egress")
            .map(|(_, id)| id.clone())
            .collect()
    };
    assert_eq!(egress(&rules_after), egress(&rules_before));
    assert_eq!(egress(&rules_after).len(), 2);
    let ingress_before: Vec<_> = rules_before
        .iter()
        .filter(|(d, _)| d == "ingress")
        .collect();
    let ingress_after: Vec<_> = rules_after.iter().filter(|(d, _)| d == "ingress").collect();
    assert_eq!((ingress_before.len(), ingress_after.len()), (1, 1));
    assert_ne!(ingress_before[0].1, ingress_after[0].1);
    sim.stop().await;
}

/// Makes the cloud carry out the next POST whose path ends with `suffix`, then lose its
/// answer (502, as a failing proxy would).
async fn lose_next_reply(sim: &SimHandle, suffix: &str) {
    inject_fault(
        sim,
        json!({"lose_reply": {"method": "POST", "path_suffix": suffix, "count": 1}}),
    )
    .await;
}

async fn inject_fault(sim: &SimHandle, fault: serde_json::Value) {
    let token = admin_token(sim).await;
    let status = reqwest::Client::new()
        .post(format!("{}/_sim/faults", sim.base_url))
        .header("X-Auth-Token", &token)
        .json(&fault)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 204);
}

/// The cloud holds exactly one network named `web`, `id`, tagged as this lineage's.
async fn one_tagged_web_network(cx: &Context, id: &str) {
    let networks: Vec<Network> = cx
        .cloud
        .admin()
        .network()
        .list(NETWORKS, &[])
        .await
        .unwrap();
    let named: Vec<&Network> = networks.iter().filter(|n| n.name == "web").collect();
    assert_eq!(
        named.len(),
        1,
        "the lost create must not be repeated: {named:?}"
    );
    assert_eq!(named[0].id, id);
    let mut tags = named[0].tags.clone();
    tags.sort();
    assert_eq!(
        tags,
        vec![
            format!("stackform-lineage:{}", cx.lineage),
            "stackform:network.web".to_string()
        ]
    );
}

/// A cloud without Neutron's `tag-creation` extension refuses `tags` in a POST body; the
/// create is made without them, then tagged. A lost answer to that untagged create must still
/// be adopted, not repeated: the new object of that name is found by comparing with the
/// objects of that name before the create.
#[tokio::test]
async fn a_lost_create_on_a_cloud_without_tag_creation_is_adopted_not_duplicated() {
    let (sim, cx) = start().await;
    let desired = load(SPEC);
    let mut ids = Ids::new();
    let tenant = desired.get(&Address::new(Kind::Tenant, "demo")).unwrap();
    ids.insert(
        tenant.addr.clone(),
        resources::create(&cx, tenant, &ids).await.unwrap(),
    );
    let refusal = json!({"fail": {"method": "POST", "path_suffix": "/v2.0/networks", "count": 1,
        "status": 400, "body": {"NeutronError": {"type": "HTTPBadRequest",
            "message": "Unrecognized attribute(s) 'tags'", "detail": ""}}}});
    inject_fault(&sim, refusal).await;
    lose_next_reply(&sim, "/v2.0/networks").await;
    let network = desired.get(&Address::new(Kind::Network, "web")).unwrap();
    let id = resources::create(&cx, network, &ids).await.unwrap();
    one_tagged_web_network(&cx, &id).await;
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_is_adopted_not_duplicated() {
    let (sim, cx) = start().await;
    let desired = load(SPEC);
    let mut ids = Ids::new();
    let tenant = desired.get(&Address::new(Kind::Tenant, "demo")).unwrap();
    lose_next_reply(&sim, "/v3/projects").await;
    ids.insert(
        tenant.addr.clone(),
        resources::create(&cx, tenant, &ids).await.unwrap(),
    );

    let network = desired.get(&Address::new(Kind::Network, "web")).unwrap();
    lose_next_reply(&sim, "/v2.0/networks").await;
    let id = resources::create(&cx, network, &ids).await.unwrap();
    one_tagged_web_network(&cx, &id).await;
    let admin = cx.cloud.admin();
    ids.insert(network.addr.clone(), id);

    for name in ["web-v4"] {
        let res = desired.get(&Address::new(Kind::Subnet, name)).unwrap();
        ids.insert(
            res.addr.clone(),
            resources::create(&cx, res, &ids).await.unwrap(),
        );
    }
    for addr in [
        Address::new(Kind::SecurityGroup, "ssh"),
        Address::new(Kind::SecurityGroup, "http"),
    ] {
        let res = desired.get(&addr).unwrap();
        ids.insert(addr, resources::create(&cx, res, &ids).await.unwrap());
    }
    let instance = desired.get(&Address::new(Kind::Instance, "web-1")).unwrap();
    lose_next_reply(&sim, "/servers").await;
    let server_id = resources::create(&cx, instance, &ids).await.unwrap();
    ids.insert(instance.addr.clone(), server_id.clone());

    let projects = admin.identity().list_projects(&[]).await.unwrap();
    assert_eq!(projects.iter().filter(|p| p.name == "demo").count(), 1);
    let all = [("all_tenants".to_string(), "1".to_string())];
    let servers = admin.compute().list_servers(&all).await.unwrap();
    let ids_of_web: Vec<&str> = servers
        .iter()
        .filter(|s| s.name == "web-1")
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(ids_of_web, vec![server_id.as_str()]);
    let observed = resources::refresh(&cx, &ids).await.unwrap();
    let mut wanted = desired.clone();
    wanted.resources.remove(&Address::new(Kind::Router, "edge"));
    assert_converged(&wanted, &observed);
    sim.stop().await;
}

#[tokio::test]
async fn deleting_a_subnet_first_detaches_it_from_its_router() {
    let (sim, cx) = start().await;
    let desired = load(SPEC);
    let ids = create_all(&cx, &desired).await;
    let observed = resources::refresh(&cx, &ids).await.unwrap();
    let instance = Address::new(Kind::Instance, "web-1");
    resources::delete(&cx, &observed.resources[&instance], &ids)
        .await
        .unwrap();
    let subnet = Address::new(Kind::Subnet, "web-v4");
    resources::delete(&cx, &observed.resources[&subnet], &ids)
        .await
        .unwrap();

    let after = resources::refresh(&cx, &ids).await.unwrap();
    assert!(!after.resources.contains_key(&subnet));
    assert!(!after.resources.contains_key(&instance));
    let router = &after.resources[&Address::new(Kind::Router, "edge")];
    assert_eq!(router.attrs["subnets"], json!([]));
    assert_eq!(router.attrs["external_gateway"], json!(true));
    sim.stop().await;
}

#[tokio::test]
async fn a_gateway_without_an_external_network_is_a_clear_error() {
    let (sim, mut cx) = start().await;
    let desired = load(SPEC);
    let mut ids = Ids::new();
    let tenant = desired.get(&Address::new(Kind::Tenant, "demo")).unwrap();
    ids.insert(
        tenant.addr.clone(),
        resources::create(&cx, tenant, &ids).await.unwrap(),
    );
    let router = desired.get(&Address::new(Kind::Router, "edge")).unwrap();

    let missing = resources::create(&cx, router, &ids).await.err().unwrap();
    assert_eq!(
        missing.to_string(),
        "subnet.web-v4 has no id: it must be created before the resources that name it"
    );

    let mut no_subnets = router.clone();
    no_subnets.attrs.insert("subnets".into(), json!([]));
    cx.external_network = None;
    let error = resources::create(&cx, &no_subnets, &ids)
        .await
        .err()
        .unwrap();
    assert_eq!(
        error.to_string(),
        "router.edge: external_gateway = true needs an external network: set \
         `external_network` in the [provider] table"
    );
    cx.external_network = Some("nowhere".into());
    let error = resources::create(&cx, &no_subnets, &ids)
        .await
        .err()
        .unwrap();
    assert_eq!(
        error.to_string(),
        "router.edge: `nowhere` is not an external network of the cloud (external networks: \
         public)"
    );
    sim.stop().await;
}

/// A raw admin token, for the simulator's fault-injection endpoint.
async fn admin_token(sim: &SimHandle) -> String {
    let body = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": ADMIN_USER, "domain": {"name": "Default"}, "password": ADMIN_PASSWORD}}},
        "scope": {"project": {"name": ADMIN_PROJECT, "domain": {"name": "Default"}}}
    }});
    let response = reqwest::Client::new()
        .post(format!("{}/auth/tokens", sim.auth_url))
        .json(&body)
        .send()
        .await
        .unwrap();
    response
        .headers()
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap()
}

#[tokio::test]
async fn a_server_slower_than_the_timeout_fails_and_is_found_by_the_next_refresh() {
    let config = SimConfig {
        build_delay: Duration::from_secs(30),
        action_delay: Duration::from_millis(20),
        ..SimConfig::default()
    };
    let sim = Sim::start_on_loopback(config).await.unwrap();
    let mut cx = connect(&sim).await;
    let desired = load(SPEC);
    let mut ids = Ids::new();
    for kind in [
        Kind::Tenant,
        Kind::Network,
        Kind::Subnet,
        Kind::SecurityGroup,
    ] {
        for res in desired.of_kind(kind) {
            ids.insert(
                res.addr.clone(),
                resources::create(&cx, res, &ids).await.unwrap(),
            );
        }
    }
    cx.timeout = Duration::from_secs(1);
    let instance = desired.get(&Address::new(Kind::Instance, "web-1")).unwrap();
    let error = resources::create(&cx, instance, &ids)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.starts_with(
            "instance.web-1: timed out after 1s waiting for ACTIVE (last status BUILD"
        ),
        "{error}"
    );
    // The state never got its id, but the server carries its address: refresh adopts it.
    let observed = resources::refresh(&cx, &ids).await.unwrap();
    let server = &observed.resources[&instance.addr];
    assert_eq!(server.status.as_deref(), Some("BUILD"));
    assert_eq!(server.attrs["power_state"], json!("build"));
    assert_eq!(server.attrs["subnet"], json!("web-v4"));
    sim.stop().await;
}

#[tokio::test]
async fn a_port_left_by_a_failed_server_create_is_reused_then_cleaned_up() {
    let (sim, cx) = start().await;
    let desired = load(&SPEC.replace("instances = 4", "instances = 0"));
    let mut ids = Ids::new();
    for kind in [
        Kind::Tenant,
        Kind::Network,
        Kind::Subnet,
        Kind::SecurityGroup,
    ] {
        for res in desired.of_kind(kind) {
            ids.insert(
                res.addr.clone(),
                resources::create(&cx, res, &ids).await.unwrap(),
            );
        }
    }
    let instance = desired.get(&Address::new(Kind::Instance, "web-1")).unwrap();
    let error = resources::create(&cx, instance, &ids)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.starts_with("compute: POST ") && error.contains("→ 403 Forbidden: Quota exceeded"),
        "{error}"
    );
    let admin = cx.cloud.admin();
    let address_tag = "stackform:instance.web-1".to_string();
    let instance_ports = || async {
        let ports: Vec<Port> = admin.network().list(PORTS, &[]).await.unwrap();
        ports
            .into_iter()
            .filter(|p| p.tags.contains(&address_tag))
            .collect::<Vec<_>>()
    };
    let left = instance_ports().await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].device_id, "");

    // With room in the quota, the next attempt boots on that same port.
    let tenant = Address::new(Kind::Tenant, "demo");
    let before = resources::refresh(&cx, &ids).await.unwrap();
    let roomy = load(SPEC);
    resources::update(
        &cx,
        &roomy.resources[&tenant],
        &before.resources[&tenant],
        &ids,
    )
    .await
    .unwrap();
    let server_id = resources::create(&cx, instance, &ids).await.unwrap();
    let used = instance_ports().await;
    assert_eq!(used.len(), 1);
    assert_eq!(
        (used[0].id.as_str(), used[0].device_id.as_str()),
        (left[0].id.as_str(), server_id.as_str())
    );

    // A port left unbound again (server gone, port kept) does not block the subnet's delete.
    admin.compute().delete_server(&server_id).await.unwrap();
    admin
        .compute()
        .wait_deleted(None, &server_id, Duration::from_secs(10))
        .await
        .unwrap();
    let observed = resources::refresh(&cx, &ids).await.unwrap();
    let subnet = Address::new(Kind::Subnet, "web-v4");
    resources::delete(&cx, &observed.resources[&subnet], &ids)
        .await
        .unwrap();
    assert_eq!(instance_ports().await.len(), 0);
    sim.stop().await;
}

#[tokio::test]
async fn tenants_keep_their_own_resources_apart() {
    let (sim, cx) = start().await;
    let desired = load(
        r#"
[tenant.alpha]
[tenant.beta]
[network.alpha-net]
tenant = "alpha"
name = "net"
[network.beta-net]
tenant = "beta"
name = "net"
admin_state_up = false
"#,
    );
    let ids = create_all(&cx, &desired).await;
    let observed = resources::refresh(&cx, &ids).await.unwrap();
    assert_converged(&desired, &observed);
    let alpha = &observed.resources[&Address::new(Kind::Network, "alpha-net")];
    let beta = &observed.resources[&Address::new(Kind::Network, "beta-net")];
    assert_eq!(alpha.attrs["tenant"], json!("alpha"));
    assert_eq!(beta.attrs["tenant"], json!("beta"));
    assert_ne!(alpha.id, beta.id);

    // An id the state remembers but the cloud no longer has is simply absent.
    let mut stale = ids.clone();
    stale.insert(Address::new(Kind::Network, "gone"), "no-such-id".into());
    let again = resources::refresh(&cx, &stale).await.unwrap();
    assert_eq!(
        again
            .resources
            .keys()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec![
            "tenant.alpha",
            "tenant.beta",
            "network.alpha-net",
            "network.beta-net"
        ]
    );
    sim.stop().await;
}

/// A tenant's session is the admin's token rescoped to its project: Keystone checks no
/// password for it (a bcrypt of a few hundred milliseconds on the way to every tenant's first
/// resource), and it is made once per project.
#[tokio::test]
async fn tenant_sessions_rescope_the_admin_token() {
    let (_sim, cx) = start().await;
    let desired = load(SPEC);
    let tenant = desired.get(&Address::new(Kind::Tenant, "demo")).unwrap();
    let id = resources::create(&cx, tenant, &Ids::new()).await.unwrap();
    let (first, second) =
        tokio::join!(cx.cloud.project_session(&id), cx.cloud.project_session(&id));
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.auth_methods(), ["token"]);
    assert_eq!(first.project_id(), id);
    assert_eq!(cx.cloud.admin().auth_methods(), ["password"]);
    assert_eq!(format!("{first:?}"), format!("{second:?}"));
}
