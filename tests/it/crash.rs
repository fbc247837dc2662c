//! `kill -9` at random moments of an apply, a replacement and a destroy of ~50 resources in
//! five tenants: after each kill the next apply converges on its first try, the cloud holds
//! exactly one object per address, the state knows every one, and a plan is empty.
//!
//! Seeded (`STACKFORM_CRASH_SEED`), 25 kill points when `CI` is set, 6 otherwise
//! (`STACKFORM_CRASH_POINTS` overrides); each failure prints its seed and point.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use stackform::sim::SimConfig;

use crate::cloud_api::CloudApi;
use crate::sim_common::{fast_config, start_with};
use crate::support::{decode, run_env, stackform, write_specs};

const TENANTS: usize = 5;

/// Five tenants of ten resources each; `variant` moves every second subnet to another CIDR,
/// which replaces it and the instances on it and relinks its router.
fn spec(variant: u8) -> String {
    let mut out = String::from(
        "[provider]\ncloud = \"env\"\nexternal_network = \"public\"\nparallelism = 6\n",
    );
    for t in 0..TENANTS {
        let moved = if variant == 1 { 100 } else { 0 };
        out.push_str(&format!(
            r#"
[tenant.t{t}]
quotas = {{ instances = 10, vcpu = 20 }}

[network.t{t}-net]
tenant = "t{t}"

[subnet.t{t}-a]
network = "t{t}-net"
cidr = "10.{t}.1.0/24"

[subnet.t{t}-b]
network = "t{t}-net"
cidr = "10.{t}.{b}.0/24"

[router.t{t}-r]
tenant = "t{t}"
external_gateway = true
subnets = ["t{t}-a", "t{t}-b"]

[security_group.t{t}-web]
tenant = "t{t}"
rules = [ {{ protocol = "tcp", port_range = "80", cidr = "0.0.0.0/0" }} ]
"#,
            b = 2 + moved
        ));
        for i in 0..4 {
            let subnet = if i % 2 == 0 { "a" } else { "b" };
            out.push_str(&format!(
                "\n[instance.t{t}-vm{i}]\ntenant = \"t{t}\"\nflavor = \"m1.tiny\"\nimage = \"cirros\"\nsubnet = \"t{t}-{subnet}\"\nsecurity_groups = [\"t{t}-web\"]\n"
            ));
        }
    }
    out
}

const RESOURCES: usize = TENANTS * 10;

/// Objects per address (by ownership tag, or a server's address metadata) across the cloud.
async fn owned(api: &CloudApi) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    let mut add = |addr: &str| *counts.entry(addr.to_string()).or_insert(0) += 1;
    let tags = |item: &Value| -> Vec<String> {
        item["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str()?.strip_prefix("stackform:").map(str::to_string))
            .collect()
    };
    for project in api.list("identity", "/projects", "projects").await {
        tags(&project).iter().for_each(|a| add(a));
    }
    for (path, key) in [
        ("/networks", "networks"),
        ("/subnets", "subnets"),
        ("/routers", "routers"),
        ("/security-groups", "security_groups"),
    ] {
        for item in api.list("network", path, key).await {
            tags(&item).iter().for_each(|a| add(a));
        }
    }
    let servers = api.get("compute", "/servers/detail?all_tenants=1").await;
    for server in servers["servers"].as_array().into_iter().flatten() {
        if let Some(addr) = server["metadata"]["stackform_address"].as_str() {
            add(addr);
        }
    }
    counts
}

fn env_var<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok()?.parse().ok()
}

/// Starts `args` and kills it with SIGKILL after `after`; returns whether it was still running.
fn kill_after(dir: &Path, args: &[&str], env: &[(String, String)], after: Duration) -> bool {
    let mut child = stackform()
        .args(args)
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("stackform starts");
    std::thread::sleep(after);
    let running = matches!(child.try_wait(), Ok(None));
    let _ = child.kill();
    let _ = child.wait();
    running
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_any_moment_costs_no_duplicate_and_no_lost_resource() {
    let seed: u64 = env_var("STACKFORM_CRASH_SEED").unwrap_or(20261127);
    let default_points = if std::env::var_os("CI").is_some() {
        25
    } else {
        6
    };
    let points: usize = env_var("STACKFORM_CRASH_POINTS").unwrap_or(default_points);
    let mut rng = fastrand::Rng::with_seed(seed);

    // Servers stay in BUILD long enough for kills to land while they build.
    let cloud = start_with(SimConfig {
        build_delay: Duration::from_millis(1000),
        ..fast_config()
    })
    .await;
    let auth_url = format!("{}/identity/v3", cloud.handle.base_url);
    let api = CloudApi::admin(&auth_url).await;
    let env: Vec<(String, String)> = [
        ("OS_AUTH_URL", auth_url.as_str()),
        ("OS_USERNAME", stackform::sim::ADMIN_USER),
        ("OS_PASSWORD", stackform::sim::ADMIN_PASSWORD),
        ("OS_PROJECT_NAME", stackform::sim::ADMIN_PROJECT),
        ("OS_USER_DOMAIN_NAME", "Default"),
        ("OS_PROJECT_DOMAIN_NAME", "Default"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().to_path_buf();
    let mut variant = 0u8;
    write_specs(&dir, &[("all.toml", &spec(variant))]);

    for point in 0..points {
        let phase = ["create", "replace", "destroy"][point % 3];
        let (args, delay_ms): (&[&str], u64) = match phase {
            "replace" => {
                variant = 1 - variant;
                write_specs(&dir, &[("all.toml", &spec(variant))]);
                (&["apply", "--auto-approve"], rng.u64(100..2500))
            }
            "destroy" => (&["destroy", "--auto-approve"], rng.u64(100..2000)),
            _ => {
                // From nothing, so the killed apply is creating.
                let (code, out, err) = run_env(&dir, &["destroy", "--auto-approve"], &env);
                assert_eq!(code, 0, "seed {seed}, point {point}: destroy\n{out}\n{err}");
                (&["apply", "--auto-approve"], rng.u64(50..3000))
            }
        };
        let context = format!("seed {seed}, point {point} ({phase}, killed after {delay_ms} ms)");
        let (dir_c, env_c) = (dir.clone(), env.clone());
        let killed = tokio::task::spawn_blocking(move || {
            kill_after(&dir_c, args, &env_c, Duration::from_millis(delay_ms))
        })
        .await
        .unwrap();

        let (dir_c, env_c) = (dir.clone(), env.clone());
        let (code, out, err) = tokio::task::spawn_blocking(move || {
            run_env(&dir_c, &["apply", "--auto-approve"], &env_c)
        })
        .await
        .unwrap();
        assert_eq!(
            code, 0,
            "{context}: the first apply after the kill failed\n{out}\n{err}"
        );

        let counts = owned(&api).await;
        let duplicates: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            duplicates.is_empty(),
            "{context}: duplicates {duplicates:?}"
        );
        assert_eq!(counts.len(), RESOURCES, "{context}: {counts:?}");

        let state = stackform()
            .args(["state", "list"])
            .current_dir(&dir)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("state list runs");
        let (code, listed, err) = decode(state);
        assert_eq!(code, 0, "{context}: {err}");
        let in_state: Vec<&str> = listed.lines().collect();
        for addr in counts.keys() {
            assert!(
                in_state.iter().any(|l| l.starts_with(addr.as_str())),
                "{context}: {addr} is in the cloud but not in the state:\n{listed}"
            );
        }
        let (code, out, err) = run_env(&dir, &["plan", "--detailed-exitcode"], &env);
        assert_eq!(code, 0, "{context}: not converged\n{out}\n{err}");
        eprintln!(
            "{context}: converged (the killed run was {})",
            if killed { "mid-way" } else { "already done" }
        );
    }
    drop(cloud);
}
