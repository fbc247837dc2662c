//! End to end: the `stackform` binary against the embedded cloud running as its own process
//! (reached through OS_* variables, exactly as a real cloud would be), with every outcome
//! checked through the cloud's own API.

use reqwest::Method;
use serde_json::{Value, json};

use crate::cloud_api::CloudApi;
use crate::support::{SimProcess, run_env, write_specs};

const PROVIDER: &str = r#"
[provider]
cloud = "env"
external_network = "public"
parallelism = 4
timeout = "60s"
"#;

fn demo(cidr: &str, http_port: &str, vcpu: u32, power: &str, with_web: bool) -> String {
    let mut s = format!(
        r#"
[tenant.demo]
description = "Demo"
quotas = {{ vcpu = {vcpu}, ram = 51200, instances = 10 }}

[network.demo-net]
tenant = "demo"
mtu = 1450

[subnet.demo-subnet]
network = "demo-net"
cidr = "{cidr}"
dns_nameservers = ["1.1.1.1"]

[router.demo-router]
tenant = "demo"
external_gateway = true
subnets = ["demo-subnet"]
"#
    );
    if with_web {
        s.push_str(&format!(
            r#"
[security_group.web]
tenant = "demo"
rules = [
  {{ direction = "ingress", protocol = "tcp", port_range = "{http_port}", cidr = "0.0.0.0/0" }},
  {{ direction = "ingress", protocol = "tcp", port_range = "22", cidr = "0.0.0.0/0" }},
]

[instance.web-1]
tenant = "demo"
flavor = "m1.small"
image = "cirros"
subnet = "demo-subnet"
security_groups = ["web"]
power_state = "{power}"
"#
        ));
    }
    s
}

struct Scenario {
    dir: tempfile::TempDir,
    sim: SimProcess,
    api: CloudApi,
}

impl Scenario {
    async fn start() -> Scenario {
        let dir = tempfile::tempdir().unwrap();
        let sim = SimProcess::start(&dir.path().join("cloud"));
        let api = CloudApi::admin(sim.auth_url()).await;
        Scenario { dir, sim, api }
    }

    fn specs(&self, demo_toml: &str) {
        write_specs(
            self.dir.path(),
            &[("provider.toml", PROVIDER), ("demo.toml", demo_toml)],
        );
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        run_env(self.dir.path(), args, &self.sim.env)
    }

    async fn project_id(&self) -> String {
        let p = self
            .api
            .one("identity", "/projects", "projects", "demo")
            .await;
        p["id"].as_str().unwrap_or_default().to_string()
    }

    async fn server(&self, name: &str) -> Value {
        self.api
            .one("compute", "/servers/detail?all_tenants=1", "servers", name)
            .await
    }

    async fn rules(&self, group: &str) -> Vec<Value> {
        let sg = self
            .api
            .one("network", "/security-groups", "security_groups", group)
            .await;
        let id = sg["id"].as_str().unwrap_or_default();
        self.api
            .list(
                "network",
                &format!("/security-group-rules?security_group_id={id}"),
                "security_group_rules",
            )
            .await
    }
}

fn ports_of(rules: &[Value]) -> Vec<(String, i64)> {
    let mut v: Vec<(String, i64)> = rules
        .iter()
        .filter(|r| r["direction"] == "ingress")
        .map(|r| {
            (
                r["id"].as_str().unwrap_or_default().to_string(),
                r["port_range_min"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    v.sort_by_key(|(_, p)| *p);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_converges_updates_in_place_replaces_deletes_and_destroys() {
    let s = Scenario::start().await;

    // 1. Create everything.
    s.specs(&demo("192.168.42.0/24", "80", 20, "running", true));
    let (code, out, err) = s.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "apply failed:\n{out}\n{err}");
    assert!(
        out.contains("Plan: 6 to add, 0 to change, 0 to destroy."),
        "{out}"
    );
    assert!(
        out.contains("Apply complete! Resources: 6 added, 0 changed, 0 destroyed."),
        "{out}"
    );

    let project = s.project_id().await;
    let net = s
        .api
        .one("network", "/networks", "networks", "demo-net")
        .await;
    assert_eq!(net["mtu"], 1450);
    assert_eq!(net["project_id"], project.as_str());
    let tags = net["tags"].as_array().cloned().unwrap_or_default();
    assert!(
        tags.contains(&json!("stackform:network.demo-net")),
        "{tags:?}"
    );
    let subnet = s
        .api
        .one("network", "/subnets", "subnets", "demo-subnet")
        .await;
    assert_eq!(subnet["cidr"], "192.168.42.0/24");
    assert_eq!(subnet["dns_nameservers"], json!(["1.1.1.1"]));
    let router = s
        .api
        .one("network", "/routers", "routers", "demo-router")
        .await;
    let public = s
        .api
        .one("network", "/networks", "networks", "public")
        .await;
    assert_eq!(router["external_gateway_info"]["network_id"], public["id"]);
    let router_id = router["id"].as_str().unwrap_or_default();
    let ifaces = s
        .api
        .list(
            "network",
            &format!("/ports?device_id={router_id}&device_owner=network:router_interface"),
            "ports",
        )
        .await;
    assert_eq!(ifaces.len(), 1);
    assert_eq!(ifaces[0]["fixed_ips"][0]["subnet_id"], subnet["id"]);
    let rules = s.rules("web").await;
    let before = ports_of(&rules);
    assert_eq!(before.iter().map(|(_, p)| *p).collect::<Vec<_>>(), [22, 80]);
    let server = s.server("web-1").await;
    assert_eq!(server["status"], "ACTIVE");
    assert_eq!(server["tenant_id"], project.as_str());
    assert!(
        server["addresses"].to_string().contains("192.168.42."),
        "{}",
        server["addresses"]
    );
    let quotas = s
        .api
        .get("compute", &format!("/os-quota-sets/{project}"))
        .await;
    assert_eq!(quotas["quota_set"]["cores"], 20);

    // 2. Converged: nothing to do.
    let (code, out, _) = s.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("No changes."), "{out}");

    // 3. In place: a rule, a quota, the power state.
    s.specs(&demo("192.168.42.0/24", "8080", 40, "stopped", true));
    let (code, out, _) = s.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("Plan: 0 to add, 3 to change, 0 to destroy."),
        "{out}"
    );
    let (code, out, err) = s.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let after = ports_of(&s.rules("web").await);
    assert_eq!(
        after.iter().map(|(_, p)| *p).collect::<Vec<_>>(),
        [22, 8080]
    );
    assert_eq!(
        after[0].0, before[0].0,
        "the unchanged rule (22) was not touched"
    );
    let stopped = s.server("web-1").await;
    assert_eq!(stopped["status"], "SHUTOFF");
    assert_eq!(stopped["id"], server["id"], "power state changes in place");
    let quotas = s
        .api
        .get("compute", &format!("/os-quota-sets/{project}"))
        .await;
    assert_eq!(quotas["quota_set"]["cores"], 40);
    let (code, out, _) = s.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "converged after the update:\n{out}");

    // 4. A new CIDR replaces the subnet, and the instance on it follows.
    s.specs(&demo("192.168.43.0/24", "8080", 40, "stopped", true));
    let (code, out, _) = s.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("-/+ subnet.demo-subnet"), "{out}");
    assert!(out.contains("-/+ instance.web-1"), "{out}");
    let (code, out, err) = s.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let new_subnet = s
        .api
        .one("network", "/subnets", "subnets", "demo-subnet")
        .await;
    assert_eq!(new_subnet["cidr"], "192.168.43.0/24");
    assert_ne!(new_subnet["id"], subnet["id"]);
    let moved = s.server("web-1").await;
    assert_ne!(moved["id"], server["id"]);
    assert!(
        moved["addresses"].to_string().contains("192.168.43."),
        "{}",
        moved["addresses"]
    );
    assert_eq!(moved["status"], "SHUTOFF");
    let ifaces = s
        .api
        .list(
            "network",
            &format!("/ports?device_id={router_id}&device_owner=network:router_interface"),
            "ports",
        )
        .await;
    assert_eq!(ifaces.len(), 1);
    assert_eq!(ifaces[0]["fixed_ips"][0]["subnet_id"], new_subnet["id"]);
    let (code, out, _) = s.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "converged after the replacement:\n{out}");

    // 5. Removing resources from the spec deletes them.
    s.specs(&demo("192.168.43.0/24", "8080", 40, "stopped", false));
    let (code, out, err) = s.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("0 added, 0 changed, 2 destroyed."), "{out}");
    let servers = s
        .api
        .list("compute", "/servers?all_tenants=1", "servers")
        .await;
    assert!(servers.is_empty(), "{servers:?}");
    let groups = s
        .api
        .list(
            "network",
            &format!("/security-groups?project_id={project}&name=web"),
            "security_groups",
        )
        .await;
    assert!(groups.is_empty(), "{groups:?}");

    // 6. Destroy leaves nothing of the tenant.
    let (code, out, err) = s.run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let projects = s
        .api
        .list("identity", "/projects?name=demo", "projects")
        .await;
    assert!(projects.is_empty(), "{projects:?}");
    let nets = s.api.list("network", "/networks", "networks").await;
    let names: Vec<&str> = nets.iter().filter_map(|n| n["name"].as_str()).collect();
    assert_eq!(names, ["public"]);
    let (code, out, _) = s.run(&["state", "list"]);
    assert_eq!((code, out.as_str()), (0, ""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_create_reply_is_adopted_not_duplicated() {
    let s = Scenario::start().await;
    s.specs(&demo("10.1.0.0/24", "80", 20, "running", false));
    let (status, body) = s
        .api
        .request(
            Method::POST,
            "identity",
            "/../../_sim/faults",
            Some(json!({"lose_reply": {"method": "POST", "path_suffix": "/v2.0/networks", "count": 1}})),
        )
        .await;
    assert!(status < 300, "fault injection: {status} {body}");

    let (first, out1, err1) = s.run(&["apply", "--auto-approve"]);
    if first != 0 {
        // The reply was lost and the run said so; the next run must adopt, not recreate.
        let (code, out, err) = s.run(&["apply", "--auto-approve"]);
        assert_eq!(code, 0, "second apply:\n{out}\n{err}");
    } else {
        assert!(out1.contains("Apply complete!"), "{out1}\n{err1}");
    }
    let nets = s
        .api
        .list("network", "/networks?name=demo-net", "networks")
        .await;
    assert_eq!(
        nets.len(),
        1,
        "exactly one network after a lost reply: {nets:?}"
    );
    let (code, out, _) = s.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");
    let (_, state, _) = s.run(&["state", "list"]);
    assert!(
        state.contains(&format!(
            "network.demo-net\t{}",
            nets[0]["id"].as_str().unwrap_or("?")
        )),
        "{state}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_specs_are_located_and_change_nothing() {
    let s = Scenario::start().await;
    let cases: [(&str, &str, &str); 5] = [
        ("syntax", "[tenant.demo\ndescription = 1", "demo.toml:1:"),
        (
            "unknown field",
            "[tenant.demo]\ndescripton = \"x\"\n",
            "demo.toml:2:1",
        ),
        (
            "dangling",
            "[network.n]\ntenant = \"nope\"\n",
            "demo.toml:2:10",
        ),
        (
            "bad cidr",
            "[tenant.t]\n[network.n]\ntenant = \"t\"\n[subnet.s]\nnetwork = \"n\"\ncidr = \"10.0.0.0/33\"\n",
            "demo.toml:6:8",
        ),
        (
            "unknown flavor",
            "[tenant.t]\n[network.n]\ntenant = \"t\"\n[subnet.s]\nnetwork = \"n\"\ncidr = \"10.0.0.0/24\"\n[instance.i]\ntenant = \"t\"\nflavor = \"m1.huge\"\nimage = \"cirros\"\nsubnet = \"s\"\n",
            "demo.toml:9:10",
        ),
    ];
    for (what, toml, location) in cases {
        s.specs(toml);
        for cmd in [&["plan"][..], &["apply", "--auto-approve"][..]] {
            let (code, out, err) = s.run(cmd);
            assert_eq!(code, 1, "{what}: {cmd:?} must fail\n{out}\n{err}");
            assert!(
                err.contains(location),
                "{what}: expected {location} in:\n{err}"
            );
            assert!(!err.contains("panicked"), "{what}: {err}");
        }
    }
    // Nothing reached the cloud or the state.
    let projects = s.api.list("identity", "/projects", "projects").await;
    let names: Vec<&str> = projects.iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, ["admin"]);
    let (code, out, _) = s.run(&["state", "list"]);
    assert_eq!((code, out.as_str()), (0, ""));
}

#[test]
fn an_unreachable_cloud_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    write_specs(
        dir.path(),
        &[
            ("provider.toml", PROVIDER),
            ("demo.toml", "[tenant.demo]\n"),
        ],
    );
    let env = [
        ("OS_AUTH_URL", "http://127.0.0.1:9/identity/v3"),
        ("OS_USERNAME", "admin"),
        ("OS_PASSWORD", "hunter2-secret"),
        ("OS_PROJECT_NAME", "admin"),
        ("OS_USER_DOMAIN_NAME", "Default"),
        ("OS_PROJECT_DOMAIN_NAME", "Default"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    let (code, out, err) = run_env(dir.path(), &["plan"], &env);
    assert_eq!(code, 1, "{out}");
    assert_eq!(err.trim().lines().count(), 1, "one line:\n{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("127.0.0.1:9"), "{err}");
    assert!(
        !err.contains("hunter2"),
        "the password never appears: {err}"
    );
}
