//! `stackform apply` against the embedded cloud run as its own process, seen from outside:
//! what a failure line tells the operator, and how `--parallelism` shapes the calls (read from
//! the cloud's own request log).

use reqwest::Method;
use serde_json::{Value, json};

use crate::cloud_api::CloudApi;
use crate::support::{SimProcess, run_env, write_specs};

const NETWORK: &str = r#"
[provider]
cloud = "env"

[tenant.rid]

[network.net]
tenant = "rid"
"#;

/// The request id is what a cloud operator needs to find the call in the service's logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_failure_line_names_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(&dir.path().join("cloud"));
    let api = CloudApi::admin(sim.auth_url()).await;
    let (status, body) = api
        .request(
            Method::POST,
            "identity",
            "/../../_sim/faults",
            Some(
                json!({"fail": {"method": "POST", "path_suffix": "/v2.0/networks",
                                 "status": 409, "count": 5}}),
            ),
        )
        .await;
    assert!(status < 300, "fault injection: {status} {body}");
    write_specs(dir.path(), &[("all.toml", NETWORK)]);
    let (code, out, err) = run_env(dir.path(), &["apply", "--auto-approve"], &sim.env);
    assert_eq!(code, 1, "{out}\n{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("network.net: ") && l.contains(" failed: "))
        .unwrap_or_else(|| panic!("no failure line for network.net:\n{out}"));
    assert!(line.contains("409 Conflict"), "{line}");
    let id = line
        .split("(request ")
        .nth(1)
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no request id in: {line}"));
    assert!(
        id.starts_with("req-") && id.len() == "req-".len() + 36,
        "{line}"
    );
    assert!(out.contains("Apply failed: 1 failed"), "{out}");
}

const TWO_SERVERS: &str = r#"
[provider]
cloud = "env"
parallelism = 8

[tenant.par]
quotas = { vcpu = 8, instances = 4 }

[network.net]
tenant = "par"

[subnet.sub]
network = "net"
cidr = "10.30.0.0/24"

[instance.a]
tenant = "par"
flavor = "m1.tiny"
image = "cirros"
subnet = "sub"

[instance.b]
tenant = "par"
flavor = "m1.tiny"
image = "cirros"
subnet = "sub"
"#;

/// Whether the two servers were built side by side: the second POST /servers came before the
/// first server was ACTIVE (its build outlasts the whole burst of creates by far).
fn servers_built_side_by_side(log: &Value) -> bool {
    let requests = log["requests"].as_array().cloned().unwrap_or_default();
    let path = |r: &Value| r["path"].as_str().unwrap_or("").to_string();
    let posts: Vec<usize> = requests
        .iter()
        .enumerate()
        .filter(|(_, r)| r["method"] == "POST" && path(r).ends_with("/servers"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(posts.len(), 2, "two server creates: {requests:?}");
    // Polls of the first server's build between the two creates: a build of 1.5 s polled
    // from 200 ms on would show several if the second create waited for it.
    let polls_between = requests[posts[0]..posts[1]]
        .iter()
        .filter(|r| r["method"] == "GET" && path(r).contains("/servers"))
        .count();
    polls_between <= 1
}

async fn apply_and_read_the_log(args: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    // Long enough that overlapping creates cannot miss each other on a loaded machine.
    let sim = SimProcess::start_with_build_delay(&dir.path().join("cloud"), 1500);
    let api = CloudApi::admin(sim.auth_url()).await;
    write_specs(dir.path(), &[("all.toml", TWO_SERVERS)]);
    // Calls that take a while, as on a real cloud: concurrent ones then overlap.
    let latency = serde_json::json!({"latency_ms": [30, 30]});
    let (status, _) = api
        .request(Method::PUT, "identity", "/../../_sim/chaos", Some(latency))
        .await;
    assert_eq!(status, 204);
    let (status, _) = api
        .request(Method::DELETE, "identity", "/../../_sim/requests", None)
        .await;
    assert_eq!(status, 204);
    let (code, out, err) = run_env(dir.path(), args, &sim.env);
    assert_eq!(code, 0, "{out}\n{err}");
    let (status, log) = api
        .request(Method::GET, "identity", "/../../_sim/requests", None)
        .await;
    assert_eq!(status, 200);
    log
}

/// `--parallelism` reaches the cloud and wins over `[provider] parallelism`: with 1, the cloud
/// never serves two of stackform's calls at once; with the spec's 8, it does. Either way the
/// two servers build side by side: a server waiting for its build makes no call, so it holds
/// no slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_parallelism_flag_bounds_the_calls_in_flight() {
    let serial = apply_and_read_the_log(&["apply", "--auto-approve", "--parallelism", "1"]).await;
    assert_eq!(serial["peak_in_flight"], 1, "{serial}");
    assert!(servers_built_side_by_side(&serial), "{serial}");
    let parallel = apply_and_read_the_log(&["apply", "--auto-approve"]).await;
    assert!(
        parallel["peak_in_flight"].as_u64().unwrap_or(0) > 1,
        "{parallel}"
    );
    assert!(servers_built_side_by_side(&parallel), "{parallel}");
}
