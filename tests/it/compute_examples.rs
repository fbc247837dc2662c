//! `examples/resize/` and `examples/server-groups/` apply as they are on the embedded cloud,
//! and the cloud holds what they say.

use serde_json::Value;

use crate::cloud_api::CloudApi;

/// Runs stackform on spec folder `examples/<specs>` with the state in `state`.
fn run(state: &std::path::Path, specs: &str, cmd: &[&str]) -> (i32, String, String) {
    let repo = env!("CARGO_MANIFEST_DIR");
    let specs = format!("{repo}/examples/{specs}");
    let state_arg = state.to_string_lossy().into_owned();
    let mut args: Vec<&str> = cmd.to_vec();
    args.extend(["--specs", &specs, "--state", &state_arg]);
    crate::support::run_in(state, &args)
}

/// The embedded cloud of the state in `state`, served while the assertions read it.
async fn serve(state: &std::path::Path) -> (stackform::sim::SimHandle, CloudApi) {
    let handle = stackform::sim::Sim::start_on_loopback(stackform::sim::SimConfig {
        data_dir: Some(state.join("cloud")),
        ..Default::default()
    })
    .await
    .expect("serves");
    let api = CloudApi::admin(&handle.auth_url).await;
    (handle, api)
}

/// The server named `name`, as the admin sees it.
async fn server(api: &CloudApi, name: &str) -> Value {
    api.one("compute", "/servers/detail?all_tenants=1", "servers", name)
        .await
}

/// Step 1 boots `app` on m1.tiny with a volume attached; step 2 only changes its flavor: the
/// plan says it is resized in place, and after the apply the same server (same id, same
/// port, volume still attached) runs on m1.small.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resize_example_resizes_in_place() {
    let state = tempfile::tempdir().unwrap();
    let (code, out, err) = run(state.path(), "resize/1-tiny", &["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("Apply complete! Resources: 5 added, 0 changed, 0 destroyed."),
        "{out}"
    );
    let before = {
        let (handle, api) = serve(state.path()).await;
        let app = server(&api, "app").await;
        handle.stop().await;
        app
    };
    assert_eq!(before["flavor"]["original_name"], "m1.tiny", "{before}");

    let (code, out, err) = run(
        state.path(),
        "resize/2-small",
        &["plan", "--detailed-exitcode"],
    );
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        out.contains("resized in place (flavor m1.tiny → m1.small)"),
        "{out}"
    );
    assert!(out.contains("0 to add, 1 to change, 0 to destroy"), "{out}");
    let (code, out, err) = run(state.path(), "resize/2-small", &["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = run(
        state.path(),
        "resize/2-small",
        &["plan", "--detailed-exitcode"],
    );
    assert_eq!(code, 0, "converged:\n{out}\n{err}");

    {
        let (handle, api) = serve(state.path()).await;
        let app = server(&api, "app").await;
        assert_eq!(app["id"], before["id"], "the same server: {app}");
        assert_eq!(app["status"], "ACTIVE", "{app}");
        assert_eq!(app["flavor"]["original_name"], "m1.small", "{app}");
        assert_eq!(
            app["addresses"], before["addresses"],
            "the same port: {app}"
        );
        let attached: Vec<&Value> = app["os-extended-volumes:volumes_attached"]
            .as_array()
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(attached.len(), 1, "the volume stays attached: {app}");
        handle.stop().await;
    }
    let (code, out, err) = run(
        state.path(),
        "resize/2-small",
        &["destroy", "--auto-approve"],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("5 destroyed"), "{out}");
}

/// Two front ends in an anti-affinity group (two per host allowed), a database and its cache
/// in an affinity group: the groups hold their policy, rules and members, every server runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_groups_example_applies_as_it_is() {
    let state = tempfile::tempdir().unwrap();
    let (code, out, err) = run(state.path(), "server-groups", &["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("Apply complete! Resources: 9 added, 0 changed, 0 destroyed."),
        "{out}"
    );
    let (code, out, err) = run(
        state.path(),
        "server-groups",
        &["plan", "--detailed-exitcode"],
    );
    assert_eq!(code, 0, "converged:\n{out}\n{err}");

    {
        let (handle, api) = serve(state.path()).await;
        let project = api.one("identity", "/projects", "projects", "web").await;
        let groups: Vec<Value> = api
            .list(
                "compute",
                "/os-server-groups?all_projects=True",
                "server_groups",
            )
            .await
            .into_iter()
            .filter(|g| g["project_id"] == project["id"])
            .collect();
        assert_eq!(groups.len(), 2, "{groups:?}");
        let mut servers = std::collections::BTreeMap::new();
        for name in ["front-1", "front-2", "db", "cache"] {
            let s = server(&api, name).await;
            assert_eq!(s["status"], "ACTIVE", "{s}");
            servers.insert(name, s["id"].as_str().unwrap_or_default().to_string());
        }
        for (policy, rules, members) in [
            (
                "anti-affinity",
                serde_json::json!({"max_server_per_host": 2}),
                ["front-1", "front-2"],
            ),
            ("affinity", serde_json::json!({}), ["db", "cache"]),
        ] {
            let Some(group) = groups.iter().find(|g| g["policy"] == policy) else {
                panic!("a group of policy {policy}: {groups:?}");
            };
            assert_eq!(group["rules"], rules, "{group}");
            let mut held: Vec<&str> = group["members"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            held.sort();
            let mut wanted: Vec<&str> = members.iter().map(|m| servers[m].as_str()).collect();
            wanted.sort();
            assert_eq!(held, wanted, "members of the {policy} group: {group}");
        }
        handle.stop().await;
    }
    let (code, out, err) = run(
        state.path(),
        "server-groups",
        &["destroy", "--auto-approve"],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("9 destroyed"), "{out}");
}

/// `examples/boot/` applies as it is: one server booted from a volume of the spec, one from a
/// volume Nova makes from the image; converged after; destroyed in one apply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_boot_example_applies_as_it_is() {
    let state = tempfile::tempdir().unwrap();
    let (code, out, err) = run(state.path(), "boot", &["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("Apply complete! Resources: 6 added, 0 changed, 0 destroyed."),
        "{out}"
    );
    let (code, out, err) = run(state.path(), "boot", &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "converged:\n{out}\n{err}");
    {
        let (handle, api) = serve(state.path()).await;
        for name in ["db", "web"] {
            let s = server(&api, name).await;
            assert_eq!(s["status"], "ACTIVE", "{s}");
            // Booted from a volume: Nova shows no image.
            assert_eq!(s["image"], "", "{s}");
        }
        handle.stop().await;
    }
    let (code, out, err) = run(state.path(), "boot", &["destroy", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("6 destroyed"), "{out}");
}
