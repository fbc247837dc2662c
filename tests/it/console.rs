//! `stackform console` and `stackform console-log` on both targets: the embedded cloud (a
//! `stackform sim` process, noVNC enabled as its default) and the real Nova of
//! `REAL_OS_OPENRC` (the `real_*` test), whose harness runs no console proxy (`[vnc] enabled
//! = false`) and whose fake driver answers every console output with a fixed text.

use serde_json::Value;

use crate::scenario::{Scenario, Setup, Target};

struct Cloud(Scenario);

impl std::ops::Deref for Cloud {
    type Target = Scenario;
    fn deref(&self) -> &Scenario {
        &self.0
    }
}

impl Cloud {
    async fn start(target: Target) -> Option<Cloud> {
        Scenario::start(target, Setup::new("consoles", "sf-con"))
            .await
            .map(Cloud)
    }

    /// The tenant, a subnet and the instances `names`.
    fn spec(&self, names: &[&str]) {
        let mut text = format!(
            "[provider]\ncloud = \"env\"\ntimeout = \"300s\"\n\n[tenant.t]\nname = \"{}\"\n\n\
             [network.net]\ntenant = \"t\"\n\n[subnet.sub]\nnetwork = \"net\"\ncidr = \"10.62.0.0/24\"\n",
            self.tenant
        );
        for name in names {
            text.push_str(&format!(
                "\n[instance.{name}]\ntenant = \"t\"\nflavor = \"{}\"\nimage = \"cirros\"\nsubnet = \"sub\"\n",
                self.flavor
            ));
        }
        self.write(&[("all.toml", &text)]);
    }

    async fn server(&self, name: &str) -> Value {
        let project = self
            .api
            .one("identity", "/projects", "projects", &self.tenant)
            .await;
        let project = project["id"].as_str().unwrap_or_default().to_string();
        let found: Vec<Value> = self
            .api
            .list(
                "compute",
                &format!("/servers/detail?all_tenants=1&project_id={project}&name=^{name}$"),
                "servers",
            )
            .await;
        assert_eq!(found.len(), 1, "one server {name}: {found:?}");
        found.into_iter().next().unwrap_or(Value::Null)
    }
}

/// The boot log the embedded Nova writes for `server` (see src/sim/compute/consoles.rs).
fn embedded_boot_log(server: &Value) -> Vec<String> {
    let name = server["name"].as_str().unwrap_or_default();
    let instance = server["OS-EXT-SRV-ATTR:instance_name"]
        .as_str()
        .unwrap_or_default();
    // Nova's launched_at is "2026-01-02T03:04:05.000000": the log says it to the second.
    let launched = server["OS-SRV-USG:launched_at"]
        .as_str()
        .unwrap_or_default();
    let booted = format!("{}Z", launched.get(..19).unwrap_or_default());
    vec![
        "[    0.000000] Linux version 6.1.0-stackform (stackform-sim) #1 SMP".to_string(),
        format!("[    0.000000] Command line: console=ttyS0 root=/dev/vda1 ({instance})"),
        "[    1.204518] Run /sbin/init as init process".to_string(),
        format!("cloud-init: hostname set to {name}"),
        format!("cloud-init: boot finished at {booted}"),
        format!("{name} login: "),
    ]
}

/// The console URL of an ACTIVE instance (noVNC on the embedded cloud, refused with Nova's
/// reason by the real one), the types neither cloud enabled, the whole and the tailed console
/// output, and the addresses that are no instance of the state.
async fn consoles(target: Target) {
    let Some(cloud) = Cloud::start(target).await else {
        return;
    };
    cloud.spec(&["web"]);
    let (code, out, err) = cloud.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "apply:\n{out}\n{err}");
    // In the spec, not applied: a console of it cannot exist yet.
    cloud.spec(&["web", "later"]);
    let server = cloud.server("web").await;
    assert_eq!(server["status"], "ACTIVE", "{server}");

    let (code, out, err) = cloud.run(&["console", "instance.web"]);
    match cloud.sim() {
        Some(sim) => {
            assert_eq!(code, 0, "{out}\n{err}");
            let base = sim.auth_url().trim_end_matches("/identity/v3");
            let prefix = format!("{base}/vnc_auto.html?path=%3Ftoken%3D");
            let token = out.trim_end().strip_prefix(&prefix).unwrap_or_default();
            assert!(
                uuid::Uuid::parse_str(token).is_ok() && out.ends_with('\n'),
                "a noVNC URL with a token: {out:?}"
            );
        }
        None => {
            assert_eq!((code, out.as_str()), (1, ""), "{err}");
            assert_eq!(
                err,
                "error: instance.web: the cloud has not enabled novnc consoles (Nova: \
                 Unavailable console type novnc.)\n"
            );
        }
    }
    for (kind, nova_type) in [("spice", "spice-html5"), ("serial", "serial")] {
        let (code, out, err) = cloud.run(&["console", "instance.web", "--type", kind]);
        assert_eq!((code, out.as_str()), (1, ""), "{err}");
        assert_eq!(
            err,
            format!(
                "error: instance.web: the cloud has not enabled {kind} consoles (Nova: \
                 Unavailable console type {nova_type}.)\n"
            )
        );
    }

    let whole: Vec<String> = match target {
        Target::Embedded => embedded_boot_log(&server),
        Target::Real => ["FAKE CONSOLE OUTPUT", "ANOTHER", "LAST LINE"]
            .map(String::from)
            .to_vec(),
    };
    let (code, out, err) = cloud.run(&["console-log", "instance.web"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("{}\n", whole.join("\n")));
    let (code, out, err) = cloud.run(&["console-log", "instance.web", "--lines", "2"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("{}\n", whole[whole.len() - 2..].join("\n")));
    let (code, out, err) = cloud.run(&["console-log", "instance.web", "--lines", "0"]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));

    let (code, out, err) = cloud.run(&["console", "instance.later"]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert_eq!(
        err,
        "error: `instance.later` is in the spec but not created yet: run `stackform apply` first\n"
    );
    let (code, out, err) = cloud.run(&["console-log", "instance.wbe"]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert_eq!(
        err,
        "error: `instance.wbe` is not an instance of the state; known instances: instance.web\n"
    );

    if target == Target::Embedded {
        let (code, out, err) = cloud.run(&["destroy", "--auto-approve"]);
        assert_eq!(code, 0, "{out}\n{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_shows_its_console_url_and_log_and_refuses_disabled_consoles() {
    consoles(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_an_instance_shows_its_console_url_and_log_and_refuses_disabled_consoles() {
    consoles(Target::Real).await;
}
