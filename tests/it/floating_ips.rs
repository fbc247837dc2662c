//! Floating IPs on both targets: a `floating_ip` associated with one instance, moved to
//! another in place (same id, same address), disassociated and released; the instance
//! shorthand `floating_ip = true` and its drift; an association no router makes possible; a
//! provider `external_network` that is not one. Everything is asserted through the cloud's
//! own API.

use reqwest::Method;
use serde_json::Value;

use crate::scenario::{Scenario, Setup, Target};

struct Fip(Scenario);

impl std::ops::Deref for Fip {
    type Target = Scenario;
    fn deref(&self) -> &Scenario {
        &self.0
    }
}

impl std::ops::DerefMut for Fip {
    fn deref_mut(&mut self) -> &mut Scenario {
        &mut self.0
    }
}

impl Fip {
    /// The embedded Nova keeps servers in BUILD a little, as the real one does.
    async fn start(target: Target) -> Option<Fip> {
        let setup = Setup {
            build_delay_ms: Some(50),
            ..Setup::new("fip", "sf")
        };
        Scenario::start(target, setup).await.map(Fip)
    }

    /// Writes the provider (with `mapping` lines under ipv4_external_ip_mapping) and `body`.
    fn specs(&self, body: &str, mapping: &str) {
        let provider = format!(
            "[provider]\ncloud = \"env\"\nexternal_network = \"{}\"\ntimeout = \"{}\"\n\n\
             [provider.ipv4_external_ip_mapping]\n{mapping}\n",
            self.external_network, self.timeout
        );
        let body = format!(
            "[tenant.demo]\nname = \"{}\"\n\n[network.net]\ntenant = \"demo\"\n\n\
             [subnet.sub]\nnetwork = \"net\"\ncidr = \"192.168.61.0/24\"\n{body}",
            self.tenant
        );
        self.write(&[("provider.toml", &provider), ("demo.toml", &body)]);
    }

    /// The project's floating IPs, through the cloud's API.
    async fn floating_ips(&self, project: &str) -> Vec<Value> {
        self.api
            .list(
                "network",
                &format!("/floatingips?project_id={project}"),
                "floatingips",
            )
            .await
    }

    /// The floating IPs tagged as `addr`'s.
    async fn tagged(&self, project: &str, addr: &str) -> Vec<Value> {
        let tag = format!("stackform:{addr}");
        self.floating_ips(project)
            .await
            .into_iter()
            .filter(|f| {
                f["tags"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|x| x == &tag))
            })
            .collect()
    }

    /// The id of the port of the server named `name` in the project.
    async fn server_port(&self, project: &str, name: &str) -> String {
        let servers = self
            .api
            .list(
                "compute",
                &format!("/servers?all_tenants=1&project_id={project}&name=^{name}$"),
                "servers",
            )
            .await;
        let server = servers
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no server {name}: {servers:?}"));
        let id = server["id"].as_str().unwrap_or_default();
        let ports = self
            .api
            .list("network", &format!("/ports?device_id={id}"), "ports")
            .await;
        assert_eq!(ports.len(), 1, "{ports:?}");
        ports[0]["id"].as_str().unwrap_or_default().to_string()
    }
}

const ROUTER: &str = r#"
[router.edge]
tenant = "demo"
external_gateway = true
subnets = ["sub"]
"#;

fn instances(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| {
            format!(
                "\n[instance.{n}]\ntenant = \"demo\"\nflavor = \"m1.small\"\nimage = \"cirros\"\n\
                 subnet = \"sub\"\n"
            )
        })
        .collect()
}

fn floating_ip(instance: Option<&str>) -> String {
    let association = instance
        .map(|i| format!("instance = \"{i}\"\n"))
        .unwrap_or_default();
    format!("\n[floating_ip.web]\ntenant = \"demo\"\n{association}")
}

async fn moves_in_place(target: Target) {
    let Some(mut s) = Fip::start(target).await else {
        return;
    };
    let vms = instances(&["a", "b"]);
    s.specs(&format!("{ROUTER}{vms}{}", floating_ip(Some("a"))), "");
    s.apply();
    let project = s.project_id().await;
    let fips = s.tagged(&project, "floating_ip.web").await;
    assert_eq!(fips.len(), 1, "{fips:?}");
    let (id, address) = (
        fips[0]["id"].clone(),
        fips[0]["floating_ip_address"].clone(),
    );
    let port_a = s.server_port(&project, "a").await;
    assert_eq!(fips[0]["port_id"], port_a.as_str(), "{fips:?}");
    // The address is in the state from the create's reply, before a refresh reads it.
    let (code, shown, err) = s.run(&["state", "show", "floating_ip.web"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        shown.contains(&format!("address = {address}")),
        "recorded at the create:\n{shown}"
    );

    // Moved to b: one update in place, the same floating IP and address, now on b's port.
    // The mapping names the address's public face, shown in the plan and by `state show`.
    let mapping = format!("{address} = \"203.0.113.7\"");
    s.specs(
        &format!("{ROUTER}{vms}{}", floating_ip(Some("b"))),
        &mapping,
    );
    let (code, out, _) = s.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("floating_ip.web will be updated in place"),
        "{out}"
    );
    assert!(
        out.contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{out}"
    );
    assert!(out.contains(&format!("# address = {address}")), "{out}");
    s.apply();
    let fips = s.tagged(&project, "floating_ip.web").await;
    assert_eq!(fips.len(), 1, "{fips:?}");
    assert_eq!(fips[0]["id"], id);
    assert_eq!(fips[0]["floating_ip_address"], address);
    assert_eq!(
        fips[0]["port_id"],
        s.server_port(&project, "b").await.as_str()
    );
    let (code, shown, err) = s.run(&["state", "show", "floating_ip.web"]);
    assert_eq!(code, 0, "{err}");
    assert!(shown.contains("203.0.113.7"), "{shown}");
    assert!(
        shown.contains(address.as_str().unwrap_or_default()),
        "{shown}"
    );

    // Associated behind stackform's back with a: the next apply puts it back on b.
    s.api
        .send(
            Method::PUT,
            "network",
            &format!("/floatingips/{}", id.as_str().unwrap_or_default()),
            serde_json::json!({"floatingip": {"port_id": port_a}}),
            &[200],
        )
        .await;
    let (code, out, _) = s.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("# public_address = \"203.0.113.7\""), "{out}");
    s.apply();
    let fips = s.tagged(&project, "floating_ip.web").await;
    assert_eq!(
        fips[0]["port_id"],
        s.server_port(&project, "b").await.as_str()
    );

    // No instance: disassociated, still allocated with its address.
    s.specs(&format!("{ROUTER}{vms}{}", floating_ip(None)), "");
    s.apply();
    let fips = s.tagged(&project, "floating_ip.web").await;
    assert_eq!(fips.len(), 1, "{fips:?}");
    assert_eq!(fips[0]["floating_ip_address"], address);
    assert_eq!(fips[0]["port_id"], Value::Null);

    // Out of the spec: released.
    s.specs(&format!("{ROUTER}{vms}"), "");
    s.apply();
    assert!(s.floating_ips(&project).await.is_empty());

    // Back on a, then everything destroyed in one apply: the address goes before the router
    // interface that carries it (the cloud refuses the other order).
    s.specs(&format!("{ROUTER}{vms}{}", floating_ip(Some("a"))), "");
    s.apply();
    s.destroy();
    assert!(s.floating_ips(&project).await.is_empty());
    let (code, out, _) = s.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        code, 2,
        "everything is gone, so all is to create again: {out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_floating_ip_moves_between_instances_in_place_keeping_its_address() {
    moves_in_place(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_a_floating_ip_moves_between_instances_in_place_keeping_its_address() {
    moves_in_place(Target::Real).await;
}

async fn shorthand(target: Target) {
    let Some(mut s) = Fip::start(target).await else {
        return;
    };
    let with_flag = format!("{ROUTER}{}floating_ip = true\n", instances(&["a"]));
    s.specs(&with_flag, "");
    s.apply();
    let project = s.project_id().await;
    let fips = s.tagged(&project, "instance.a").await;
    assert_eq!(fips.len(), 1, "{fips:?}");
    let (id, address) = (
        fips[0]["id"].clone(),
        fips[0]["floating_ip_address"].clone(),
    );
    let port = s.server_port(&project, "a").await;
    assert_eq!(fips[0]["port_id"], port.as_str());

    // Disassociated behind stackform's back: the same address comes back.
    s.api
        .send(
            Method::PUT,
            "network",
            &format!("/floatingips/{}", id.as_str().unwrap_or_default()),
            serde_json::json!({"floatingip": {"port_id": null}}),
            &[200],
        )
        .await;
    let (code, out, _) = s.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("instance.a will be updated in place"), "{out}");
    assert!(
        out.contains(&format!("# floating_ip_address = {address}")),
        "the plan shows the address it keeps: {out}"
    );
    s.apply();
    let fips = s.tagged(&project, "instance.a").await;
    assert_eq!(fips.len(), 1, "{fips:?}");
    assert_eq!(fips[0]["id"], id);
    assert_eq!(fips[0]["port_id"], port.as_str());
    let (_, shown, _) = s.run(&["state", "show", "instance.a"]);
    assert!(
        shown.contains(&format!("floating_ip_address = {address}")),
        "{shown}"
    );

    // The flag removed: released.
    s.specs(&format!("{ROUTER}{}", instances(&["a"])), "");
    s.apply();
    assert!(s.floating_ips(&project).await.is_empty());

    // Set again, then the instance destroyed with everything: released first.
    s.specs(&with_flag, "");
    s.apply();
    assert_eq!(s.tagged(&project, "instance.a").await.len(), 1);
    s.destroy();
    assert!(s.floating_ips(&project).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_instance_shorthand_allocates_associates_and_releases() {
    shorthand(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_the_instance_shorthand_allocates_associates_and_releases() {
    shorthand(Target::Real).await;
}

async fn unreachable(target: Target) {
    let Some(mut s) = Fip::start(target).await else {
        return;
    };
    // No router connects the subnet to the external network.
    s.specs(
        &format!("{}{}", instances(&["a"]), floating_ip(Some("a"))),
        "",
    );
    let (code, out, err) = s.run(&["apply", "--auto-approve"]);
    assert_ne!(code, 0, "{out}");
    let all = format!("{out}\n{err}");
    let lines: Vec<&str> = all
        .lines()
        .filter(|l| l.contains("is not reachable from the external network"))
        .collect();
    assert_eq!(lines.len(), 1, "{out}\n{err}");
    assert!(lines[0].contains("floating_ip.web"), "{}", lines[0]);
    let project = s.project_id().await;
    assert!(s.floating_ips(&project).await.is_empty());
    s.destroy();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_association_fails_with_one_clear_line() {
    unreachable(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_an_unreachable_association_fails_with_one_clear_line() {
    unreachable(Target::Real).await;
}

async fn not_external(target: Target) {
    let Some(mut s) = Fip::start(target).await else {
        return;
    };
    s.external_network = "no-such-external".into();
    s.specs(&floating_ip(None), "");
    let (code, out, err) = s.run(&["plan"]);
    assert_eq!(code, 1, "{out}\n{err}");
    let all = format!("{out}\n{err}");
    assert!(
        all.contains(
            "[provider] external_network `no-such-external` is not an external network of the cloud"
        ),
        "{all}"
    );
    assert!(all.contains("provider.toml:3:20"), "{all}");
    // Nothing was made.
    let projects = s
        .api
        .list(
            "identity",
            &format!("/projects?name={}", s.tenant),
            "projects",
        )
        .await;
    assert!(projects.is_empty(), "{projects:?}");
    s.destroyed = true;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_network_that_is_not_one_is_a_located_error() {
    not_external(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_an_external_network_that_is_not_one_is_a_located_error() {
    not_external(Target::Real).await;
}

/// A floating IP whose POST reply was lost is found (the project's new, untagged address),
/// tagged and kept, never allocated twice; a floating IP the state forgot is adopted by its
/// tags. Embedded only: losing one reply needs the embedded cloud's `/_sim/faults`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_allocation_reply_and_a_lost_state_are_adopted_not_duplicated() {
    let Some(s) = Fip::start(Target::Embedded).await else {
        return;
    };
    s.specs(&format!("{ROUTER}{}", floating_ip(None)), "");
    let (status, body) = s
        .api
        .request(
            Method::POST,
            "identity",
            "/../../_sim/faults",
            Some(serde_json::json!({"lose_reply": {"method": "POST",
                "path_suffix": "/v2.0/floatingips", "count": 1}})),
        )
        .await;
    assert!(status < 300, "fault injection: {status} {body}");
    let (code, out, err) = s.run(&["apply", "--auto-approve"]);
    if code != 0 {
        let (code, out, err) = s.run(&["apply", "--auto-approve"]);
        assert_eq!(code, 0, "second apply:\n{out}\n{err}");
    } else {
        assert!(out.contains("Apply complete!"), "{out}\n{err}");
    }
    let project = s.project_id().await;
    let all = s.floating_ips(&project).await;
    assert_eq!(all.len(), 1, "one address after a lost reply: {all:?}");
    assert_eq!(
        s.tagged(&project, "floating_ip.web").await.len(),
        1,
        "{all:?}"
    );
    let (code, out, _) = s.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");

    // The state lost: recovered from the ownership tags, the floating IP among them.
    std::fs::remove_dir_all(s.dir.path().join("state")).unwrap();
    let tagged = s.tagged(&project, "floating_ip.web").await;
    let lineage = tagged[0]["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find_map(|t| t.strip_prefix("stackform-lineage:"))
        .unwrap_or_default()
        .to_string();
    let (code, out, err) = s.run(&["state", "recover", "--lineage", &lineage]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (_, state, _) = s.run(&["state", "list"]);
    let id = all[0]["id"].as_str().unwrap_or_default();
    assert!(state.contains(&format!("floating_ip.web\t{id}")), "{state}");
    // The tenant user's password went with the state: one apply adopts the user with a new one.
    let out = s.apply();
    assert!(out.contains("0 added, 1 changed, 0 destroyed"), "{out}");
    let (code, out, _) = s.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");
}

/// `address` picks the floating address; changing it allocates another one in its place.
/// Embedded only: the real cloud's external network is shared, so a fixed address could be
/// another test's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chosen_address_is_allocated_and_changing_it_replaces_the_floating_ip() {
    let Some(s) = Fip::start(Target::Embedded).await else {
        return;
    };
    let with_address = |a: &str| format!("{ROUTER}{}address = \"{a}\"\n", floating_ip(None));
    s.specs(&with_address("172.24.4.77"), "");
    s.apply();
    let project = s.project_id().await;
    let fips = s.floating_ips(&project).await;
    assert_eq!(fips.len(), 1, "{fips:?}");
    assert_eq!(fips[0]["floating_ip_address"], "172.24.4.77");
    s.specs(&with_address("172.24.4.78"), "");
    let (code, out, _) = s.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("floating_ip.web must be replaced"), "{out}");
    s.apply();
    let fips = s.floating_ips(&project).await;
    let addresses: Vec<&Value> = fips.iter().map(|f| &f["floating_ip_address"]).collect();
    assert_eq!(addresses, ["172.24.4.78"], "{fips:?}");
}

/// A floating IP on a port of the spec (a VIP with no instance), then moved to an instance in
/// place, keeping its address; destroy in an order the cloud accepts.
async fn on_a_port(target: Target) {
    let Some(mut s) = Fip::start(target).await else {
        return;
    };
    let vip = "\n[port.vip]\nnetwork = \"net\"\nfixed_ips = [ { subnet = \"sub\", ip_address = \"192.168.61.50\" } ]\n";
    let vms = instances(&["a"]);
    let on_port = "\n[floating_ip.web]\ntenant = \"demo\"\nport = \"vip\"\n";
    s.specs(&format!("{ROUTER}{vip}{vms}{on_port}"), "");
    s.apply();
    let project = s.project_id().await;
    let ports = s
        .api
        .list("network", &format!("/ports?project_id={project}"), "ports")
        .await;
    let vip_port = ports
        .iter()
        .find(|p| p["name"] == "vip")
        .unwrap_or_else(|| panic!("no port vip: {ports:?}"));
    let fips = s.tagged(&project, "floating_ip.web").await;
    assert_eq!(fips.len(), 1, "{fips:?}");
    assert_eq!(fips[0]["port_id"], vip_port["id"], "{fips:?}");
    assert_eq!(fips[0]["fixed_ip_address"], "192.168.61.50", "{fips:?}");
    let (id, address) = (
        fips[0]["id"].clone(),
        fips[0]["floating_ip_address"].clone(),
    );
    let (code, out, err) = s.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "converged:\n{out}\n{err}");

    // From the port to the instance: in place, the same address.
    s.specs(&format!("{ROUTER}{vip}{vms}{}", floating_ip(Some("a"))), "");
    let (code, out, _) = s.run(&["plan"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("floating_ip.web will be updated in place"),
        "{out}"
    );
    s.apply();
    let fips = s.tagged(&project, "floating_ip.web").await;
    assert_eq!(fips[0]["id"], id);
    assert_eq!(fips[0]["floating_ip_address"], address);
    assert_eq!(
        fips[0]["port_id"],
        s.server_port(&project, "a").await.as_str()
    );
    let (code, out, err) = s.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "converged:\n{out}\n{err}");

    // Both at once is refused in plan, located.
    let both = "\n[floating_ip.web]\ntenant = \"demo\"\ninstance = \"a\"\nport = \"vip\"\n";
    s.specs(&format!("{ROUTER}{vip}{vms}{both}"), "");
    let (code, _, err) = s.run(&["plan"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(
            "floating_ip.web: a floating IP is associated with one instance or one port, not both"
        ),
        "{err}"
    );
    assert!(err.contains("demo.toml:"), "{err}");

    s.specs(&format!("{ROUTER}{vip}{vms}{on_port}"), "");
    s.apply();
    s.destroy();
    assert!(s.floating_ips(&project).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_floating_ip_on_a_port_of_the_spec_moves_to_an_instance_in_place() {
    on_a_port(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_a_floating_ip_on_a_port_of_the_spec_moves_to_an_instance_in_place() {
    on_a_port(Target::Real).await;
}
