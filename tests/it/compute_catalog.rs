//! The compute catalog (flavors, images, availability zones) on both targets: the embedded
//! cloud (a `stackform sim` process) and the real Nova and Glance of `REAL_OS_OPENRC` (the
//! `real_*` tests). It is pulled with the time into the state, used by plans until
//! `catalog_max_age` (or `stackform refresh-catalog`), and an unknown flavor or image fails
//! in plan at its spec line, the known ones listed closest first. Apply uses the catalog's
//! ids and looks them up afresh when Nova refuses one (a flavor made again since the pull).

use reqwest::Method;
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
    /// Flavors the test made (deleted at the end, also when it fails).
    flavors: Vec<String>,
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
                    tenant: "catalog".into(),
                    dir,
                    target,
                    flavors: Vec::new(),
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
                    tenant: real_common::unique_name("sf-cat"),
                    dir,
                    target,
                    flavors: Vec::new(),
                }
            }
        })
    }

    /// The spec: provider settings, a tenant with a subnet, then `body`. Returns its text.
    fn spec(&self, provider: &str, body: &str) -> String {
        let text = format!(
            "[provider]\ncloud = \"env\"\ntimeout = \"300s\"\n{provider}\n\n[tenant.t]\nname = \
             \"{}\"\n\n[network.net]\ntenant = \"t\"\n\n[subnet.sub]\nnetwork = \"net\"\ncidr = \
             \"10.62.0.0/24\"\n{body}",
            self.tenant
        );
        write_specs(self.dir.path(), &[("all.toml", &text)]);
        text
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        run_env(self.dir.path(), args, &self.env)
    }

    /// Makes flavor `name` (1 vCPU, 64 MiB, 1 GB) as an admin; returns its id.
    async fn make_flavor(&mut self, name: &str) -> String {
        let made = self
            .api
            .send(
                Method::POST,
                "compute",
                "/flavors",
                json!({"flavor": {"name": name, "vcpus": 1, "ram": 64, "disk": 1}}),
                &[200],
            )
            .await;
        if !self.flavors.iter().any(|f| f == name) {
            self.flavors.push(name.to_string());
        }
        made["flavor"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn delete_flavor(&self, id: &str) {
        let (status, body) = self
            .api
            .request(Method::DELETE, "compute", &format!("/flavors/{id}"), None)
            .await;
        assert_eq!(status, 202, "deleting flavor {id}: {body}");
    }

    async fn flavors(&self) -> Vec<Value> {
        self.api.list("compute", "/flavors/detail", "flavors").await
    }

    /// The admin's view of the tenant's projects named like it (none before a create).
    async fn projects(&self) -> Vec<Value> {
        self.api
            .list(
                "identity",
                &format!("/projects?name={}", self.tenant),
                "projects",
            )
            .await
    }
}

impl Drop for Cloud {
    /// The real cloud is shared: what a failed scenario made is removed all the same.
    fn drop(&mut self) {
        if self.target != Target::Real {
            return;
        }
        let (code, out, err) = self.run(&["destroy", "--auto-approve"]);
        if code != 0 {
            eprintln!("cleanup of {} failed ({code}):\n{out}\n{err}", self.tenant);
        }
        let names = std::mem::take(&mut self.flavors);
        if names.is_empty() {
            return;
        }
        let env = self.env.clone();
        // Drop is synchronous: the flavors are deleted on a runtime of their own.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Runtime::new() else {
                return;
            };
            runtime.block_on(async {
                let api = CloudApi::login_env(&env).await;
                for flavor in api.list("compute", "/flavors/detail", "flavors").await {
                    if names.iter().any(|n| flavor["name"] == n.as_str()) {
                        let id = flavor["id"].as_str().unwrap_or_default();
                        let _ = api
                            .request(Method::DELETE, "compute", &format!("/flavors/{id}"), None)
                            .await;
                    }
                }
            });
        })
        .join();
    }
}

/// `line:column` (1-based) of the value of `needle` (a `key = "value"` line) in `text`.
fn value_position(text: &str, needle: &str) -> String {
    let (index, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.trim() == needle)
        .unwrap_or_else(|| panic!("`{needle}` in the spec"));
    let column = line.find('"').unwrap_or_default() + 1;
    format!("{}:{column}", index + 1)
}

/// An instance naming a mistyped flavor and image, and a volume a mistyped image: the plan
/// fails with one located error each, the known names listed closest first, and nothing is
/// made in the cloud.
async fn unknown_names_fail_in_plan(target: Target) {
    let Some(cloud) = Cloud::start(target).await else {
        return;
    };
    let body = "\n[instance.vm]\ntenant = \"t\"\nflavor = \"m1.smal\"\nimage = \"cirrus\"\n\
                subnet = \"sub\"\n\n[volume.disk]\ntenant = \"t\"\nsize = 1\nimage = \"cirros-x\"\n";
    let text = cloud.spec("", body);
    let (code, out, err) = cloud.run(&["plan"]);
    assert_eq!(code, 1, "{out}\n{err}");
    let flavor_at = value_position(&text, "flavor = \"m1.smal\"");
    let image_at = value_position(&text, "image = \"cirrus\"");
    let volume_image_at = value_position(&text, "image = \"cirros-x\"");
    for (message, at, closest) in [
        (
            "error: instance.vm: flavor `m1.smal` does not exist in the cloud",
            &flavor_at,
            "= help: available flavors: m1.small, ",
        ),
        (
            "error: instance.vm: image `cirrus` does not exist in the cloud",
            &image_at,
            "= help: available images: cirros",
        ),
        (
            "error: volume.disk: image `cirros-x` does not exist in the cloud",
            &volume_image_at,
            "= help: available images: cirros",
        ),
    ] {
        let Some(start) = err.find(message) else {
            panic!("`{message}` in:\n{err}");
        };
        let block = &err[start..];
        let block = &block[..block[1..].find("error:").map_or(block.len(), |end| end + 1)];
        assert!(
            block.contains(&format!("--> specs/all.toml:{at}\n")),
            "located at {at}:\n{block}"
        );
        assert!(block.contains(closest), "closest first:\n{block}");
    }
    // Every flavor of the cloud is listed.
    let listed = err
        .lines()
        .find_map(|l| l.trim().strip_prefix("= help: available flavors: "))
        .unwrap_or_default();
    let mut listed: Vec<&str> = listed.split(", ").collect();
    listed.sort();
    let mut known: Vec<String> = cloud
        .flavors()
        .await
        .iter()
        .filter_map(|f| f["name"].as_str().map(str::to_string))
        .collect();
    known.sort();
    if target == Target::Embedded {
        assert_eq!(listed, known, "{err}");
    } else {
        // Other tests of the shared cloud make and delete flavors meanwhile.
        for fixed in [real_common::FLAVOR, real_common::UNSCHEDULABLE_FLAVOR] {
            assert!(listed.contains(&fixed), "{fixed} listed:\n{err}");
        }
    }
    assert!(cloud.projects().await.is_empty(), "nothing is made");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_flavor_or_image_fails_in_plan_with_the_closest_listed_first() {
    unknown_names_fail_in_plan(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_an_unknown_flavor_or_image_fails_in_plan_with_the_closest_listed_first() {
    unknown_names_fail_in_plan(Target::Real).await;
}

/// `refresh-catalog` pulls the flavors, images and zones into the state with the time; plans
/// use them until `catalog_max_age`, so a flavor made since is unknown until the next pull;
/// a flavor deleted and made again since the pull (a new id under its name) is looked up
/// afresh when Nova refuses the cached id, and the instance boots with it.
async fn the_catalog_is_kept_refreshed_and_looked_up_again(target: Target) {
    let Some(mut cloud) = Cloud::start(target).await else {
        return;
    };
    cloud.spec("catalog_max_age = \"1h\"", "");
    let (code, out, err) = cloud.run(&["refresh-catalog"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("\nCompute catalog pulled at "), "{out}");
    for flavor in cloud.flavors().await {
        let shown = format!(
            "{} ({} vCPU, {} MiB RAM, {} GB disk)",
            flavor["name"].as_str().unwrap_or_default(),
            flavor["vcpus"],
            flavor["ram"],
            flavor["disk"]
        );
        assert!(out.contains(&shown), "{shown} in:\n{out}");
    }
    assert!(out.contains("cirros (active, public)"), "{out}");
    let compute_zones = out
        .lines()
        .skip_while(|l| !l.starts_with("Compute catalog"))
        .find(|l| l.starts_with("  availability zones: "));
    assert_eq!(compute_zones, Some("  availability zones: nova"), "{out}");

    // The state keeps it with the time it was pulled.
    let state = std::fs::read_to_string(cloud.dir.path().join("state/state.json"))
        .expect("the state's snapshot");
    let state: Value = serde_json::from_str(&state).expect("json");
    let kept = &state["catalogs"]["compute"];
    let pulled_at = kept["pulled_at"].as_str().unwrap_or_default();
    assert!(
        chrono::DateTime::parse_from_rfc3339(pulled_at).is_ok(),
        "pulled_at {pulled_at:?}: {kept}"
    );
    let kept_flavors: Vec<&str> = kept["content"]["flavors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert!(kept_flavors.contains(&"m1.small"), "{kept}");
    assert!(
        kept["content"]["images"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|i| i["name"] == "cirros" && i["status"] == "active" && i["id"].is_string()),
        "{kept}"
    );

    // A flavor made after the pull is unknown to plans until the next one.
    let flavor = real_common::unique_name("sf-cat-flavor");
    let first_id = cloud.make_flavor(&flavor).await;
    let instance = format!(
        "\n[instance.vm]\ntenant = \"t\"\nflavor = \"{flavor}\"\nimage = \"cirros\"\nsubnet = \"sub\"\n"
    );
    cloud.spec("catalog_max_age = \"1h\"", &instance);
    let (code, out, err) = cloud.run(&["plan"]);
    assert_eq!(code, 1, "the kept catalog does not know it:\n{out}\n{err}");
    assert!(
        err.contains(&format!(
            "error: instance.vm: flavor `{flavor}` does not exist in the cloud"
        )),
        "{err}"
    );
    let (code, out, err) = cloud.run(&["refresh-catalog"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains(&format!("{flavor} (1 vCPU, 64 MiB RAM, 1 GB disk)")),
        "{out}"
    );
    let (code, out, err) = cloud.run(&["plan"]);
    assert_eq!(code, 0, "known after refresh-catalog:\n{out}\n{err}");

    // Deleted and made again: the catalog's id is refused, the new one found.
    cloud.delete_flavor(&first_id).await;
    let second_id = cloud.make_flavor(&flavor).await;
    assert_ne!(first_id, second_id);
    let (code, out, err) = cloud.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "apply:\n{out}\n{err}");
    let project = cloud.projects().await;
    let project = project[0]["id"].as_str().unwrap_or_default();
    let servers = cloud
        .api
        .list(
            "compute",
            &format!("/servers/detail?all_tenants=1&project_id={project}"),
            "servers",
        )
        .await;
    assert_eq!(servers.len(), 1, "{servers:?}");
    assert_eq!(servers[0]["status"], "ACTIVE", "{}", servers[0]);
    assert_eq!(
        servers[0]["flavor"]["original_name"], flavor,
        "{}",
        servers[0]
    );
    let (code, out, err) = cloud.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "converged:\n{out}\n{err}");
    let (code, out, err) = cloud.run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    cloud.delete_flavor(&second_id).await;
    cloud.flavors.clear();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compute_catalog_is_kept_with_its_time_refreshed_and_looked_up_again() {
    the_catalog_is_kept_refreshed_and_looked_up_again(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_the_compute_catalog_is_kept_with_its_time_refreshed_and_looked_up_again() {
    the_catalog_is_kept_refreshed_and_looked_up_again(Target::Real).await;
}
