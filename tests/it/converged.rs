//! A converged apply reads and changes nothing: the cloud's own request log shows only reads
//! (and the token request every client makes).

use reqwest::Method;
use serde_json::Value;

use crate::cloud_api::CloudApi;
use crate::support::{SimProcess, run_env, write_specs};

const SPEC: &str = r#"
[provider]
cloud = "env"
external_network = "public"

[tenant.quiet]
quotas = { vcpu = 8, instances = 4 }

[network.net]
tenant = "quiet"

[subnet.sub]
network = "net"
cidr = "10.20.0.0/24"

[router.r]
tenant = "quiet"
external_gateway = true
subnets = ["sub"]

[security_group.ssh]
tenant = "quiet"
rules = [ { protocol = "tcp", port_range = "22", cidr = "10.0.0.0/8" } ]

[instance.vm]
tenant = "quiet"
flavor = "m1.tiny"
image = "cirros"
subnet = "sub"
security_groups = ["ssh"]
power_state = "stopped"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_apply_makes_no_write_calls() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(&dir.path().join("cloud"));
    let api = CloudApi::admin(sim.auth_url()).await;
    write_specs(dir.path(), &[("all.toml", SPEC)]);
    let (code, out, err) = run_env(dir.path(), &["apply", "--auto-approve"], &sim.env);
    assert_eq!(code, 0, "{out}\n{err}");

    let (status, _) = api
        .request(Method::DELETE, "identity", "/../../_sim/requests", None)
        .await;
    assert_eq!(status, 204);
    let (code, out, err) = run_env(dir.path(), &["apply", "--auto-approve"], &sim.env);
    assert_eq!(
        (code, out.trim()),
        (0, "No changes. The cloud matches the spec."),
        "{err}"
    );
    let (status, log) = api
        .request(Method::GET, "identity", "/../../_sim/requests", None)
        .await;
    assert_eq!(status, 200);
    let requests = log["requests"].as_array().cloned().unwrap_or_default();
    let writes: Vec<&Value> = requests
        .iter()
        .filter(|r| {
            r["method"] != "GET" && !r["path"].as_str().unwrap_or("").ends_with("/auth/tokens")
        })
        .collect();
    assert!(writes.is_empty(), "a converged apply wrote: {writes:?}");
    // Refresh lists; it does not get resource by resource.
    let gets_by_id = requests
        .iter()
        .filter(|r| {
            let path = r["path"].as_str().unwrap_or("");
            path.contains("/servers/") && !path.ends_with("/detail")
        })
        .count();
    assert_eq!(gets_by_id, 0, "{requests:?}");
    assert!(
        requests.len() < 30,
        "{} requests for one tenant: {requests:?}",
        requests.len()
    );
}
