//! The standard `openstack` CLI (python-openstackclient) against `stackform sim`: the
//! embedded cloud must speak the wire format well enough for real clients, not just ours.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{SimProcess, openstack_cli};

mod block_storage;
mod compute;
mod consoles;
mod images;

struct Osc<'a> {
    bin: &'a Path,
    sim: &'a SimProcess,
}

impl Osc<'_> {
    fn run(&self, args: &[&str]) -> (bool, String, String) {
        let mut cmd = Command::new(self.bin);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default());
        for (k, v) in &self.sim.env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("openstack runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs a command that must succeed.
    fn ok(&self, args: &[&str]) -> String {
        let (ok, stdout, stderr) = self.run(args);
        assert!(ok, "openstack {} failed:\n{stderr}", args.join(" "));
        stdout
    }

    /// Runs a command with `-f json` that must succeed, parsing its output.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-f", "json"]);
        let out = self.ok(&all);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {out}", args.join(" ")))
    }

    fn names(&self, args: &[&str]) -> Vec<String> {
        let list = self.json(args);
        list.as_array()
            .expect("a JSON list")
            .iter()
            .filter_map(|row| row["Name"].as_str().map(str::to_string))
            .collect()
    }

    /// Waits until `<kind…> show <name>` reports `status` (a volume, a snapshot, a backup).
    fn wait_field(&self, kind: &[&str], name: &str, status: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut args = kind.to_vec();
            args.extend(["show", name]);
            let show = self.json(&args);
            if show["status"] == status {
                return show;
            }
            assert!(
                Instant::now() < deadline,
                "{name} never reached {status}: {show}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn wait_status(&self, server: &str, status: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let show = self.json(&["server", "show", server]);
            if show["status"] == status {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{server} never reached {status}: {show}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[test]
fn openstack_cli_manages_every_resource_of_the_embedded_cloud() {
    let bin = openstack_cli();
    let data = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(data.path());
    assert!(
        sim.auth_url().ends_with("/identity/v3"),
        "{}",
        sim.auth_url()
    );
    let osc = Osc {
        bin: &bin,
        sim: &sim,
    };

    // Identity
    let token = osc.json(&["token", "issue"]);
    assert_eq!(
        token["project_id"].as_str().map(str::len),
        Some(32),
        "{token}"
    );
    let project = osc.json(&[
        "project",
        "create",
        "--description",
        "made by the CLI",
        "osc-demo",
    ]);
    assert_eq!(project["name"], "osc-demo");
    assert_eq!(project["description"], "made by the CLI");
    assert!(
        osc.names(&["project", "list"])
            .contains(&"osc-demo".to_string())
    );
    assert_eq!(
        osc.json(&["project", "show", "osc-demo"])["id"],
        project["id"]
    );

    // Role grants, as a tenant's `users` makes them.
    osc.json(&["user", "create", "--password", "osc-pw", "osc-alice"]);
    osc.ok(&[
        "role",
        "add",
        "--user",
        "osc-alice",
        "--project",
        "osc-demo",
        "member",
    ]);
    let assignments = osc.json(&[
        "role",
        "assignment",
        "list",
        "--project",
        "osc-demo",
        "--names",
    ]);
    assert_eq!(
        assignments,
        json!([{
            "Role": "member",
            "User": "osc-alice@Default",
            "Group": "",
            "Project": "osc-demo@Default",
            "Domain": "",
            "System": "",
            "Inherited": false,
        }]),
        "{assignments}"
    );
    osc.ok(&[
        "role",
        "remove",
        "--user",
        "osc-alice",
        "--project",
        "osc-demo",
        "member",
    ]);
    let after = osc.json(&["role", "assignment", "list", "--project", "osc-demo"]);
    assert_eq!(after, json!([]), "{after}");

    // Catalog content
    let flavors = osc.names(&["flavor", "list"]);
    for f in ["m1.tiny", "m1.small", "m1.medium", "m1.large"] {
        assert!(flavors.contains(&f.to_string()), "{flavors:?}");
    }
    assert_eq!(osc.names(&["image", "list"]), ["cirros"]);
    images::images(&osc);
    compute::flavor_manage(&osc);

    // Network
    let net = osc.json(&["network", "create", "osc-net"]);
    assert_eq!(net["name"], "osc-net");
    let subnet = osc.json(&[
        "subnet",
        "create",
        "osc-subnet",
        "--network",
        "osc-net",
        "--subnet-range",
        "10.9.0.0/24",
    ]);
    assert_eq!(subnet["cidr"], "10.9.0.0/24");
    assert_eq!(subnet["gateway_ip"], "10.9.0.1");
    let router = osc.json(&["router", "create", "osc-router"]);
    osc.ok(&["router", "add", "subnet", "osc-router", "osc-subnet"]);
    osc.ok(&[
        "router",
        "set",
        "--external-gateway",
        "public",
        "osc-router",
    ]);
    let shown = osc.json(&["router", "show", "osc-router"]);
    assert_eq!(shown["id"], router["id"]);
    let public = osc.json(&["network", "show", "public"]);
    assert_eq!(
        shown["external_gateway_info"]["network_id"], public["id"],
        "{shown}"
    );
    let ports = osc.json(&["port", "list", "--router", "osc-router"]);
    assert_eq!(
        ports.as_array().map(Vec::len),
        Some(2),
        "gateway + interface: {ports}"
    );
    osc.ok(&[
        "router",
        "set",
        "--route",
        "destination=192.168.40.0/24,gateway=10.9.0.40",
        "osc-router",
    ]);
    let routed = osc.json(&["router", "show", "osc-router"]);
    assert_eq!(
        routed["routes"],
        json!([{"destination": "192.168.40.0/24", "nexthop": "10.9.0.40"}]),
        "{routed}"
    );
    let (ok, _, stderr) = osc.run(&[
        "router",
        "set",
        "--route",
        "destination=192.168.41.0/24,gateway=10.99.0.1",
        "osc-router",
    ]);
    assert!(
        !ok && stderr.contains("the nexthop is not connected with router"),
        "a nexthop off the router's subnets: {stderr}"
    );
    let (ok, _, stderr) = osc.run(&["router", "remove", "subnet", "osc-router", "osc-subnet"]);
    assert!(
        !ok && stderr.contains("required by one or more routes"),
        "an interface a route needs: {stderr}"
    );
    osc.ok(&[
        "router",
        "unset",
        "--route",
        "destination=192.168.40.0/24,gateway=10.9.0.40",
        "osc-router",
    ]);

    // Network RBAC: osc-net shared with osc-demo, listed, shown, removed.
    let rbac = osc.json(&[
        "network",
        "rbac",
        "create",
        "--type",
        "network",
        "--action",
        "access_as_shared",
        "--target-project",
        "osc-demo",
        "osc-net",
    ]);
    assert_eq!(rbac["object_id"], net["id"], "{rbac}");
    assert_eq!(rbac["target_project_id"], project["id"], "{rbac}");
    assert_eq!(rbac["action"], "access_as_shared", "{rbac}");
    let rbac_id = rbac["id"].as_str().unwrap_or_default().to_string();
    let listed = osc.json(&["network", "rbac", "list", "--long"]);
    assert!(
        listed
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["ID"] == rbac["id"] && p["Action"] == "access_as_shared"),
        "{listed}"
    );
    assert_eq!(
        osc.json(&["network", "rbac", "show", &rbac_id])["object_type"],
        "network"
    );
    let (ok, _, stderr) = osc.run(&[
        "network",
        "rbac",
        "create",
        "--type",
        "network",
        "--action",
        "access_as_shared",
        "--target-project",
        "osc-demo",
        "osc-net",
    ]);
    assert!(
        !ok && stderr.contains("An RBAC policy already exists with those values."),
        "a second identical policy: {stderr}"
    );
    osc.ok(&["network", "rbac", "delete", &rbac_id]);
    // What is left is the external network's wildcard access_as_external policy.
    let left = osc.json(&["network", "rbac", "list", "--long"]);
    let left: Vec<(&Value, &Value)> = left
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| (&p["Action"], &p["Object ID"]))
        .collect();
    assert_eq!(
        left,
        [(&Value::from("access_as_external"), &public["id"])],
        "only public's policy is left"
    );

    // Security groups
    let sg = osc.json(&["security", "group", "create", "osc-sg"]);
    assert_eq!(sg["name"], "osc-sg");
    let rule = osc.json(&[
        "security",
        "group",
        "rule",
        "create",
        "--protocol",
        "tcp",
        "--dst-port",
        "22",
        "osc-sg",
    ]);
    assert_eq!(rule["port_range_min"], 22);
    let (ok, _, stderr) = osc.run(&[
        "security",
        "group",
        "rule",
        "create",
        "--protocol",
        "tcp",
        "--dst-port",
        "22",
        "osc-sg",
    ]);
    assert!(
        !ok && stderr.contains("already exists"),
        "duplicate rule: {stderr}"
    );
    let remote = osc.json(&[
        "security",
        "group",
        "rule",
        "create",
        "--protocol",
        "tcp",
        "--dst-port",
        "5432",
        "--remote-group",
        "osc-sg",
        "osc-sg",
    ]);
    assert_eq!(remote["remote_group_id"], sg["id"], "{remote}");
    assert_eq!(remote["remote_ip_prefix"], Value::Null, "{remote}");
    let rules = osc.json(&["security", "group", "rule", "list", "osc-sg"]);
    assert_eq!(
        rules.as_array().map(Vec::len),
        Some(4),
        "2 default egress + 2: {rules}"
    );

    // Compute
    let server = osc.json(&[
        "server",
        "create",
        "--flavor",
        "m1.tiny",
        "--image",
        "cirros",
        "--network",
        "osc-net",
        "--security-group",
        "osc-sg",
        "--wait",
        "osc-vm",
    ]);
    assert_eq!(server["status"], "ACTIVE", "{server}");
    let addresses = server["addresses"].to_string();
    assert!(
        addresses.contains("10.9.0."),
        "an address on osc-subnet: {addresses}"
    );

    // The reads clients make of a server and what it is made of.
    assert_eq!(osc.json(&["server", "show", "osc-vm"])["id"], server["id"]);
    let long = osc.json(&["server", "list", "--long"]);
    assert_eq!(long[0]["Flavor"], "m1.tiny", "{long}");
    let events = osc.json(&["server", "event", "list", "osc-vm"]);
    assert_eq!(events[0]["Action"], "create", "{events}");
    let request = events[0]["Request ID"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let event = osc.json(&["server", "event", "show", "osc-vm", &request]);
    assert_eq!(event["action"], "create", "{event}");
    let ports = osc.json(&["port", "list", "--server", "osc-vm"]);
    assert_eq!(ports.as_array().map(Vec::len), Some(1), "{ports}");
    assert_eq!(
        osc.json(&["server", "volume", "list", "osc-vm"]),
        serde_json::json!([])
    );
    assert_eq!(
        osc.json(&["server", "group", "list"]),
        serde_json::json!([])
    );
    for read in [
        &["network", "show", "osc-net"][..],
        &["image", "show", "cirros"],
        &["flavor", "show", "m1.tiny"],
        &["project", "show", "osc-demo"],
        &["limits", "show", "--absolute"],
    ] {
        osc.json(read);
    }
    osc.ok(&["server", "stop", "osc-vm"]);
    osc.wait_status("osc-vm", "SHUTOFF");
    let (ok, _, stderr) = osc.run(&["server", "stop", "osc-vm"]);
    assert!(
        !ok && stderr.contains("vm_state stopped"),
        "stop when stopped: {stderr}"
    );
    osc.ok(&["server", "start", "osc-vm"]);
    osc.wait_status("osc-vm", "ACTIVE");
    assert_eq!(osc.names(&["server", "list"]), ["osc-vm"]);
    consoles::consoles(&osc, "osc-vm");

    // Resized (its --wait ends in VERIFY_RESIZE), confirmed (the deprecated --confirm), then
    // resized again and reverted (the newer subcommand).
    osc.ok(&[
        "server", "resize", "--flavor", "m1.small", "--wait", "osc-vm",
    ]);
    osc.wait_status("osc-vm", "VERIFY_RESIZE");
    osc.ok(&["server", "resize", "--confirm", "osc-vm"]);
    osc.wait_status("osc-vm", "ACTIVE");
    let resized = osc.json(&["server", "show", "osc-vm"]);
    assert_eq!(resized["id"], server["id"]);
    assert_eq!(resized["flavor"]["original_name"], "m1.small", "{resized}");
    let (ok, _, stderr) = osc.run(&["server", "resize", "--flavor", "m1.small", "osc-vm"]);
    assert!(
        !ok && stderr.contains("When resizing, instances must change flavor!"),
        "resize to the same flavor: {stderr}"
    );
    osc.ok(&[
        "server",
        "resize",
        "--flavor",
        "m1.medium",
        "--wait",
        "osc-vm",
    ]);
    osc.ok(&["server", "resize", "revert", "osc-vm"]);
    osc.wait_status("osc-vm", "ACTIVE");
    let reverted = osc.json(&["server", "show", "osc-vm"]);
    assert_eq!(
        reverted["flavor"]["original_name"], "m1.small",
        "{reverted}"
    );

    // Metadata, tags and description, as `instance` sets them.
    osc.ok(&[
        "server",
        "set",
        "--property",
        "role=web",
        "--tag",
        "blue",
        "--description",
        "the front",
        "osc-vm",
    ]);
    let set = osc.json(&["server", "show", "osc-vm"]);
    assert_eq!(set["properties"], json!({ "role": "web" }), "{set}");
    assert_eq!(set["tags"], json!(["blue"]), "{set}");
    assert_eq!(set["description"], "the front", "{set}");

    // Ports with a fixed IP and allowed address pairs, changed in place.
    let vip = osc.json(&[
        "port",
        "create",
        "--network",
        "osc-net",
        "--fixed-ip",
        "subnet=osc-subnet,ip-address=10.9.0.50",
        "--allowed-address",
        "ip-address=10.9.0.200",
        "--allowed-address",
        "ip-address=10.10.0.0/24,mac-address=fa:16:3e:00:00:01",
        "osc-vip",
    ]);
    assert_eq!(vip["fixed_ips"][0]["ip_address"], "10.9.0.50", "{vip}");
    assert_eq!(vip["fixed_ips"][0]["subnet_id"], subnet["id"], "{vip}");
    let pairs = vip["allowed_address_pairs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(pairs.len(), 2, "{vip}");
    assert!(
        pairs
            .iter()
            .any(|p| p["ip_address"] == "10.9.0.200" && p["mac_address"] == vip["mac_address"]),
        "a pair without a MAC takes the port's: {vip}"
    );
    let (ok, _, stderr) = osc.run(&[
        "port",
        "create",
        "--network",
        "osc-net",
        "--fixed-ip",
        "subnet=osc-subnet,ip-address=10.9.0.50",
        "osc-vip-2",
    ]);
    assert!(
        !ok && stderr.contains("IP address 10.9.0.50 already allocated in subnet"),
        "a taken address: {stderr}"
    );
    osc.ok(&[
        "port",
        "set",
        "--description",
        "moved",
        "--no-fixed-ip",
        "--fixed-ip",
        "subnet=osc-subnet,ip-address=10.9.0.51",
        "osc-vip",
    ]);
    let moved = osc.json(&["port", "show", "osc-vip"]);
    assert_eq!(moved["id"], vip["id"]);
    assert_eq!(moved["description"], "moved");
    assert_eq!(moved["fixed_ips"][0]["ip_address"], "10.9.0.51", "{moved}");
    osc.ok(&["port", "delete", "osc-vip"]);
    // Floating IPs: allocated from `public`, tagged, put on the server (through the router
    // that connects osc-subnet to public), shown in its addresses, removed and released.
    let fip = osc.json(&["floating", "ip", "create", "--tag", "osc", "public"]);
    let address = fip["floating_ip_address"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(address.starts_with("172.24.4."), "{fip}");
    osc.ok(&["server", "add", "floating", "ip", "osc-vm", &address]);
    let shown = osc.json(&["floating", "ip", "show", &address]);
    let vm_ports = osc.json(&["port", "list", "--server", "osc-vm"]);
    assert_eq!(shown["port_id"], vm_ports[0]["ID"], "{shown}");
    assert!(
        shown["fixed_ip_address"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("10.9.0.")),
        "{shown}"
    );
    assert_eq!(shown["tags"], serde_json::json!(["osc"]), "{shown}");
    let addresses = osc.json(&["server", "show", "osc-vm"])["addresses"].to_string();
    assert!(addresses.contains(&address), "{addresses}");
    let (ok, _, stderr) = osc.run(&["router", "remove", "subnet", "osc-router", "osc-subnet"]);
    assert!(
        !ok && stderr.contains("required by one or more floating IPs"),
        "the interface a floating IP needs stays: {stderr}"
    );
    let (ok, _, stderr) = osc.run(&["router", "unset", "--external-gateway", "osc-router"]);
    assert!(
        !ok && stderr.contains("is required by one or more floating IPs"),
        "so does the gateway: {stderr}"
    );
    osc.ok(&["server", "remove", "floating", "ip", "osc-vm", &address]);
    assert_eq!(
        osc.json(&["floating", "ip", "show", &address])["port_id"],
        Value::Null
    );
    osc.ok(&["floating", "ip", "delete", &address]);
    assert_eq!(osc.json(&["floating", "ip", "list"]), serde_json::json!([]));

    // A second router on osc-subnet, through a port (osc-router holds the gateway address):
    // the port cannot be deleted while it is the interface, and goes with it.
    osc.ok(&[
        "port",
        "create",
        "--network",
        "osc-net",
        "--fixed-ip",
        "subnet=osc-subnet,ip-address=10.9.0.240",
        "osc-rport",
    ]);
    osc.ok(&["router", "create", "osc-router2"]);
    osc.ok(&["router", "add", "port", "osc-router2", "osc-rport"]);
    let attached = osc.json(&["port", "show", "osc-rport"]);
    assert_eq!(
        attached["device_owner"], "network:router_interface",
        "{attached}"
    );
    let router2 = osc.json(&["router", "show", "osc-router2"]);
    assert_eq!(attached["device_id"], router2["id"]);
    let (ok, _, stderr) = osc.run(&["port", "delete", "osc-rport"]);
    assert!(!ok, "an interface port cannot be deleted: {stderr}");
    osc.ok(&["router", "remove", "port", "osc-router2", "osc-rport"]);
    let (ok, _, stderr) = osc.run(&["port", "show", "osc-rport"]);
    assert!(!ok, "Neutron deletes the port with its interface: {stderr}");
    osc.ok(&["router", "delete", "osc-router2"]);

    // In-use rules hold for the CLI too.
    let (ok, _, stderr) = osc.run(&["subnet", "delete", "osc-subnet"]);
    assert!(!ok, "a subnet with ports cannot be deleted: {stderr}");

    block_storage::block_storage(&osc);
    compute::boot_from_volume(&osc, data.path());
    compute::server_groups(&osc);
    compute::keypairs(&osc, data.path());

    osc.ok(&["server", "delete", "--wait", "osc-vm"]);
    assert!(osc.names(&["server", "list"]).is_empty());
    osc.ok(&["router", "unset", "--external-gateway", "osc-router"]);
    osc.ok(&["router", "remove", "subnet", "osc-router", "osc-subnet"]);
    osc.ok(&["router", "delete", "osc-router"]);
    osc.ok(&["subnet", "delete", "osc-subnet"]);
    osc.ok(&["network", "delete", "osc-net"]);
    osc.ok(&["security", "group", "delete", "osc-sg"]);
    osc.ok(&["project", "delete", "osc-demo"]);
    assert!(
        !osc.names(&["project", "list"])
            .contains(&"osc-demo".to_string())
    );
    let nets = osc.names(&["network", "list"]);
    assert_eq!(nets, ["public"]);

    let status = sim.terminate();
    assert!(
        status.success(),
        "stackform sim exits cleanly on SIGTERM: {status}"
    );
}
