//! Network sharing with RBAC policies, end to end on both targets (the embedded cloud as its
//! own process, and the real cloud of `REAL_OS_OPENRC` for the `real_*` tests): two tenants
//! on one network, each booting an instance there; the policy and the guest's instance
//! removed in one apply; the whole two-tenant topology destroyed in one apply; and the specs
//! a plan refuses (a bad RBAC target, an invalid MTU, a missing policy), which change nothing.
//! Everything is checked through the cloud's own API.

use serde_json::{Value, json};

use crate::cloud_api::CloudApi;
use crate::real_common;
use crate::scenario::{Scenario, Setup, Target};

/// Every Neutron quota a tenant can set, written and read back on both clouds.
const OWNER_QUOTAS: &str = "quotas = { network_count = 4, subnet_count = 4, router_count = 2, \
    port_count = 20, floating_ip_count = 2, security_group_count = 5, \
    security_group_rule_count = 60, rbac_policies = 3 }";

/// The shared scenario (its tenant is `tenant.owner`) and the guest tenant's cloud name.
struct Sharing {
    base: Scenario,
    guest: String,
}

impl std::ops::Deref for Sharing {
    type Target = Scenario;
    fn deref(&self) -> &Scenario {
        &self.base
    }
}

impl std::ops::DerefMut for Sharing {
    fn deref_mut(&mut self) -> &mut Scenario {
        &mut self.base
    }
}

impl Sharing {
    async fn start(target: Target) -> Option<Sharing> {
        let base = Scenario::start(target, Setup::new("owner", "sf-own")).await?;
        let guest = match target {
            Target::Embedded => "guest".into(),
            Target::Real => real_common::unique_name("sf-gst"),
        };
        Some(Sharing { base, guest })
    }

    /// Writes the spec: `body` after the two tenants.
    fn spec(&self, body: &str) {
        let provider = format!(
            "[provider]\ncloud = \"env\"\nparallelism = 4\ntimeout = \"{}\"\n",
            self.timeout
        );
        let tenants = format!(
            "[tenant.owner]\nname = \"{}\"\n{OWNER_QUOTAS}\n\n[tenant.guest]\nname = \"{}\"\n",
            self.tenant, self.guest
        );
        self.write(&[
            ("provider.toml", &provider),
            ("tenants.toml", &tenants),
            ("sharing.toml", body),
        ]);
    }

    /// The shared topology: the owner's network and subnet, the policy (when `with_policy`),
    /// an instance of each tenant on the subnet (the guest's when `with_guest_vm`).
    fn topology(&self, with_policy: bool, with_guest_vm: bool) -> String {
        let mut s = format!(
            r#"
[network.shared]
tenant = "owner"

[subnet.shared-v4]
network = "shared"
cidr = "10.91.0.0/24"

[instance.owner-vm]
tenant = "owner"
flavor = "{flavor}"
image = "{image}"
subnet = "shared-v4"
"#,
            flavor = self.flavor,
            image = real_common::IMAGE
        );
        if with_policy {
            s.push_str(
                r#"
[network_rbac.guest-uses-shared]
network = "shared"
target_tenant = "guest"
action = "access_as_shared"
"#,
            );
        }
        if with_guest_vm {
            s.push_str(&format!(
                r#"
[instance.guest-vm]
tenant = "guest"
flavor = "{}"
image = "{}"
subnet = "shared-v4"
"#,
                self.flavor,
                real_common::IMAGE
            ));
        }
        s
    }

    async fn project_id(&self, name: &str) -> Option<String> {
        let found = self
            .api
            .list("identity", &format!("/projects?name={name}"), "projects")
            .await;
        found
            .first()
            .and_then(|p| p["id"].as_str())
            .map(str::to_string)
    }

    async fn policies_on(&self, network_id: &str) -> Vec<Value> {
        self.api
            .list(
                "network",
                &format!("/rbac-policies?object_id={network_id}"),
                "rbac_policies",
            )
            .await
    }

    async fn servers_of(&self, project: &str) -> Vec<Value> {
        self.api
            .list(
                "compute",
                &format!("/servers/detail?all_tenants=1&project_id={project}"),
                "servers",
            )
            .await
    }

    async fn ports_of(&self, project: &str, network_id: &str) -> Vec<Value> {
        self.api
            .list(
                "network",
                &format!("/ports?project_id={project}&network_id={network_id}"),
                "ports",
            )
            .await
    }

    /// Neither tenant's project exists.
    async fn assert_no_projects(&self) {
        for name in [&self.tenant, &self.guest] {
            assert_eq!(self.project_id(name).await, None, "project {name} exists");
        }
    }
}

/// `file:line:col` of the first diagnostic pointing into `file`.
fn located(out: &str, file: &str) -> bool {
    out.lines().any(|line| {
        line.split_whitespace().any(|word| {
            let mut parts = word.trim_start_matches("-->").rsplitn(3, ':');
            let (col, line, path) = (parts.next(), parts.next(), parts.next());
            path.is_some_and(|p| p.ends_with(file))
                && line.is_some_and(|l| l.parse::<u32>().is_ok())
                && col.is_some_and(|c| c.parse::<u32>().is_ok())
        })
    })
}

async fn two_tenants_share_one_network(target: Target) {
    let Some(mut s) = Sharing::start(target).await else {
        return;
    };

    // 1. Both tenants boot an instance on the owner's network, shared by the policy.
    s.spec(&s.topology(true, true));
    let (code, out, err) = s.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "apply failed:\n{out}\n{err}");
    assert!(
        out.contains("Apply complete! Resources: 7 added, 0 changed, 0 destroyed."),
        "{out}"
    );
    let owner = s.project_id(&s.tenant).await.expect("owner project");
    let guest = s.project_id(&s.guest).await.expect("guest project");
    let network = s
        .api
        .one(
            "network",
            &format!("/networks?project_id={owner}"),
            "networks",
            "shared",
        )
        .await;
    let network_id = network["id"].as_str().unwrap_or_default().to_string();
    let quotas = s.api.get("network", &format!("/quotas/{owner}")).await;
    for (key, limit) in [
        ("network", 4),
        ("subnet", 4),
        ("router", 2),
        ("port", 20),
        ("floatingip", 2),
        ("security_group", 5),
        ("security_group_rule", 60),
        ("rbac_policy", 3),
    ] {
        assert_eq!(quotas["quota"][key], limit, "{key}: {quotas}");
    }
    let policies = s.policies_on(&network_id).await;
    assert_eq!(policies.len(), 1, "{policies:#?}");
    assert_eq!(policies[0]["project_id"], owner.as_str());
    assert_eq!(policies[0]["target_tenant"], guest.as_str());
    assert_eq!(policies[0]["action"], "access_as_shared");
    assert_eq!(policies[0]["object_type"], "network");
    for project in [&owner, &guest] {
        let servers = s.servers_of(project).await;
        assert_eq!(servers.len(), 1, "{project}: {servers:#?}");
        assert_eq!(servers[0]["status"], "ACTIVE");
        let ports = s.ports_of(project, &network_id).await;
        assert_eq!(ports.len(), 1, "{project}'s port on the shared network");
        assert_eq!(ports[0]["device_id"], servers[0]["id"]);
    }

    // 2. Converged.
    let (code, out, err) = s.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "plan after apply:\n{out}\n{err}");
    assert!(out.contains("No changes."), "{out}");

    // 3. The policy and the guest's instance go in one apply: the instance first, else
    // Neutron refuses the policy's removal (409 RbacPolicyInUse).
    s.spec(&s.topology(false, false));
    let (code, out, err) = s.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "apply failed:\n{out}\n{err}");
    assert!(
        out.contains("Apply complete! Resources: 0 added, 0 changed, 2 destroyed."),
        "{out}"
    );
    assert_eq!(s.policies_on(&network_id).await, Vec::<Value>::new());
    assert_eq!(s.servers_of(&guest).await, Vec::<Value>::new());
    assert_eq!(s.ports_of(&guest, &network_id).await, Vec::<Value>::new());

    // 4. Shared again, then the whole two-tenant topology destroyed in one apply.
    s.spec(&s.topology(true, true));
    let (code, out, err) = s.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "apply failed:\n{out}\n{err}");
    assert!(
        out.contains("Apply complete! Resources: 2 added, 0 changed, 0 destroyed."),
        "{out}"
    );
    let (code, out, err) = s.run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 0, "destroy failed:\n{out}\n{err}");
    s.destroyed = true;
    assert!(out.contains("7 destroyed"), "{out}");
    s.assert_no_projects().await;
    assert_eq!(s.policies_on(&network_id).await, Vec::<Value>::new());
    let gone = s
        .api
        .request(
            reqwest::Method::GET,
            "network",
            &format!("/networks/{network_id}"),
            None,
        )
        .await;
    assert_eq!(gone.0, 404, "the shared network is gone: {gone:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tenants_share_a_network_and_it_all_goes_in_one_apply() {
    two_tenants_share_one_network(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_two_tenants_share_a_network_and_it_all_goes_in_one_apply() {
    two_tenants_share_one_network(Target::Real).await;
}

/// Specs the plan refuses, with the place of the problem, before any call that changes the
/// cloud: afterwards neither tenant exists.
async fn refused_specs_change_nothing(target: Target) {
    let Some(mut s) = Sharing::start(target).await else {
        return;
    };
    let base = s.topology(false, false);
    let cases = [
        (
            format!(
                "{base}\n[network_rbac.nowhere]\nnetwork = \"shared\"\ntarget_tenant = \"no-such-tenant\"\n"
            ),
            "network_rbac.nowhere: target_tenant `no-such-tenant` is neither a tenant of the spec nor a project of the cloud",
        ),
        (
            base.replace(
                "tenant = \"owner\"\n\n[subnet",
                "tenant = \"owner\"\nmtu = 9001\n\n[subnet",
            ),
            "9001",
        ),
        (
            s.topology(false, true),
            "instance.guest-vm (tenant.guest) cannot use subnet.shared-v4",
        ),
        // Neither cloud has Neutron's dns-integration extension.
        (
            base.replace(
                "tenant = \"owner\"\n\n[subnet",
                "tenant = \"owner\"\ndns_domain = \"example.org.\"\n\n[subnet",
            ),
            "network.shared: dns_domain needs Neutron's dns-integration extension, which this cloud does not have",
        ),
    ];
    for (spec, expected) in cases {
        s.spec(&spec);
        let (code, out, err) = s.run(&["apply", "--auto-approve"]);
        assert_ne!(code, 0, "apply of a refused spec succeeded:\n{out}\n{err}");
        let all = format!("{out}{err}");
        assert!(all.contains(expected), "{expected}:\n{all}");
        if expected.contains("cannot use") {
            assert!(
                all.contains("add a [network_rbac.NAME] with network = \"shared\" and target_tenant = \"guest\""),
                "the missing policy is named:\n{all}"
            );
        }
        assert!(located(&all, "sharing.toml"), "no file:line:col:\n{all}");
        s.assert_no_projects().await;
    }
    s.destroyed = true;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_rbac_target_an_invalid_mtu_and_a_missing_policy_fail_in_plan() {
    refused_specs_change_nothing(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_a_bad_rbac_target_an_invalid_mtu_and_a_missing_policy_fail_in_plan() {
    refused_specs_change_nothing(Target::Real).await;
}

/// `examples/shared-network/` applies as it is on the embedded cloud, converges, and the
/// cloud holds what it says: the guest tenant's instance on the owner's network through the
/// policy, the provider's default MTU on the network; then it is destroyed in one apply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_network_example_applies_as_it_is() {
    let repo = env!("CARGO_MANIFEST_DIR");
    let state = tempfile::tempdir().unwrap();
    let state_arg = state.path().to_string_lossy().into_owned();
    let specs = format!("{repo}/examples/shared-network");
    let run = |cmd: &[&str]| {
        let mut args: Vec<&str> = cmd.to_vec();
        args.extend(["--specs", &specs, "--state", &state_arg]);
        crate::support::run_in(state.path(), &args)
    };
    let (code, out, err) = run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("Apply complete! Resources: 9 added, 0 changed, 0 destroyed."),
        "{out}"
    );
    let (code, out, err) = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "converged:\n{out}\n{err}");

    {
        let handle = stackform::sim::Sim::start_on_loopback(stackform::sim::SimConfig {
            data_dir: Some(state.path().join("cloud")),
            ..Default::default()
        })
        .await
        .expect("serves");
        let api = CloudApi::admin(&handle.auth_url).await;
        let platform = api
            .one("identity", "/projects", "projects", "platform")
            .await;
        let team = api.one("identity", "/projects", "projects", "team-a").await;
        let team_id = team["id"].as_str().unwrap_or_default();
        let team_quotas = api
            .get("compute", &format!("/os-quota-sets/{team_id}"))
            .await;
        assert_eq!(
            [
                &team_quotas["quota_set"]["cores"],
                &team_quotas["quota_set"]["server_groups"]
            ],
            [&json!(10), &json!(2)],
            "the provider's default quotas: {team_quotas}"
        );
        let network = api
            .one("network", "/networks", "networks", "platform-net")
            .await;
        assert_eq!(network["mtu"], 1400, "the provider's default MTU");
        assert_eq!(network["project_id"], platform["id"]);
        let policies = api
            .list(
                "network",
                &format!(
                    "/rbac-policies?object_id={}",
                    network["id"].as_str().unwrap_or_default()
                ),
                "rbac_policies",
            )
            .await;
        assert_eq!(policies.len(), 1, "{policies:?}");
        assert_eq!(policies[0]["target_tenant"], team["id"]);
        let app = api
            .one(
                "compute",
                "/servers/detail?all_tenants=1",
                "servers",
                "team-a-app",
            )
            .await;
        assert_eq!(app["tenant_id"], team["id"]);
        assert_eq!(app["status"], "ACTIVE");
        let net_name = "platform-net";
        assert_eq!(
            app["addresses"][net_name][0]["addr"]
                .as_str()
                .map(|a| a.starts_with("10.80.0.")),
            Some(true),
            "{app}"
        );
        handle.stop().await;
    }

    let (code, out, err) = run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("9 destroyed"), "{out}");
}

/// A policy made outside stackform with the values of one in the spec is adopted (RBAC
/// policies take no tags: Neutron's 409 DuplicateRbacPolicy says it exists); one retargeted
/// outside comes back in place; one deleted outside is made again.
async fn policies_are_adopted_and_their_drift_repaired(target: Target) {
    let Some(mut s) = Sharing::start(target).await else {
        return;
    };
    s.spec(&s.topology(false, false));
    let (code, out, err) = s.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "apply failed:\n{out}\n{err}");
    let owner = s.project_id(&s.tenant).await.expect("owner project");
    let guest = s.project_id(&s.guest).await.expect("guest project");
    let network = s
        .api
        .one(
            "network",
            &format!("/networks?project_id={owner}"),
            "networks",
            "shared",
        )
        .await;
    let network_id = network["id"].as_str().unwrap_or_default().to_string();
    let made = s
        .api
        .send(
            reqwest::Method::POST,
            "network",
            "/rbac-policies",
            serde_json::json!({"rbac_policy": {"object_type": "network", "object_id": network_id,
                "action": "access_as_shared", "target_tenant": guest, "project_id": owner}}),
            &[201],
        )
        .await;
    let made_id = made["rbac_policy"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    // Adopted: one policy, the one that was there.
    s.spec(&s.topology(true, false));
    let (code, out, err) = s.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "apply failed:\n{out}\n{err}");
    assert!(
        out.contains("Resources: 1 added, 0 changed, 0 destroyed."),
        "{out}"
    );
    let policies = s.policies_on(&network_id).await;
    assert_eq!(policies.len(), 1, "{policies:#?}");
    assert_eq!(policies[0]["id"], made_id.as_str());
    let (code, out, err) = s.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "converged after adoption:\n{out}\n{err}");

    // Retargeted outside: changed back in place, same policy.
    s.api
        .send(
            reqwest::Method::PUT,
            "network",
            &format!("/rbac-policies/{made_id}"),
            serde_json::json!({"rbac_policy": {"target_tenant": owner}}),
            &[200],
        )
        .await;
    let (code, out, err) = s.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "apply failed:\n{out}\n{err}");
    assert!(
        out.contains("Resources: 0 added, 1 changed, 0 destroyed."),
        "{out}"
    );
    let policies = s.policies_on(&network_id).await;
    assert_eq!(policies.len(), 1, "{policies:#?}");
    assert_eq!(policies[0]["id"], made_id.as_str());
    assert_eq!(policies[0]["target_tenant"], guest.as_str());

    // Deleted outside: made again.
    let (status, body) = s
        .api
        .request(
            reqwest::Method::DELETE,
            "network",
            &format!("/rbac-policies/{made_id}"),
            None,
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (code, out, err) = s.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "apply failed:\n{out}\n{err}");
    assert!(
        out.contains("Resources: 1 added, 0 changed, 0 destroyed."),
        "{out}"
    );
    let policies = s.policies_on(&network_id).await;
    assert_eq!(policies.len(), 1, "{policies:#?}");
    assert_eq!(policies[0]["target_tenant"], guest.as_str());

    let (code, out, err) = s.run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 0, "destroy failed:\n{out}\n{err}");
    s.destroyed = true;
    s.assert_no_projects().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rbac_policies_are_adopted_and_their_drift_repaired() {
    policies_are_adopted_and_their_drift_repaired(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_rbac_policies_are_adopted_and_their_drift_repaired() {
    policies_are_adopted_and_their_drift_repaired(Target::Real).await;
}

/// `shared` and `port_security_enabled` on a network, set at create and changed in place:
/// `shared` is Neutron's wildcard access_as_shared policy in the network's project.
async fn shared_and_port_security_change_in_place(target: Target) {
    let Some(mut s) = Sharing::start(target).await else {
        return;
    };
    let open = |shared: bool, port_security: bool| {
        format!(
            "[network.open]\ntenant = \"owner\"\nshared = {shared}\nport_security_enabled = {port_security}\n"
        )
    };
    s.spec(&open(true, false));
    let (code, out, err) = s.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "apply failed:\n{out}\n{err}");
    let owner = s.project_id(&s.tenant).await.expect("owner project");
    let network = s
        .api
        .one(
            "network",
            &format!("/networks?project_id={owner}"),
            "networks",
            "open",
        )
        .await;
    assert_eq!(network["shared"], true, "{network}");
    assert_eq!(network["port_security_enabled"], false, "{network}");
    let network_id = network["id"].as_str().unwrap_or_default().to_string();
    let policies = s.policies_on(&network_id).await;
    let wildcard: Vec<(&Value, &Value, &Value)> = policies
        .iter()
        .map(|p| (&p["action"], &p["target_tenant"], &p["project_id"]))
        .collect();
    assert_eq!(
        wildcard,
        [(
            &Value::from("access_as_shared"),
            &Value::from("*"),
            &Value::from(owner.as_str())
        )]
    );
    let (code, out, err) = s.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "converged:\n{out}\n{err}");

    s.spec(&open(false, true));
    let (code, out, err) = s.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "apply failed:\n{out}\n{err}");
    assert!(
        out.contains("Resources: 0 added, 1 changed, 0 destroyed."),
        "{out}"
    );
    let network = s
        .api
        .get("network", &format!("/networks/{network_id}"))
        .await;
    assert_eq!(network["network"]["shared"], false, "{network}");
    assert_eq!(
        network["network"]["port_security_enabled"], true,
        "{network}"
    );
    assert_eq!(s.policies_on(&network_id).await, Vec::<Value>::new());
    let (code, out, err) = s.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "converged:\n{out}\n{err}");

    let (code, out, err) = s.run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 0, "destroy failed:\n{out}\n{err}");
    s.destroyed = true;
    s.assert_no_projects().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_and_port_security_enabled_change_in_place() {
    shared_and_port_security_change_in_place(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_shared_and_port_security_enabled_change_in_place() {
    shared_and_port_security_change_in_place(Target::Real).await;
}
