//! The `volume` kind, from TOML, on both targets: the embedded cloud (a `stackform sim`
//! process) and the real Cinder of `REAL_OS_OPENRC` (the `real_*` tests). A volume is created
//! with its ownership in metadata, grown in place (os-extend, its size read back through the
//! API), never shrunk (refused in plan, nothing written), replaced once Cinder holds it in
//! `error` (kept, the plan stopping, in `error_extending`), and destroyed. Specs naming two
//! sources, an unknown type or zone fail in plan, located, before any call.

use reqwest::Method;
use serde_json::{Value, json};

use crate::cloud_api::CloudApi;
use crate::real_common;
use crate::support::{SimProcess, run_env, write_specs};

mod backups;
mod boot;

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
    /// The cloud name of `tenant.t` (unique per run on the shared real cloud).
    tenant: String,
    destroyed: bool,
}

/// Cinder's service type in both catalogs (real Cinder also lists `block-storage`).
const CINDER: &str = "volumev3";

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
                    tenant: "volumes".into(),
                    dir,
                    target,
                    destroyed: false,
                }
            }
            Target::Real => {
                let env = real_common::real_cloud_env()?;
                let api = CloudApi::login_env(&env).await;
                Cloud {
                    env,
                    _sim: None,
                    api,
                    tenant: real_common::unique_name("sf-vol"),
                    dir,
                    target,
                    destroyed: false,
                }
            }
        })
    }

    /// The spec: `body` after the provider and the tenant.
    fn spec(&self, body: &str) {
        self.spec_with("", "", body);
    }

    /// The spec, with `provider` lines in [provider] and `quotas` (a TOML inline table's
    /// content) on the tenant.
    fn spec_with(&self, provider: &str, quotas: &str, body: &str) {
        let quotas = if quotas.is_empty() {
            String::new()
        } else {
            format!("quotas = {{ {quotas} }}\n")
        };
        let head = format!(
            r#"[provider]
cloud = "env"
timeout = "300s"
{provider}

[tenant.t]
name = "{tenant}"
{quotas}"#,
            tenant = self.tenant,
        );
        write_specs(self.dir.path(), &[("all.toml", &format!("{head}\n{body}"))]);
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

    /// The tenant's volumes named `name`, as an admin lists them.
    async fn volumes(&self, project: &str, name: &str) -> Vec<Value> {
        self.api
            .list(
                CINDER,
                &format!("/volumes/detail?all_tenants=1&project_id={project}&name={name}"),
                "volumes",
            )
            .await
            .into_iter()
            .filter(|v| v["name"] == name)
            .collect()
    }

    async fn volume(&self, project: &str, name: &str) -> Value {
        let found = self.volumes(project, name).await;
        assert_eq!(found.len(), 1, "exactly one volume {name}: {found:?}");
        found.into_iter().next().unwrap_or(Value::Null)
    }

    /// The line and column of the value of the `key = value` line `needle` in the spec
    /// (1-based), where diagnostics point.
    fn position_of(&self, needle: &str) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("specs/all.toml"))
            .or_else(|_| std::fs::read_to_string(self.dir.path().join("all.toml")))
            .unwrap_or_default();
        let at = text
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} in the spec"))
            + needle.find("= ").map_or(0, |i| i + 2);
        let line = text[..at].matches('\n').count() + 1;
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        format!("all.toml:{line}:{}", at - line_start + 1)
    }
}

impl Drop for Cloud {
    /// The real cloud is shared: what a failed scenario made is removed all the same.
    fn drop(&mut self) {
        if self.target == Target::Real && !self.destroyed {
            let (code, out, err) = self.run(&["destroy", "--auto-approve"]);
            if code != 0 {
                eprintln!("cleanup of {} failed ({code}):\n{out}\n{err}", self.tenant);
            }
        }
    }
}

fn data_volume(size: u64) -> String {
    format!(
        r#"
[volume.data]
tenant = "t"
size = {size}
description = "the database"
metadata = {{ role = "db" }}
"#
    )
}

async fn lifecycle(target: Target) {
    let Some(mut cloud) = Cloud::start(target).await else {
        return;
    };
    cloud.spec(&data_volume(1));
    let out = cloud.apply();
    assert!(out.contains("volume.data"), "{out}");
    let project = cloud.project_id().await;
    let volume = cloud.volume(&project, "data").await;
    assert_eq!(volume["size"], 1);
    assert_eq!(volume["status"], "available");
    assert_eq!(volume["description"], "the database");
    assert_eq!(volume["os-vol-tenant-attr:tenant_id"], json!(project));
    assert_eq!(volume["metadata"]["role"], "db");
    assert_eq!(volume["metadata"]["stackform_address"], "volume.data");
    assert!(
        volume["metadata"]["stackform_lineage"].is_string(),
        "{volume}"
    );
    cloud.assert_converged("after the first apply");

    // Grown in place: same volume, new size, as the API says.
    cloud.spec(&data_volume(2));
    let (code, out, err) = cloud.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("0 to add, 1 to change, 0 to destroy"), "{out}");
    cloud.apply();
    let grown = cloud.volume(&project, "data").await;
    assert_eq!(grown["id"], volume["id"], "extended, not replaced");
    assert_eq!(grown["size"], 2);
    assert_eq!(grown["status"], "available");
    cloud.assert_converged("after the extend");

    // Shrinking is refused in plan, at the size's line, and nothing changes.
    cloud.spec(&data_volume(1));
    let at = cloud.position_of("size = 1");
    let (code, out, err) = cloud.run(&["plan"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains(
            "volume.data: size 1 GB is smaller than the volume's 2 GB, and Cinder cannot shrink a volume"
        ),
        "{err}"
    );
    assert!(err.contains(&at), "located at {at}:\n{err}");
    let (code, out, err) = cloud.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert_eq!(cloud.volume(&project, "data").await["size"], 2, "unchanged");

    // A volume whose extend failed still holds its data: the plan stops, nothing is replaced.
    cloud.spec(&data_volume(2));
    let id = grown["id"].as_str().unwrap_or_default().to_string();
    cloud
        .api
        .send(
            Method::POST,
            CINDER,
            &format!("/volumes/{id}/action"),
            json!({"os-reset_status": {"status": "error_extending"}}),
            &[202],
        )
        .await;
    let (code, out, err) = cloud.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains(&format!(
            "volume.data: volume {id} is in status error_extending in the cloud; it still holds \
             its data, so stackform does not replace it"
        )),
        "{err}"
    );
    let kept = cloud.volume(&project, "data").await;
    assert_eq!(kept["id"], grown["id"], "not replaced");
    assert_eq!(kept["status"], "error_extending");

    // A volume Cinder holds in error is replaced, with that reason.
    cloud
        .api
        .send(
            Method::POST,
            CINDER,
            &format!("/volumes/{id}/action"),
            json!({"os-reset_status": {"status": "error"}}),
            &[202],
        )
        .await;
    let (code, out, err) = cloud.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        out.contains("in status error in the cloud: replaced"),
        "{out}"
    );
    assert!(out.contains("1 to add, 0 to change, 1 to destroy"), "{out}");
    cloud.apply();
    let replaced = cloud.volume(&project, "data").await;
    assert_ne!(replaced["id"], grown["id"], "a new volume");
    assert_eq!(replaced["size"], 2);
    assert_eq!(replaced["status"], "available");
    cloud.assert_converged("after the replacement");

    let (code, out, err) = cloud.run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    cloud.destroyed = true;
    assert!(out.contains("volume.data: Destroying..."), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_is_created_extended_never_shrunk_replaced_in_error_and_destroyed() {
    lifecycle(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_a_volume_is_created_extended_never_shrunk_replaced_in_error_and_destroyed() {
    lifecycle(Target::Real).await;
}

/// Each bad spec fails `plan` at its line and column, and nothing is made.
async fn bad_volumes_fail_in_plan(target: Target) {
    let Some(mut cloud) = Cloud::start(target).await else {
        return;
    };
    cloud.destroyed = true;
    let two_sources = r#"
[volume.copy]
tenant = "t"
size = 1
snapshot = "nightly"
image = "cirros"
"#;
    cloud.spec(two_sources);
    let at = cloud.position_of("image = \"cirros\"");
    let (code, out, err) = cloud.run(&["plan"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains(
            "volume.copy: a volume has at most one source, but `snapshot` and `image` are both set"
        ),
        "{err}"
    );
    assert!(err.contains(&at), "located at {at}:\n{err}");

    let known_types = cloud.api.list(CINDER, "/types", "volume_types").await;
    let mut names: Vec<&str> = known_types
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    names.sort();
    let unknown_type = r#"
[volume.fast]
tenant = "t"
size = 1
type = "warp-speed"
availability_zone = "atlantis"
"#;
    cloud.spec(unknown_type);
    let type_at = cloud.position_of("type = \"warp-speed\"");
    let zone_at = cloud.position_of("availability_zone = \"atlantis\"");
    let (code, out, err) = cloud.run(&["plan"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("volume.fast: type `warp-speed` does not exist in the cloud"),
        "{err}"
    );
    assert!(
        err.contains(&format!("available volume types: {}", names.join(", "))),
        "{err}"
    );
    assert!(
        err.contains("volume.fast: availability_zone `atlantis` does not exist in the cloud"),
        "{err}"
    );
    assert!(
        err.contains("available volume availability zones: nova"),
        "{err}"
    );
    assert!(err.contains(&type_at) && err.contains(&zone_at), "{err}");
    // Nothing was made: not even the tenant.
    let projects = cloud
        .api
        .list(
            "identity",
            &format!("/projects?name={}", cloud.tenant),
            "projects",
        )
        .await;
    assert!(projects.is_empty(), "{projects:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sources_unknown_types_and_zones_fail_in_plan_located() {
    bad_volumes_fail_in_plan(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_two_sources_unknown_types_and_zones_fail_in_plan_located() {
    bad_volumes_fail_in_plan(Target::Real).await;
}

fn sized(name: &str, size: u64, extra: &str) -> String {
    format!(
        r#"
[volume.{name}]
tenant = "t"
size = {size}
{extra}
"#
    )
}

/// A tenant's storage quota (one `storage`, or one per type) holds a first volume; a second
/// one, or growing the first, would exceed it: refused in plan, and apply makes nothing.
async fn quota_overrun(target: Target, dynamic: bool) {
    let Some(mut cloud) = Cloud::start(target).await else {
        return;
    };
    // The per-type quota needs a type: the embedded cloud has `ssd`; the real one gets a
    // uniquely named type, removed at the end.
    let ty = match target {
        Target::Embedded => "ssd".to_string(),
        Target::Real => real_common::unique_name("sf-ssd"),
    };
    let type_id = if dynamic && target == Target::Real {
        let made = cloud
            .api
            .send(
                Method::POST,
                CINDER,
                "/types",
                json!({"volume_type": {"name": ty, "os-volume-type-access:is_public": true}}),
                &[200],
            )
            .await;
        made["volume_type"]["id"].as_str().map(str::to_string)
    } else {
        None
    };
    let (provider, quotas, extra) = if dynamic {
        (
            "storage_mode = \"dynamic\"",
            format!("volume_types = {{ {ty} = 3 }}, volumes = 5"),
            format!("type = \"{ty}\""),
        )
    } else {
        ("", "storage = 3, volumes = 5".to_string(), String::new())
    };
    cloud.spec_with(provider, &quotas, &sized("a", 2, &extra));
    cloud.apply();
    let project = cloud.project_id().await;
    let quota_set = cloud
        .api
        .get(CINDER, &format!("/os-quota-sets/{project}"))
        .await;
    if dynamic {
        assert_eq!(
            quota_set["quota_set"][format!("gigabytes_{ty}")],
            3,
            "{quota_set}"
        );
    }
    assert_eq!(quota_set["quota_set"]["gigabytes"], 3, "{quota_set}");
    cloud.assert_converged("within the quota");

    // A second volume of 2 GB would make 4 of 3: refused in plan, nothing made.
    cloud.spec_with(
        provider,
        &quotas,
        &format!("{}{}", sized("a", 2, &extra), sized("b", 2, &extra)),
    );
    let (code, out, err) = cloud.run(&["plan"]);
    assert_eq!(code, 1, "{out}\n{err}");
    let (key, spec_key) = if dynamic {
        (
            format!("gigabytes_{ty}"),
            format!("quotas.volume_types.{ty}"),
        )
    } else {
        ("gigabytes".to_string(), "quotas.storage".to_string())
    };
    let expected = format!(
        "tenant.t: quota {key} ({spec_key}) is 3, 2 in use, and the plan adds 2 (volume.b 2): 4 would exceed it"
    );
    assert!(err.contains(&expected), "{expected}\n{err}");
    let (code, out, err) = cloud.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        cloud.volumes(&project, "b").await.is_empty(),
        "nothing made"
    );
    // Growing the first volume past it is refused the same way.
    cloud.spec_with(provider, &quotas, &sized("a", 4, &extra));
    let (code, out, err) = cloud.run(&["plan"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("the plan adds 2 (volume.a 2): 4 would exceed it"),
        "{err}"
    );
    assert_eq!(cloud.volume(&project, "a").await["size"], 2, "not extended");

    let (code, out, err) = cloud.run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    cloud.destroyed = true;
    if let Some(id) = type_id {
        cloud
            .api
            .request(Method::DELETE, CINDER, &format!("/types/{id}"), None)
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_storage_quota_overrun_fails_in_plan() {
    quota_overrun(Target::Embedded, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_a_fixed_storage_quota_overrun_fails_in_plan() {
    quota_overrun(Target::Real, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_type_storage_quota_overrun_fails_in_plan() {
    quota_overrun(Target::Embedded, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_a_per_type_storage_quota_overrun_fails_in_plan() {
    quota_overrun(Target::Real, true).await;
}

impl Cloud {
    /// Empties the embedded cloud's request log.
    async fn forget_requests(&self) {
        let (status, _) = self
            .api
            .request(Method::DELETE, "identity", "/../../_sim/requests", None)
            .await;
        assert_eq!(status, 204);
    }

    /// (method, path) of the calls the embedded cloud saw since [`Cloud::forget_requests`],
    /// token requests and the test's own left out.
    async fn requests(&self) -> Vec<(String, String)> {
        let (status, log) = self
            .api
            .request(Method::GET, "identity", "/../../_sim/requests", None)
            .await;
        assert_eq!(status, 200);
        log["requests"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                (
                    r["method"].as_str().unwrap_or_default().to_string(),
                    r["path"].as_str().unwrap_or_default().to_string(),
                )
            })
            .filter(|(_, path)| !path.ends_with("/auth/tokens") && !path.contains("/_sim/"))
            .collect()
    }
}

/// Embedded only (the real cloud keeps no request log): a refused shrink and a refused quota
/// overrun make no write call at all, apply included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_plans_write_nothing() {
    let Some(mut cloud) = Cloud::start(Target::Embedded).await else {
        return;
    };
    cloud.destroyed = true;
    cloud.spec_with("", "storage = 3", &sized("a", 2, ""));
    cloud.apply();
    for (why, body) in [
        ("a shrink", sized("a", 1, "")),
        (
            "a quota overrun",
            format!("{}{}", sized("a", 2, ""), sized("b", 2, "")),
        ),
    ] {
        cloud.spec_with("", "storage = 3", &body);
        cloud.forget_requests().await;
        let (code, out, err) = cloud.run(&["apply", "--auto-approve"]);
        assert_eq!(code, 1, "{why}:\n{out}\n{err}");
        let writes: Vec<(String, String)> = cloud
            .requests()
            .await
            .into_iter()
            .filter(|(method, _)| method != "GET")
            .collect();
        assert!(writes.is_empty(), "{why} wrote: {writes:?}");
    }
}

/// Embedded only (request log): a tenant whose spec sets no quota still has its storage
/// checked against the cloud's quota (set here by an admin): the plan refuses a volume that
/// would exceed it, naming the tenant, quota, limit, usage and what it adds, and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cloud_storage_quota_of_a_tenant_without_quotas_is_checked_in_plan() {
    let Some(mut cloud) = Cloud::start(Target::Embedded).await else {
        return;
    };
    cloud.destroyed = true;
    cloud.spec(&sized("a", 2, ""));
    cloud.apply();
    let project = cloud.project_id().await;
    cloud
        .api
        .send(
            Method::PUT,
            CINDER,
            &format!("/os-quota-sets/{project}"),
            json!({"quota_set": {"gigabytes": 3}}),
            &[200],
        )
        .await;
    cloud.spec(&format!("{}{}", sized("a", 2, ""), sized("b", 2, "")));
    cloud.forget_requests().await;
    let (code, out, err) = cloud.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{out}\n{err}");
    let expected = "tenant.t: quota gigabytes (quotas.storage) is 3, 2 in use, and the plan adds 2 \
                    (volume.b 2): 4 would exceed it";
    assert!(err.contains(expected), "{expected}\n{err}");
    let writes: Vec<(String, String)> = cloud
        .requests()
        .await
        .into_iter()
        .filter(|(method, _)| method != "GET")
        .collect();
    assert!(writes.is_empty(), "wrote: {writes:?}");
    assert!(
        cloud.volumes(&project, "b").await.is_empty(),
        "nothing made"
    );
}

/// Embedded only (the fault hook is the embedded cloud's): the reply to the volume's create is
/// lost; apply finds the volume by its ownership metadata instead of creating a second one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_create_reply_is_adopted_by_metadata() {
    let Some(mut cloud) = Cloud::start(Target::Embedded).await else {
        return;
    };
    cloud.destroyed = true;
    cloud.spec(&data_volume(1));
    let lose = json!({"lose_reply": {"method": "POST", "path_suffix": "/volumes", "count": 1}});
    let (status, _) = cloud
        .api
        .request(Method::POST, "identity", "/../../_sim/faults", Some(lose))
        .await;
    assert_eq!(status, 204);
    cloud.forget_requests().await;
    cloud.apply();
    let requests = cloud.requests().await;
    let creates = requests
        .iter()
        .filter(|(method, path)| method == "POST" && path.ends_with("/volumes"))
        .count();
    assert_eq!(
        creates, 1,
        "the lost create is not sent again: {requests:?}"
    );
    let project = cloud.project_id().await;
    // The look-up by metadata is a list in the tenant's own project (refresh lists from the
    // admin's): it shows the reply was lost and the volume found.
    let tenant_list = format!("/{project}/volumes/detail");
    assert!(
        requests
            .iter()
            .any(|(method, path)| method == "GET" && path.ends_with(&tenant_list)),
        "looked up by metadata: {requests:?}"
    );
    let volume = cloud.volume(&project, "data").await;
    assert_eq!(volume["status"], "available");
    assert_eq!(volume["size"], 1);
    cloud.assert_converged("after the adoption");
}

/// The volume catalog is pulled into the state and used until it is older than
/// `[provider] catalog_max_age`: a type made after the pull is unknown to plans until
/// `stackform refresh-catalog` (or the age) brings it in.
async fn catalog_is_cached(target: Target) {
    let Some(mut cloud) = Cloud::start(target).await else {
        return;
    };
    cloud.destroyed = true;
    cloud.spec("");
    let (code, out, err) = cloud.run(&["refresh-catalog"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let known = cloud.api.list(CINDER, "/types", "volume_types").await;
    let mut names: Vec<&str> = known.iter().filter_map(|t| t["name"].as_str()).collect();
    names.sort();
    assert!(
        out.contains(&format!("  volume types: {}\n", names.join(", "))),
        "{out}"
    );
    assert!(out.contains("  availability zones: nova\n"), "{out}");
    assert!(out.contains("maxTotalVolumeGigabytes = "), "{out}");
    if target == Target::Embedded {
        // The embedded cloud's types are fixed (no type create): the cache is shown on the
        // real cloud, where an admin makes new types.
        return;
    }

    let ty = real_common::unique_name("sf-new");
    let made = cloud
        .api
        .send(
            Method::POST,
            CINDER,
            "/types",
            json!({"volume_type": {"name": ty}}),
            &[200],
        )
        .await;
    let type_id = made["volume_type"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let body = sized("fast", 1, &format!("type = \"{ty}\""));
    cloud.spec_with("catalog_max_age = \"1h\"", "", &body);
    let (code, out, err) = cloud.run(&["plan"]);
    assert_eq!(
        code, 1,
        "the cached catalog does not know it yet:\n{out}\n{err}"
    );
    assert!(
        err.contains(&format!(
            "volume.fast: type `{ty}` does not exist in the cloud"
        )),
        "{err}"
    );
    let (code, out, err) = cloud.run(&["refresh-catalog"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains(&ty), "{out}");
    let (code, out, err) = cloud.run(&["plan"]);
    assert_eq!(code, 0, "known after refresh-catalog:\n{out}\n{err}");

    // An old catalog is pulled again by the plan itself.
    let other = real_common::unique_name("sf-new");
    let made = cloud
        .api
        .send(
            Method::POST,
            CINDER,
            "/types",
            json!({"volume_type": {"name": other}}),
            &[200],
        )
        .await;
    let other_id = made["volume_type"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let body = sized("fast", 1, &format!("type = \"{other}\""));
    cloud.spec_with("catalog_max_age = \"1s\"", "", &body);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (code, out, err) = cloud.run(&["plan"]);
    assert_eq!(code, 0, "pulled again once older than 1s:\n{out}\n{err}");
    for id in [type_id, other_id] {
        cloud
            .api
            .request(Method::DELETE, CINDER, &format!("/types/{id}"), None)
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_volume_catalog_is_cached_in_the_state_and_refreshed() {
    catalog_is_cached(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_the_volume_catalog_is_cached_in_the_state_and_refreshed() {
    catalog_is_cached(Target::Real).await;
}

/// A volume made from each source — a snapshot, a backup restored onto it, another volume,
/// an image — holds its source's size and is tagged as its own address; removing everything
/// in one apply deletes the snapshots before their volume.
async fn sources(target: Target) {
    let Some(mut cloud) = Cloud::start(target).await else {
        return;
    };
    let body = r#"
[volume.data]
tenant = "t"
size = 1

[snapshot.snap]
volume = "data"
description = "before the upgrade"

[backup.bak]
volume = "data"

[volume.from-snap]
tenant = "t"
size = 1
snapshot = "snap"

[volume.from-backup]
tenant = "t"
size = 2
backup = "bak"

[volume.clone]
tenant = "t"
size = 1
source_volume = "data"

[volume.from-image]
tenant = "t"
size = 1
image = "cirros"
bootable = true
"#;
    cloud.spec(body);
    cloud.apply();
    let project = cloud.project_id().await;
    let data = cloud.volume(&project, "data").await;
    let snaps = cloud
        .api
        .list(
            CINDER,
            &format!("/snapshots/detail?all_tenants=1&project_id={project}"),
            "snapshots",
        )
        .await;
    let snap = snaps
        .iter()
        .find(|s| s["name"] == "snap")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(snap["volume_id"], data["id"], "{snaps:?}");
    assert_eq!(snap["description"], "before the upgrade");
    let backups = cloud
        .api
        .list(
            CINDER,
            &format!("/backups/detail?all_tenants=1&project_id={project}"),
            "backups",
        )
        .await;
    assert!(
        backups
            .iter()
            .any(|b| b["name"] == "bak" && b["volume_id"] == data["id"]),
        "{backups:?}"
    );
    let from_snap = cloud.volume(&project, "from-snap").await;
    assert_eq!(from_snap["snapshot_id"], snap["id"]);
    assert_eq!(from_snap["size"], 1);
    let from_backup = cloud.volume(&project, "from-backup").await;
    assert_eq!(from_backup["size"], 2);
    assert_eq!(from_backup["status"], "available");
    assert_eq!(
        from_backup["metadata"]["stackform_address"], "volume.from-backup",
        "its own marks after the restore: {from_backup}"
    );
    let clone = cloud.volume(&project, "clone").await;
    assert_eq!(clone["source_volid"], data["id"]);
    let from_image = cloud.volume(&project, "from-image").await;
    assert_eq!(from_image["bootable"], "true", "{from_image}");
    cloud.assert_converged("after the sources");

    // The source mark of a restored volume is written once the restore is done: a volume
    // without it (a restore that failed or was cut short) is an empty disk, replaced.
    assert_eq!(from_backup["metadata"]["stackform_source"], "backup:bak");
    let mut unmarked = from_backup["metadata"].clone();
    if let Some(marks) = unmarked.as_object_mut() {
        marks.remove("stackform_source");
    }
    let backup_volume = from_backup["id"].as_str().unwrap_or_default().to_string();
    cloud
        .api
        .send(
            Method::PUT,
            CINDER,
            &format!("/volumes/{backup_volume}"),
            json!({"volume": {"metadata": unmarked}}),
            &[200],
        )
        .await;
    let (code, out, err) = cloud.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        out.contains("# volume.from-backup must be replaced (backup forces replacement)")
            && out.contains("+ backup = \"bak\" # forces replacement"),
        "{out}\n{err}"
    );
    assert!(out.contains("1 to add, 0 to change, 1 to destroy"), "{out}");

    let (code, out, err) = cloud.run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    cloud.destroyed = true;
    let snap_gone = out.find("snapshot.snap: Destroying...");
    let data_gone = out.find("volume.data: Destroying...");
    assert!(snap_gone.is_some() && snap_gone < data_gone, "{out}");
    let left = cloud
        .api
        .list(
            CINDER,
            &format!("/volumes/detail?all_tenants=1&project_id={project}"),
            "volumes",
        )
        .await;
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volumes_are_made_from_snapshots_backups_volumes_and_images() {
    sources(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_volumes_are_made_from_snapshots_backups_volumes_and_images() {
    sources(Target::Real).await;
}

/// `examples/volumes/` applies as it is on the embedded cloud, converges, and is destroyed in
/// one apply (the snapshot before its volume).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_volumes_example_applies_as_it_is() {
    let repo = env!("CARGO_MANIFEST_DIR");
    let state = tempfile::tempdir().unwrap();
    let state_arg = state.path().to_string_lossy().into_owned();
    let specs = format!("{repo}/examples/volumes");
    let run = |cmd: &[&str]| {
        let mut args: Vec<&str> = cmd.to_vec();
        args.extend(["--specs", &specs, "--state", &state_arg]);
        crate::support::run_in(state.path(), &args)
    };
    let (code, out, err) = run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("Apply complete! Resources: 7 added, 0 changed, 0 destroyed."),
        "{out}"
    );
    let (code, out, err) = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "converged:\n{out}\n{err}");
    let (code, out, err) = run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("7 destroyed"), "{out}");
}

/// `instance.volumes`: attached when the instance is made, then one more attached and one
/// extended while attached, then one detached, all in place; destroy takes the instance first.
async fn attachments(target: Target) {
    let Some(mut cloud) = Cloud::start(target).await else {
        return;
    };
    let flavor = match target {
        Target::Embedded => "m1.tiny",
        Target::Real => {
            real_common::ensure_admin_setup(&cloud.api).await;
            real_common::FLAVOR
        }
    };
    let spec = |volumes: &str, d1: u64| {
        format!(
            r#"
[network.net]
tenant = "t"

[subnet.sub]
network = "net"
cidr = "10.50.0.0/24"

[instance.vm]
tenant = "t"
flavor = "{flavor}"
image = "cirros"
subnet = "sub"
volumes = [{volumes}]
{}{}"#,
            sized("d1", d1, ""),
            sized("d2", 1, "")
        )
    };
    cloud.spec(&spec(r#""d1""#, 1));
    cloud.apply();
    let project = cloud.project_id().await;
    let servers = cloud
        .api
        .list(
            "compute",
            &format!("/servers?all_tenants=1&project_id={project}&name=vm"),
            "servers",
        )
        .await;
    assert_eq!(servers.len(), 1, "{servers:?}");
    let server_id = servers[0]["id"].clone();
    let d1 = cloud.volume(&project, "d1").await;
    assert_eq!(d1["status"], "in-use", "{d1}");
    assert_eq!(d1["attachments"][0]["server_id"], server_id, "{d1}");
    assert_eq!(cloud.volume(&project, "d2").await["status"], "available");
    cloud.assert_converged("after the first attach");

    // d2 attached, d1 grown while attached: both in place.
    cloud.spec(&spec(r#""d1", "d2""#, 2));
    let (code, out, err) = cloud.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("0 to add, 2 to change, 0 to destroy"), "{out}");
    cloud.apply();
    let d1 = cloud.volume(&project, "d1").await;
    assert_eq!(
        (d1["size"].clone(), d1["status"].clone()),
        (json!(2), json!("in-use"))
    );
    let d2 = cloud.volume(&project, "d2").await;
    assert_eq!(d2["attachments"][0]["server_id"], server_id, "{d2}");
    cloud.assert_converged("after the second attach and the extend");

    // d1 detached in place.
    cloud.spec(&spec(r#""d2""#, 2));
    cloud.apply();
    assert_eq!(cloud.volume(&project, "d1").await["status"], "available");
    assert_eq!(cloud.volume(&project, "d2").await["status"], "in-use");
    cloud.assert_converged("after the detach");

    let (code, out, err) = cloud.run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    cloud.destroyed = true;
    let vm_gone = out.find("instance.vm: Destroying...");
    let d2_gone = out.find("volume.d2: Destroying...");
    assert!(vm_gone.is_some() && vm_gone < d2_gone, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volumes_attach_extend_while_attached_and_detach_in_place() {
    attachments(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_volumes_attach_extend_while_attached_and_detach_in_place() {
    attachments(Target::Real).await;
}

mod attachments;
mod resize;
