//! `instance.volumes` across instances, on both targets: attached in the order listed (a new
//! order alone plans nothing), a volume moved from one instance to another (detached from the
//! first before it is attached to the second), two instances swapping volumes (no deadlock,
//! even one step at a time), a volume of two instances refused in plan unless its type is
//! multiattach (and attached to both when it is), and a listed volume replaced being attached
//! again, new id, in the same apply.

use reqwest::Method;
use serde_json::{Value, json};

use super::{CINDER, Cloud, Target, sized};
use crate::real_common;

/// Two instances on one subnet, listing `a` and `b`, then `volumes` (the volume tables).
fn spec(flavor: &str, a: &str, b: &str, volumes: &str) -> String {
    let instance = |name: &str, listed: &str| {
        format!(
            "\n[instance.{name}]\ntenant = \"t\"\nflavor = \"{flavor}\"\nimage = \"cirros\"\nsubnet = \"sub\"\nvolumes = [{listed}]\n"
        )
    };
    format!(
        "\n[network.net]\ntenant = \"t\"\n\n[subnet.sub]\nnetwork = \"net\"\ncidr = \"10.51.0.0/24\"\n{}{}{volumes}",
        instance("a", a),
        instance("b", b)
    )
}

pub(super) async fn flavor(cloud: &Cloud, target: Target) -> &'static str {
    match target {
        Target::Embedded => "m1.tiny",
        Target::Real => {
            real_common::ensure_admin_setup(&cloud.api).await;
            real_common::FLAVOR
        }
    }
}

/// The id of the tenant's server `name`.
pub(super) async fn server_id(cloud: &Cloud, project: &str, name: &str) -> String {
    let servers: Vec<Value> = cloud
        .api
        .list(
            "compute",
            &format!("/servers?all_tenants=1&project_id={project}&name={name}"),
            "servers",
        )
        .await
        .into_iter()
        .filter(|s| s["name"] == name)
        .collect();
    assert_eq!(servers.len(), 1, "{servers:?}");
    servers[0]["id"].as_str().unwrap_or_default().to_string()
}

/// The servers volume `name` is attached to, as Cinder says.
async fn holders(cloud: &Cloud, project: &str, name: &str) -> Vec<String> {
    let volume = cloud.volume(project, name).await;
    let mut servers: Vec<String> = volume["attachments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["server_id"].as_str().map(str::to_string))
        .collect();
    servers.sort();
    servers
}

/// The server's attachments as Nova lists them: (volume id, device).
async fn attachments(cloud: &Cloud, server: &str) -> Vec<(String, String)> {
    cloud
        .api
        .list(
            "compute",
            &format!("/servers/{server}/os-volume_attachments"),
            "volumeAttachments",
        )
        .await
        .iter()
        .map(|a| {
            (
                a["volumeId"].as_str().unwrap_or_default().to_string(),
                a["device"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn plan(cloud: &Cloud) -> (i32, String, String) {
    cloud.run(&["plan", "--detailed-exitcode"])
}

async fn order_moves_and_swaps(target: Target) {
    let Some(mut cloud) = Cloud::start(target).await else {
        return;
    };
    let flavor = flavor(&cloud, target).await;
    let volumes = format!("{}{}", sized("d1", 1, ""), sized("d2", 1, ""));
    cloud.spec(&spec(flavor, r#""d2", "d1""#, "", &volumes));
    cloud.apply();
    let project = cloud.project_id().await;
    let (a, b) = (
        server_id(&cloud, &project, "a").await,
        server_id(&cloud, &project, "b").await,
    );
    let (d1, d2) = (
        cloud.volume(&project, "d1").await["id"].clone(),
        cloud.volume(&project, "d2").await["id"].clone(),
    );
    // Attached as listed: d2 first, so d2 has the first device name.
    let attached = attachments(&cloud, &a).await;
    let device = |id: &Value| {
        attached
            .iter()
            .find(|(v, _)| Some(v.as_str()) == id.as_str())
            .map(|(_, d)| d.clone())
            .unwrap_or_default()
    };
    assert_eq!(attached.len(), 2, "{attached:?}");
    assert!(device(&d2) < device(&d1), "{attached:?}");
    // Another order alone: nothing to do (live disks are not unplugged to reorder them).
    cloud.spec(&spec(flavor, r#""d1", "d2""#, "", &volumes));
    let (code, out, err) = plan(&cloud);
    assert_eq!(code, 0, "a reorder plans nothing:\n{out}\n{err}");
    assert!(out.contains("No changes."), "{out}");

    // d1 moves from a to b: both updates planned, a's detach done before b's attach.
    cloud.spec(&spec(flavor, r#""d2""#, r#""d1""#, &volumes));
    let (code, out, err) = plan(&cloud);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("0 to add, 2 to change, 0 to destroy"), "{out}");
    assert!(out.contains("instance.a will be updated in place"), "{out}");
    assert!(out.contains("instance.b will be updated in place"), "{out}");
    let out = cloud.apply();
    let a_done = out.find("instance.a: Modifications complete");
    let b_starts = out.find("instance.b: Modifying...");
    assert!(a_done.is_some() && a_done < b_starts, "{out}");
    assert_eq!(holders(&cloud, &project, "d1").await, [b.as_str()]);
    assert_eq!(holders(&cloud, &project, "d2").await, [a.as_str()]);
    cloud.assert_converged("after the move");

    // A swap, one step at a time: no order exists between the two updates, and none waits
    // for the other.
    cloud.spec(&spec(flavor, r#""d1""#, r#""d2""#, &volumes));
    let (code, out, err) = cloud.run(&["apply", "--auto-approve", "--parallelism", "1"]);
    assert_eq!(code, 0, "swap:\n{out}\n{err}");
    assert!(out.contains("0 added, 2 changed, 0 destroyed"), "{out}");
    assert_eq!(holders(&cloud, &project, "d1").await, [a.as_str()]);
    assert_eq!(holders(&cloud, &project, "d2").await, [b.as_str()]);
    assert_eq!(
        attachments(&cloud, &a).await.len() + attachments(&cloud, &b).await.len(),
        2
    );
    cloud.assert_converged("after the swap");

    let (code, out, err) = cloud.run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    cloud.destroyed = true;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volumes_attach_in_the_listed_order_move_between_instances_and_swap() {
    order_moves_and_swaps(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_volumes_attach_in_the_listed_order_move_between_instances_and_swap() {
    order_moves_and_swaps(Target::Real).await;
}

/// A volume type made for one run on the shared real cloud, deleted when dropped (also when
/// the test fails), once Cinder no longer counts a volume of it (it answers 400 until the
/// last one is gone).
struct TypeGuard {
    env: Vec<(String, String)>,
    id: String,
}

impl Drop for TypeGuard {
    fn drop(&mut self) {
        let (env, id) = (self.env.clone(), self.id.clone());
        // Its own thread and runtime: the test's runtime may be the one dropping it.
        let deleted = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let api = crate::cloud_api::CloudApi::login_env(&env).await;
                for _ in 0..60 {
                    let path = format!("/types/{id}");
                    let (status, _) = api.request(Method::DELETE, CINDER, &path, None).await;
                    if matches!(status, 202 | 404) {
                        return Some(());
                    }
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
                None
            })
        })
        .join();
        if !matches!(deleted, Ok(Some(()))) {
            eprintln!("volume type {} was not deleted", self.id);
        }
    }
}

/// A multiattach volume type: the embedded cloud's, or one made for this run on the real
/// cloud (with its guard, which deletes it).
async fn multiattach_type(cloud: &Cloud, target: Target) -> (String, Option<TypeGuard>) {
    if target == Target::Embedded {
        return ("multiattach".to_string(), None);
    }
    let name = real_common::unique_name("sf-multi");
    let made = cloud
        .api
        .send(
            Method::POST,
            CINDER,
            "/types",
            json!({"volume_type": {
                "name": name,
                "description": "stackform test: volumes of several servers",
                "os-volume-type-access:is_public": true,
                "extra_specs": {"multiattach": "<is> True"},
            }}),
            &[200],
        )
        .await;
    let guard = made["volume_type"]["id"].as_str().map(|id| TypeGuard {
        env: cloud.env.clone(),
        id: id.to_string(),
    });
    (name, guard)
}

async fn multiattach_and_replace(target: Target) {
    // Declared before the cloud, so dropped after it: a failed run's destroy removes the
    // volumes of the type before the type goes.
    let type_guard;
    let Some(mut cloud) = Cloud::start(target).await else {
        return;
    };
    let flavor = flavor(&cloud, target).await;
    let multi;
    (multi, type_guard) = multiattach_type(&cloud, target).await;
    let typed = format!("type = \"{multi}\"");

    // Shared by a and b, of the default type: refused in plan, located at b's listing.
    let volumes = format!("{}{}", sized("shared", 1, ""), sized("data", 1, ""));
    cloud.spec(&spec(
        flavor,
        r#""shared", "data""#,
        r#""shared""#,
        &volumes,
    ));
    let (code, out, err) = cloud.run(&["plan"]);
    assert_eq!(code, 1, "{out}\n{err}");
    let expected = "error: volume.shared is listed in the volumes of instance.a and \
                    instance.b, but its type `__DEFAULT__` is not multiattach: Cinder attaches \
                    it to one server only";
    assert!(err.contains(expected), "{expected}\n{err}");
    let at = format!("--> specs/{}", cloud.position_of("\"shared\"]"));
    assert!(err.contains(&at), "{at}\n{err}");

    // Of a multiattach type: attached to both.
    let volumes = format!("{}{}", sized("shared", 1, &typed), sized("data", 1, ""));
    cloud.spec(&spec(
        flavor,
        r#""shared", "data""#,
        r#""shared""#,
        &volumes,
    ));
    cloud.apply();
    let project = cloud.project_id().await;
    let (a, b) = (
        server_id(&cloud, &project, "a").await,
        server_id(&cloud, &project, "b").await,
    );
    let mut both = vec![a.clone(), b.clone()];
    both.sort();
    assert_eq!(holders(&cloud, &project, "shared").await, both);
    assert_eq!(holders(&cloud, &project, "data").await, [a.as_str()]);
    cloud.assert_converged("with the multiattach volume on both");

    // `data` replaced (a new type): a attaches the new volume in the same apply.
    let old = cloud.volume(&project, "data").await["id"].clone();
    let volumes = format!("{}{}", sized("shared", 1, &typed), sized("data", 1, &typed));
    cloud.spec(&spec(
        flavor,
        r#""shared", "data""#,
        r#""shared""#,
        &volumes,
    ));
    let (code, out, err) = plan(&cloud);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("1 to add, 1 to change, 1 to destroy"), "{out}");
    assert!(
        out.contains("instance.a will be updated in place (attachment to volume.data is remade)"),
        "{out}"
    );
    cloud.apply();
    let new = cloud.volume(&project, "data").await;
    assert_ne!(new["id"], old);
    assert_eq!(holders(&cloud, &project, "data").await, [a.as_str()]);
    let server = cloud.api.get("compute", &format!("/servers/{a}")).await;
    let attached: Vec<&Value> = server["server"]["os-extended-volumes:volumes_attached"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| &v["id"])
        .collect();
    assert!(attached.contains(&&new["id"]), "{server}");
    assert!(!attached.contains(&&old), "{server}");
    let (code, out, err) = plan(&cloud);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("No changes."), "{out}");

    let (code, out, err) = cloud.run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    cloud.destroyed = true;
    drop(cloud);
    drop(type_guard);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_volume_must_be_multiattach_and_a_replaced_one_is_attached_again() {
    multiattach_and_replace(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_a_shared_volume_must_be_multiattach_and_a_replaced_one_is_attached_again() {
    multiattach_and_replace(Target::Real).await;
}
