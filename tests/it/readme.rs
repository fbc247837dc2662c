//! The README's main job: `stackform apply --auto-approve` of the repository's `specs/` on the
//! embedded cloud converges, and a second run changes nothing.

use crate::cloud_api::CloudApi;
use crate::support::run_in;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_specs_converge_on_the_embedded_cloud() {
    let repo = env!("CARGO_MANIFEST_DIR");
    let state = tempfile::tempdir().unwrap();
    let state_arg = state.path().to_string_lossy().into_owned();
    let specs = format!("{repo}/specs");
    let args = |cmd: &[&'static str]| -> Vec<String> {
        let mut v: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
        v.extend([
            "--specs".into(),
            specs.clone(),
            "--state".into(),
            state_arg.clone(),
        ]);
        v
    };
    let run = |cmd: &[&'static str]| {
        let a = args(cmd);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        run_in(state.path(), &refs)
    };

    let (code, out, err) = run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("Apply complete! Resources: 7 added, 0 changed, 0 destroyed."),
        "{out}"
    );
    let (code, out, err) = run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("No changes."), "{out}");
    let (code, out, _) = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");

    // What the embedded cloud holds, read back through its API.
    {
        let handle = stackform::sim::Sim::start_on_loopback(stackform::sim::SimConfig {
            data_dir: Some(state.path().join("cloud")),
            ..Default::default()
        })
        .await
        .expect("serves");
        let api = CloudApi::admin(&handle.auth_url).await;
        let web1 = api
            .one(
                "compute",
                "/servers/detail?all_tenants=1",
                "servers",
                "web-1",
            )
            .await;
        let web2 = api
            .one(
                "compute",
                "/servers/detail?all_tenants=1",
                "servers",
                "web-2",
            )
            .await;
        assert_eq!(web1["status"], "ACTIVE");
        assert_eq!(web2["status"], "SHUTOFF");
        let subnet = api
            .one("network", "/subnets", "subnets", "demo-subnet")
            .await;
        assert_eq!(subnet["cidr"], "192.168.42.0/24");
        handle.stop().await;
    }

    let (code, out, err) = run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("0 added, 0 changed, 7 destroyed."), "{out}");
}

const KINDS_BEGIN: &str = "<!-- kinds: written from the registry by tests/it/readme.rs -->\n";
const KINDS_END: &str = "<!-- end of kinds -->";

/// The README's reference of kinds is the registry's: this fails when a kind or an attribute
/// changed and the README did not. `STACKFORM_BLESS=1 cargo test --test it readme` rewrites it.
#[test]
fn the_readme_reference_of_kinds_is_the_registry() {
    let path = format!("{}/README.md", env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(&path).unwrap();
    let (Some(begin), Some(end)) = (readme.find(KINDS_BEGIN), readme.find(KINDS_END)) else {
        panic!("README.md lacks the markers {KINDS_BEGIN:?} … {KINDS_END:?}");
    };
    let written = &readme[begin + KINDS_BEGIN.len()..end];
    let wanted = stackform::render::reference::kinds_table();
    if written != wanted && std::env::var_os("STACKFORM_BLESS").is_some() {
        let updated = format!(
            "{}{wanted}{}",
            &readme[..begin + KINDS_BEGIN.len()],
            &readme[end..]
        );
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert_eq!(
        written, wanted,
        "README.md's reference of kinds is out of date: run `STACKFORM_BLESS=1 cargo test --test it readme`"
    );
}
