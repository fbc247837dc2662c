//! The `server_group` kind and `instance.server_group`, from TOML, on both targets: the
//! embedded cloud (a `stackform sim` process) and the real Nova of `REAL_OS_OPENRC` (the
//! `real_*` tests). Both have one compute host (the real one's fake driver runs on
//! `harness-compute`), so hard anti-affinity places one server of a group and the next one
//! ends in ERROR with the scheduler's fault. A group is named after its address (Nova keeps
//! no tags on groups), any change replaces it, and its members with it.

use serde_json::{Value, json};

use crate::cloud_api::CloudApi;
use crate::real_common;
use crate::support::{SimProcess, run_env, write_specs};

#[derive(Clone, Copy, PartialEq)]
enum Target {
    Embedded,
    Real,
}

struct Cloud {
    dir: tempfile::TempDir,
    target: Target,
    _sim: Option<SimProcess>,
    env: Vec<(String, String)>,
    api: CloudApi,
    tenant: String,
    flavor: &'static str,
}

impl Cloud {
    async fn start(target: Target) -> Option<Cloud> {
        let dir = tempfile::tempdir().unwrap();
        Some(match target {
            Target::Embedded => {
                let sim = SimProcess::start(&dir.path().join("cloud"));
                let api = CloudApi::admin(sim.auth_url()).await;
                Cloud {
                    env: sim.env.clone(),
                    _sim: Some(sim),
                    api,
                    tenant: "groups".into(),
                    dir,
                    target,
                    flavor: "m1.tiny",
                }
            }
            Target::Real => {
                let env = real_common::real_cloud_env()?;
                let api = CloudApi::login_env(&env).await;
                real_common::ensure_admin_setup(&api).await;
                Cloud {
                    env,
                    _sim: None,
                    api,
                    tenant: real_common::unique_name("sf-grp"),
                    dir,
                    target,
                    flavor: real_common::FLAVOR,
                }
            }
        })
    }

    /// The tenant, a subnet, then `body`.
    fn spec(&self, body: &str) {
        let head = format!(
            "[provider]\ncloud = \"env\"\ntimeout = \"300s\"\n\n[tenant.t]\nname = \"{}\"\n\n\
             [network.net]\ntenant = \"t\"\n\n[subnet.sub]\nnetwork = \"net\"\ncidr = \"10.61.0.0/24\"\n",
            self.tenant
        );
        write_specs(self.dir.path(), &[("all.toml", &format!("{head}\n{body}"))]);
    }

    fn instance(&self, name: &str, group: &str) -> String {
        format!(
            "\n[instance.{name}]\ntenant = \"t\"\nflavor = \"{}\"\nimage = \"cirros\"\nsubnet = \"sub\"\nserver_group = \"{group}\"\n",
            self.flavor
        )
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        run_env(self.dir.path(), args, &self.env)
    }

    fn apply(&self) -> String {
        let (code, out, err) = self.run(&["apply", "--auto-approve"]);
        assert_eq!(code, 0, "apply:\n{out}\n{err}");
        out
    }

    fn assert_converged(&self, when: &str) {
        let (code, out, err) = self.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(code, 0, "converged {when}:\n{out}\n{err}");
    }

    async fn project_id(&self) -> String {
        let p = self
            .api
            .one("identity", "/projects", "projects", &self.tenant)
            .await;
        p["id"].as_str().unwrap_or_default().to_string()
    }

    /// The tenant's server groups, as an admin lists them.
    async fn groups(&self, project: &str) -> Vec<Value> {
        self.api
            .list(
                "compute",
                "/os-server-groups?all_projects=True",
                "server_groups",
            )
            .await
            .into_iter()
            .filter(|g| g["project_id"] == project)
            .collect()
    }

    async fn server(&self, project: &str, name: &str) -> Value {
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

impl Drop for Cloud {
    /// The real cloud is shared: what a failed scenario made is removed all the same.
    fn drop(&mut self) {
        if self.target == Target::Real {
            let (code, out, err) = self.run(&["destroy", "--auto-approve"]);
            if code != 0 {
                eprintln!("cleanup of {} failed ({code}):\n{out}\n{err}", self.tenant);
            }
        }
    }
}

fn group(policy: &str, extra: &str) -> String {
    format!("\n[server_group.spread]\ntenant = \"t\"\npolicy = \"{policy}\"\n{extra}")
}

async fn lifecycle(target: Target) {
    let Some(cloud) = Cloud::start(target).await else {
        return;
    };
    // A rule of another policy is refused when the spec is read, at its line.
    cloud.spec(&group("affinity", "max_server_per_host = 2\n"));
    let (code, out, err) = cloud.run(&["validate"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains(
            "server_group.spread: max_server_per_host is a rule of the anti-affinity policy only, not of affinity"
        ),
        "{err}"
    );
    assert!(err.contains("all.toml:19:23"), "located:\n{err}");

    // Made, with its member booted into it (the scheduler hint).
    let body = |policy: &str, members: &[&str]| {
        let mut body = group(policy, "");
        for m in members {
            body.push_str(&cloud.instance(m, "spread"));
        }
        body
    };
    cloud.spec(&body("anti-affinity", &["a"]));
    cloud.apply();
    let project = cloud.project_id().await;
    let groups = cloud.groups(&project).await;
    assert_eq!(groups.len(), 1, "{groups:?}");
    let first = &groups[0];
    assert_eq!(first["name"], "spread");
    assert_eq!(first["policy"], "anti-affinity");
    assert_eq!(first["rules"], json!({}));
    let a = cloud.server(&project, "a").await;
    assert_eq!(a["status"], "ACTIVE");
    assert_eq!(first["members"], json!([a["id"]]));
    cloud.assert_converged("after the first apply");

    // Hard anti-affinity on one host: a second server of the group cannot be placed, and
    // the scheduler's fault is the apply's error.
    cloud.spec(&body("anti-affinity", &["a", "b"]));
    let (code, out, err) = cloud.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        format!("{out}{err}")
            .contains("No valid host was found. There are not enough hosts available."),
        "{out}\n{err}"
    );
    let b = cloud.server(&project, "b").await;
    assert_eq!(b["status"], "ERROR");
    assert_eq!(
        cloud.server(&project, "a").await["id"],
        a["id"],
        "a untouched"
    );

    // Nova cannot change a group: a new policy replaces it, and its members with it (the
    // plan says why); soft anti-affinity places both on the one host.
    cloud.spec(&body("soft-anti-affinity", &["a", "b"]));
    let (code, out, err) = cloud.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        out.contains("# server_group.spread must be replaced (policy forces replacement)"),
        "{out}"
    );
    assert!(
        out.contains("# instance.a must be replaced (server_group.spread is replaced)"),
        "the member says why:\n{out}"
    );
    cloud.apply();
    let groups = cloud.groups(&project).await;
    assert_eq!(groups.len(), 1, "the old group is gone: {groups:?}");
    let second = &groups[0];
    assert_ne!(second["id"], first["id"]);
    assert_eq!(second["policy"], "soft-anti-affinity");
    let new_a = cloud.server(&project, "a").await;
    let b = cloud.server(&project, "b").await;
    assert_ne!(new_a["id"], a["id"], "replaced with its group");
    assert_eq!(
        (new_a["status"].as_str(), b["status"].as_str()),
        (Some("ACTIVE"), Some("ACTIVE"))
    );
    let mut members: Vec<&str> = second["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    members.sort();
    let mut expected = vec![
        new_a["id"].as_str().unwrap_or(""),
        b["id"].as_str().unwrap_or(""),
    ];
    expected.sort();
    assert_eq!(members, expected);
    cloud.assert_converged("after the replacement");

    let (code, out, err) = cloud.run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(cloud.groups(&project).await, Vec::<Value>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_group_is_made_replaced_with_its_members_and_enforced_on_one_host() {
    lifecycle(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_a_server_group_is_made_replaced_with_its_members_and_enforced_on_one_host() {
    lifecycle(Target::Real).await;
}

/// `stackform instance restart` (an action, not a desired state): soft then hard reboots of
/// an instance of the state, each waited until ACTIVE and recorded by Nova as a `reboot`
/// action of the same server; an unknown address lists the state's instances, closest first.
async fn restart(target: Target) {
    let Some(cloud) = Cloud::start(target).await else {
        return;
    };
    cloud.spec(&format!(
        "{}\n[instance.web-1]\ntenant = \"t\"\nflavor = \"{}\"\nimage = \"cirros\"\nsubnet = \"sub\"\n",
        cloud.instance("web-2", "spread").replace("server_group = \"spread\"\n", ""),
        cloud.flavor
    ));
    cloud.apply();
    let project = cloud.project_id().await;
    let server = cloud.server(&project, "web-1").await;
    let id = server["id"].as_str().unwrap_or_default().to_string();

    let (code, out, err) = cloud.run(&["instance", "restart", "instance.web-1"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        out.trim(),
        format!("instance.web-1: restarted (soft reboot) and ACTIVE [id={id}]")
    );
    let (code, out, err) = cloud.run(&["instance", "restart", "instance.web-1", "--hard"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        out.trim(),
        format!("instance.web-1: restarted (hard reboot) and ACTIVE [id={id}]")
    );
    let after = cloud.server(&project, "web-1").await;
    assert_eq!(
        (after["id"].as_str(), after["status"].as_str()),
        (Some(id.as_str()), Some("ACTIVE"))
    );
    let actions = cloud
        .api
        .list(
            "compute",
            &format!("/servers/{id}/os-instance-actions"),
            "instanceActions",
        )
        .await;
    let reboots = actions.iter().filter(|a| a["action"] == "reboot").count();
    assert_eq!(reboots, 2, "{actions:?}");

    let (code, out, err) = cloud.run(&["instance", "restart", "instance.web"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains(
            "`instance.web` is not an instance of the state; known instances: instance.web-1, instance.web-2"
        ),
        "{err}"
    );
    if target == Target::Embedded {
        let (code, out, err) = cloud.run(&["destroy", "--auto-approve"]);
        assert_eq!(code, 0, "{out}\n{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_restarts_soft_and_hard_and_an_unknown_address_lists_the_known_ones() {
    restart(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_an_instance_restarts_soft_and_hard_and_an_unknown_address_lists_the_known_ones() {
    restart(Target::Real).await;
}
