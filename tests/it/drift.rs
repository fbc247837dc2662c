//! Drift: a resource deleted behind stackform's back is planned again with that reason, and
//! the state forgets the old id.

use reqwest::Method;

use crate::cloud_api::CloudApi;
use crate::support::{SimProcess, run_env, write_specs};

const SPEC: &str = r#"
[provider]
cloud = "env"

[tenant.drift]

[security_group.ssh]
tenant = "drift"
rules = [ { protocol = "tcp", port_range = "22", cidr = "10.0.0.0/8" } ]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_deleted_outside_stackform_is_recreated_and_the_plan_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(&dir.path().join("cloud"));
    let api = CloudApi::admin(sim.auth_url()).await;
    write_specs(dir.path(), &[("all.toml", SPEC)]);
    let (code, out, err) = run_env(dir.path(), &["apply", "--auto-approve"], &sim.env);
    assert_eq!(code, 0, "{out}\n{err}");
    let group = api
        .one("network", "/security-groups", "security_groups", "ssh")
        .await;
    let old_id = group["id"].as_str().unwrap_or_default().to_string();

    let (status, _) = api
        .request(
            Method::DELETE,
            "network",
            &format!("/security-groups/{old_id}"),
            None,
        )
        .await;
    assert_eq!(status, 204);

    let (code, out, _) = run_env(dir.path(), &["plan", "--detailed-exitcode"], &sim.env);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("# security_group.ssh will be created (deleted outside stackform)"),
        "{out}"
    );
    assert!(
        out.contains("Plan: 1 to add, 0 to change, 0 to destroy."),
        "{out}"
    );
    let (code, out, err) = run_env(dir.path(), &["apply", "--auto-approve"], &sim.env);
    assert_eq!(code, 0, "{out}\n{err}");
    let group = api
        .one("network", "/security-groups", "security_groups", "ssh")
        .await;
    let new_id = group["id"].as_str().unwrap_or_default();
    assert_ne!(new_id, old_id);
    let (_, state, _) = run_env(dir.path(), &["state", "list"], &sim.env);
    assert!(
        state.contains(&format!("security_group.ssh\t{new_id}")),
        "{state}"
    );
    assert!(!state.contains(&old_id), "{state}");
}
