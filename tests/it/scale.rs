//! Issue 8, the client's side of scale: what a no-op plan costs in calls does not grow with the
//! number of tenants (lists run across the spec's projects at once), quotas are read only for
//! the tenants whose spec sets them, and waiting for many servers polls them together.
//! Counted through the embedded cloud's own request log.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::Value;

use crate::cloud_api::CloudApi;
use crate::support::{SimProcess, run_env, write_specs};

/// `tenants` tenants of 7 resources each (tenant, network, subnet, router, security group,
/// two servers); the first one sets quotas.
fn spec(tenants: usize) -> String {
    let mut spec = String::from(
        "[provider]\ncloud = \"env\"\nexternal_network = \"public\"\nparallelism = 8\n",
    );
    for t in 0..tenants {
        let quotas = if t == 0 {
            "quotas = { vcpu = 16, instances = 8 }\n"
        } else {
            ""
        };
        spec.push_str(&format!(
            r#"
[tenant.t{t}]
{quotas}
[network.net-{t}]
tenant = "t{t}"

[subnet.sub-{t}]
network = "net-{t}"
cidr = "10.{t}.0.0/24"

[router.r-{t}]
tenant = "t{t}"
external_gateway = true
subnets = ["sub-{t}"]

[security_group.ssh-{t}]
tenant = "t{t}"
rules = [ {{ protocol = "tcp", port_range = "22", cidr = "10.0.0.0/8" }} ]

[instance.vm-{t}-a]
tenant = "t{t}"
flavor = "m1.tiny"
image = "cirros"
subnet = "sub-{t}"
security_groups = ["ssh-{t}"]

[instance.vm-{t}-b]
tenant = "t{t}"
flavor = "m1.tiny"
image = "cirros"
subnet = "sub-{t}"
"#
        ));
    }
    spec
}

/// The requests of one command, by "METHOD path" with ids and project ids replaced by `{id}`.
async fn requests_of(
    api: &CloudApi,
    dir: &std::path::Path,
    env: &[(String, String)],
    args: &[&str],
) -> (Vec<Value>, String) {
    let (status, _) = api
        .request(Method::DELETE, "identity", "/../../_sim/requests", None)
        .await;
    assert_eq!(status, 204);
    let (code, out, err) = run_env(dir, args, env);
    assert!(code == 0 || code == 2, "{args:?}:\n{out}\n{err}");
    let (status, log) = api
        .request(Method::GET, "identity", "/../../_sim/requests", None)
        .await;
    assert_eq!(status, 200);
    (log["requests"].as_array().cloned().unwrap_or_default(), out)
}

fn by_kind_of_call(requests: &[Value]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for r in requests {
        let path = r["path"].as_str().unwrap_or("");
        let shape: Vec<&str> = path
            .split('/')
            .map(|part| {
                let hexish =
                    part.len() >= 32 && part.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
                if hexish { "{id}" } else { part }
            })
            .collect();
        let key = format!("{} {}", r["method"].as_str().unwrap_or(""), shape.join("/"));
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_op_plan_costs_the_same_calls_for_two_tenants_and_for_six() {
    let mut calls = Vec::new();
    for tenants in [2, 6] {
        let dir = tempfile::tempdir().unwrap();
        let sim = SimProcess::start_with_build_delay(&dir.path().join("cloud"), 50);
        let api = CloudApi::admin(sim.auth_url()).await;
        write_specs(dir.path(), &[("all.toml", &spec(tenants))]);
        let (code, out, err) = run_env(dir.path(), &["apply", "--auto-approve"], &sim.env);
        assert_eq!(code, 0, "{out}\n{err}");
        let (requests, out) =
            requests_of(&api, dir.path(), &sim.env, &["plan", "--detailed-exitcode"]).await;
        assert!(out.contains("No changes."), "{out}");
        let counts = by_kind_of_call(&requests);
        // Quotas are read for the one tenant that sets them: one Nova and one Neutron read;
        // Cinder's are not, as the spec neither holds storage nor sets a storage quota.
        let quota_reads: usize = counts
            .iter()
            .filter(|(call, _)| call.contains("quota"))
            .map(|(_, n)| n)
            .sum();
        assert_eq!(quota_reads, 2, "{counts:#?}");
        calls.push((requests.len(), counts));
    }
    let (few, many) = (&calls[0], &calls[1]);
    assert_eq!(
        few.0, many.0,
        "calls of a no-op plan, 2 tenants: {:#?}\n6 tenants: {:#?}",
        few.1, many.1
    );
}

/// A settled spec's no-op plan lists what is inside the tenants' projects beside Keystone's
/// list of the projects, not after it: the state knows the project ids. With Keystone made
/// slow, the routers' list is answered first, and the plan still sees everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settled_plan_lists_inside_the_projects_beside_the_project_list() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimProcess::start_with_build_delay(&dir.path().join("cloud"), 50);
    let api = CloudApi::admin(sim.auth_url()).await;
    write_specs(dir.path(), &[("all.toml", &spec(2))]);
    let (code, out, err) = run_env(dir.path(), &["apply", "--auto-approve"], &sim.env);
    assert_eq!(code, 0, "{out}\n{err}");
    let slow =
        serde_json::json!({"delay": {"method": "GET", "path_suffix": "/v3/projects", "ms": 500}});
    let (status, _) = api
        .request(Method::POST, "identity", "/../../_sim/faults", Some(slow))
        .await;
    assert_eq!(status, 204);
    let (requests, out) =
        requests_of(&api, dir.path(), &sim.env, &["plan", "--detailed-exitcode"]).await;
    assert!(out.contains("No changes."), "{out}");
    let answered = |call: &str| {
        requests
            .iter()
            .position(|r| {
                format!(
                    "{} {}",
                    r["method"].as_str().unwrap_or(""),
                    r["path"].as_str().unwrap_or("")
                ) == call
            })
            .unwrap_or_else(|| panic!("{call} in {requests:#?}"))
    };
    let projects = answered("GET /identity/v3/projects");
    let routers = answered("GET /networking/v2.0/routers");
    assert!(
        routers < projects,
        "the routers' list waited for the projects' list: {requests:#?}"
    );
    // Each list once: guessing right costs no call.
    let counts = by_kind_of_call(&requests);
    assert_eq!(
        counts.get("GET /networking/v2.0/routers"),
        Some(&1),
        "{counts:#?}"
    );
    assert_eq!(
        counts.get("GET /identity/v3/projects"),
        Some(&1),
        "{counts:#?}"
    );
}

/// A spec and a state without storage (no volume, snapshot or backup, no storage quota): the
/// no-op plan asks Cinder nothing, neither its lists nor its catalog (types, zones, limits).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_op_plan_without_storage_makes_no_cinder_call() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimProcess::start_with_build_delay(&dir.path().join("cloud"), 50);
    let api = CloudApi::admin(sim.auth_url()).await;
    // A catalog kept in the state would hide a pull of Cinder's: it is kept for a second only.
    let text = spec(1).replacen("[provider]\n", "[provider]\ncatalog_max_age = \"1s\"\n", 1);
    write_specs(dir.path(), &[("all.toml", &text)]);
    let (code, out, err) = run_env(dir.path(), &["apply", "--auto-approve"], &sim.env);
    assert_eq!(code, 0, "{out}\n{err}");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (requests, out) =
        requests_of(&api, dir.path(), &sim.env, &["plan", "--detailed-exitcode"]).await;
    assert!(out.contains("No changes."), "{out}");
    let counts = by_kind_of_call(&requests);
    let cinder: Vec<&String> = counts
        .keys()
        .filter(|call| call.contains(" /volume/"))
        .collect();
    assert!(cinder.is_empty(), "Cinder calls: {cinder:?}\n{counts:#?}");
    // The other lists are still made.
    assert_eq!(
        counts.get("GET /compute/v2.1/servers/detail"),
        Some(&1),
        "{counts:#?}"
    );
}

/// Destroying instances deletes the ports stackform made for them from the refresh's list of
/// ports: no list of its own per instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroying_instances_lists_the_ports_once() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimProcess::start_with_build_delay(&dir.path().join("cloud"), 50);
    let api = CloudApi::admin(sim.auth_url()).await;
    write_specs(dir.path(), &[("all.toml", &spec(1))]);
    let (code, out, err) = run_env(dir.path(), &["apply", "--auto-approve"], &sim.env);
    assert_eq!(code, 0, "{out}\n{err}");
    let (requests, out) =
        requests_of(&api, dir.path(), &sim.env, &["destroy", "--auto-approve"]).await;
    assert!(out.contains("7 destroyed"), "{out}");
    let counts = by_kind_of_call(&requests);
    assert_eq!(
        counts.get("GET /networking/v2.0/ports"),
        Some(&1),
        "{counts:#?}"
    );
    // Both servers' ports are gone with them.
    let (status, ports) = api.request(Method::GET, "network", "/ports", None).await;
    assert_eq!(status, 200);
    let left: Vec<&Value> = ports["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| {
            p["tags"].as_array().into_iter().flatten().any(|t| {
                t.as_str()
                    .is_some_and(|t| t.starts_with("stackform:instance."))
            })
        })
        .collect();
    assert!(left.is_empty(), "ports left: {left:?}");
}

/// Six servers building for 2 s each, at two calls in flight: the servers are created side by
/// side (a server waiting for its build holds no call slot) and their builds are watched with
/// lists shared by all of them, never one GET per server per poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_servers_hold_no_call_slot_and_share_their_polls() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimProcess::start_with_build_delay(&dir.path().join("cloud"), 2000);
    let api = CloudApi::admin(sim.auth_url()).await;
    let mut text = String::from(
        "[provider]\ncloud = \"env\"\nparallelism = 2\n\n[tenant.wide]\n\n[network.net]\ntenant = \"wide\"\n\n[subnet.sub]\nnetwork = \"net\"\ncidr = \"10.9.0.0/24\"\n",
    );
    for i in 0..6 {
        text.push_str(&format!(
            "\n[instance.vm-{i}]\ntenant = \"wide\"\nflavor = \"m1.tiny\"\nimage = \"cirros\"\nsubnet = \"sub\"\n"
        ));
    }
    write_specs(dir.path(), &[("all.toml", &text)]);
    let (requests, out) =
        requests_of(&api, dir.path(), &sim.env, &["apply", "--auto-approve"]).await;
    assert!(out.contains("9 added"), "{out}");
    let counts = by_kind_of_call(&requests);
    let server_gets = counts
        .get("GET /compute/v2.1/servers/{id}")
        .copied()
        .unwrap_or(0);
    let server_lists = counts
        .get("GET /compute/v2.1/servers/detail")
        .copied()
        .unwrap_or(0);
    assert_eq!(server_gets, 0, "{counts:#?}");
    // Held slots would build the servers two by two (three rounds of 2 s, each server polled
    // about six times: 36 polls); shared polls of side-by-side builds make a handful.
    assert!(
        server_lists <= 12,
        "{server_lists} server lists: {counts:#?}"
    );
}

/// Ten volumes made in one apply, each creating for 1.5 s: their waits read one list of the
/// project's volumes per poll, shared by all ten, never one GET per volume per poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_volumes_share_their_polls() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimProcess::start_with_args(
        &dir.path().join("cloud"),
        &["--build-delay-ms", "50", "--volume-delay-ms", "1500"],
    );
    let api = CloudApi::admin(sim.auth_url()).await;
    let mut text = String::from("[provider]\ncloud = \"env\"\n\n[tenant.disks]\n");
    for i in 0..10 {
        text.push_str(&format!(
            "\n[volume.disk-{i}]\ntenant = \"disks\"\nsize = 1\n"
        ));
    }
    write_specs(dir.path(), &[("all.toml", &text)]);
    let (requests, out) =
        requests_of(&api, dir.path(), &sim.env, &["apply", "--auto-approve"]).await;
    assert!(out.contains("11 added"), "{out}");
    let counts = by_kind_of_call(&requests);
    let volume_gets = counts
        .get("GET /volume/v3/{id}/volumes/{id}")
        .copied()
        .unwrap_or(0);
    let volume_lists = counts
        .get("GET /volume/v3/{id}/volumes/detail")
        .copied()
        .unwrap_or(0);
    assert_eq!(volume_gets, 0, "{counts:#?}");
    // One GET per volume per poll would be about 50 (five polls each over 1.5 s); shared polls
    // at a quarter of a second make a handful, the refresh's list included.
    assert!(
        volume_lists <= 12,
        "{volume_lists} volume lists: {counts:#?}"
    );
    let listed = api
        .request(
            Method::GET,
            "volumev3",
            "/volumes/detail?all_tenants=1",
            None,
        )
        .await;
    let available = listed.1["volumes"]
        .as_array()
        .map(|v| v.iter().filter(|v| v["status"] == "available").count());
    assert_eq!(available, Some(10), "{}", listed.1);
}

/// Detaching volumes waits on the same shared list of the project's volumes: no GET per volume
/// per poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detaching_volumes_share_their_polls() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimProcess::start_with_args(
        &dir.path().join("cloud"),
        &["--build-delay-ms", "50", "--volume-delay-ms", "800"],
    );
    let api = CloudApi::admin(sim.auth_url()).await;
    let spec = |attached: &str| {
        let mut text = format!(
            "[provider]\ncloud = \"env\"\n\n[tenant.disks]\n\n[network.net]\ntenant = \"disks\"\n\n\
             [subnet.sub]\nnetwork = \"net\"\ncidr = \"10.9.0.0/24\"\n\n[instance.vm]\n\
             tenant = \"disks\"\nflavor = \"m1.tiny\"\nimage = \"cirros\"\nsubnet = \"sub\"\n\
             volumes = [{attached}]\n"
        );
        for i in 0..4 {
            text.push_str(&format!(
                "\n[volume.disk-{i}]\ntenant = \"disks\"\nsize = 1\n"
            ));
        }
        text
    };
    let all = "\"disk-0\", \"disk-1\", \"disk-2\", \"disk-3\"";
    write_specs(dir.path(), &[("all.toml", &spec(all))]);
    let (code, out, err) = run_env(dir.path(), &["apply", "--auto-approve"], &sim.env);
    assert_eq!(code, 0, "{out}\n{err}");
    write_specs(dir.path(), &[("all.toml", &spec(""))]);
    let (requests, out) =
        requests_of(&api, dir.path(), &sim.env, &["apply", "--auto-approve"]).await;
    assert!(out.contains("0 added, 1 changed, 0 destroyed"), "{out}");
    let counts = by_kind_of_call(&requests);
    assert_eq!(
        counts.get("DELETE /compute/v2.1/servers/{id}/os-volume_attachments/{id}"),
        Some(&4),
        "{counts:#?}"
    );
    assert_eq!(
        counts.get("GET /volume/v3/{id}/volumes/{id}"),
        None,
        "{counts:#?}"
    );
    let (_, listed) = api
        .request(
            Method::GET,
            "volumev3",
            "/volumes/detail?all_tenants=1",
            None,
        )
        .await;
    let available = listed["volumes"]
        .as_array()
        .map(|v| v.iter().filter(|v| v["status"] == "available").count());
    assert_eq!(available, Some(4), "{listed}");
}
