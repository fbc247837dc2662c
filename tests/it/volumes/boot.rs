//! What an instance boots with, from TOML, on both targets: a new volume Nova makes from the
//! image (`boot_volume_size`: in Cinder's list, in-use on the server, bootable, counted in the
//! tenant's quota; deleted with the server unless `delete_on_termination = false`), a volume of
//! the spec (`boot_volume`: never deleted with the server), `user_data` (sent base64, shown as
//! a hash, never the content), `config_drive` and `availability_zone`; a change of any of them
//! replaces the server. Bad combinations fail in validate, located.

use reqwest::Method;
use serde_json::{Value, json};

use super::attachments::{flavor, server_id};
use super::{CINDER, Cloud, Target};

const USER_DATA: &str = "#cloud-config\nruncmd:\n  - echo booted-by-stackform\n";

/// `vm` boots from a new 1 GB volume of the image, `vm2` from the volume `root` of the spec.
fn spec(flavor: &str, vm_extra: &str) -> String {
    format!(
        r#"
[network.net]
tenant = "t"

[subnet.sub]
network = "net"
cidr = "10.52.0.0/24"

[volume.root]
tenant = "t"
size = 1
image = "cirros"

[instance.vm]
tenant = "t"
flavor = "{flavor}"
image = "cirros"
subnet = "sub"
boot_volume_size = 1
user_data = """{USER_DATA}"""
config_drive = true
availability_zone = "nova"
{vm_extra}

[instance.vm2]
tenant = "t"
flavor = "{flavor}"
subnet = "sub"
boot_volume = "root"
"#
    )
}

async fn server(cloud: &Cloud, id: &str) -> Value {
    let (status, body) = cloud
        .api
        .request(Method::GET, "compute", &format!("/servers/{id}"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["server"].clone()
}

/// The volume `id` as Cinder shows it to an admin; `None` once it is gone.
async fn volume_by_id(cloud: &Cloud, id: &str) -> Option<Value> {
    let (status, body) = cloud
        .api
        .request(Method::GET, CINDER, &format!("/volumes/{id}"), None)
        .await;
    match status {
        200 => Some(body["volume"].clone()),
        404 => None,
        other => panic!("GET volume {id}: {other} {body}"),
    }
}

/// The ids of the volumes Nova lists on the server, with delete_on_termination.
fn attached(server: &Value) -> Vec<(String, bool)> {
    server["os-extended-volumes:volumes_attached"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            (
                v["id"].as_str().unwrap_or_default().to_string(),
                v["delete_on_termination"] == true,
            )
        })
        .collect()
}

async fn gigabytes_in_use(cloud: &Cloud, project: &str) -> i64 {
    let (status, body) = cloud
        .api
        .request(
            Method::GET,
            CINDER,
            &format!("/os-quota-sets/{project}?usage=true"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["quota_set"]["gigabytes"]["in_use"]
        .as_i64()
        .unwrap_or(-1)
}

async fn boots(target: Target) {
    let Some(mut cloud) = Cloud::start(target).await else {
        return;
    };
    let flavor = flavor(&cloud, target).await;
    cloud.spec(&spec(flavor, ""));
    let (code, out, err) = cloud.run(&["plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("user_data") && out.contains("\"sha256:"),
        "{out}"
    );
    assert!(
        !out.contains("booted-by-stackform"),
        "the content is never shown:\n{out}"
    );
    cloud.apply();
    let project = cloud.project_id().await;

    // vm: booted from a new volume of the image, which Cinder lists, in-use on the server.
    let vm = server(&cloud, &server_id(&cloud, &project, "vm").await).await;
    assert_eq!(vm["image"], "", "booted from a volume: {vm}");
    assert_eq!(vm["config_drive"], "True");
    assert_eq!(vm["OS-EXT-AZ:availability_zone"], "nova");
    let encoded = vm["OS-EXT-SRV-ATTR:user_data"].as_str().unwrap_or_default();
    assert_eq!(
        stackform::resources::user_data::decode(encoded).as_deref(),
        Some(USER_DATA.as_bytes())
    );
    let vm_disks = attached(&vm);
    assert_eq!(vm_disks.len(), 1, "{vm}");
    let (made, deleted_with_server) = vm_disks[0].clone();
    assert!(
        deleted_with_server,
        "delete_on_termination by default: {vm}"
    );
    let volume = volume_by_id(&cloud, &made).await.unwrap_or_default();
    assert_eq!(volume["status"], "in-use", "{volume}");
    assert_eq!(volume["size"], 1);
    assert_eq!(volume["bootable"], "true");
    assert_eq!(volume["os-vol-tenant-attr:tenant_id"], json!(project));
    assert_eq!(volume["attachments"][0]["server_id"], vm["id"]);
    let listed = cloud
        .api
        .list(
            CINDER,
            &format!("/volumes/detail?all_tenants=1&project_id={project}"),
            "volumes",
        )
        .await;
    assert!(listed.iter().any(|v| v["id"] == json!(made)), "{listed:?}");
    // `root` (1 GB) and the boot volume (1 GB) count in the tenant's quota.
    assert_eq!(gigabytes_in_use(&cloud, &project).await, 2);

    // vm2: booted from `root`, which Nova will not delete.
    let vm2 = server(&cloud, &server_id(&cloud, &project, "vm2").await).await;
    assert_eq!(vm2["image"], "");
    let root = cloud.volume(&project, "root").await;
    assert_eq!(
        attached(&vm2),
        [(root["id"].as_str().unwrap_or_default().to_string(), false)]
    );
    assert_eq!(root["status"], "in-use");
    cloud.assert_converged("after booting from volumes");

    // Another server booting from a new 2 GB volume would make 4 GB of 3: refused in plan.
    let vm3 = format!(
        "\n[instance.vm3]\ntenant = \"t\"\nflavor = \"{flavor}\"\nimage = \"cirros\"\nsubnet = \"sub\"\nboot_volume_size = 2\n"
    );
    cloud.spec_with("", "storage = 3", &format!("{}{vm3}", spec(flavor, "")));
    let (code, out, err) = cloud.run(&["plan"]);
    assert_eq!(code, 1, "{out}\n{err}");
    let expected = "tenant.t: quota gigabytes (quotas.storage) is 3, 2 in use, and the plan adds 2 (instance.vm3 2): 4 would exceed it";
    assert!(err.contains(expected), "{expected}\n{err}");

    // A zone Nova does not list fails in plan, at its line, the known zones listed; the
    // zones are kept in the state's catalog with the time they were pulled.
    cloud.spec(&spec(flavor, "").replace(
        "availability_zone = \"nova\"",
        "availability_zone = \"nvoa\"",
    ));
    let (code, out, err) = cloud.run(&["plan"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("instance.vm: availability_zone `nvoa` is not a compute zone of the cloud"),
        "{err}"
    );
    assert!(err.contains("compute availability zones: nova"), "{err}");
    let at = cloud.position_of("availability_zone = \"nvoa\"");
    assert!(err.contains(&at), "{at}\n{err}");

    // Keeping the boot volume after the server is a change of what it boots with: replaced.
    cloud.spec(&spec(flavor, "delete_on_termination = false"));
    let (code, out, err) = cloud.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        out.contains("# instance.vm must be replaced (delete_on_termination forces replacement)"),
        "{out}"
    );
    assert!(out.contains("1 to add, 0 to change, 1 to destroy"), "{out}");
    cloud.apply();
    // The first server's volume went with it (delete_on_termination).
    for _ in 0..60 {
        if volume_by_id(&cloud, &made).await.is_none() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    assert_eq!(
        volume_by_id(&cloud, &made).await,
        None,
        "deleted with its server"
    );
    let vm = server(&cloud, &server_id(&cloud, &project, "vm").await).await;
    let (kept, deleted_with_server) = attached(&vm)[0].clone();
    assert!(!deleted_with_server, "{vm}");
    cloud.assert_converged("after the replacement");

    // A new user_data replaces the server too, the plan showing hashes only.
    cloud.spec(
        &spec(flavor, "delete_on_termination = false")
            .replace("booted-by-stackform", "booted-again"),
    );
    let (code, out, err) = cloud.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        out.contains("# instance.vm must be replaced (user_data forces replacement)"),
        "{out}"
    );
    assert!(
        !out.contains("booted-again") && !out.contains("booted-by"),
        "{out}"
    );
    cloud.spec(&spec(flavor, "delete_on_termination = false"));

    // Destroyed: `root` with its own table, the kept boot volume left available.
    let (code, out, err) = cloud.run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    cloud.destroyed = true;
    let left = volume_by_id(&cloud, &kept).await.unwrap_or_default();
    assert_eq!(left["status"], "available", "kept after its server: {left}");
    assert!(cloud.volumes(&project, "root").await.is_empty());
    cloud
        .api
        .request(Method::DELETE, CINDER, &format!("/volumes/{kept}"), None)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_boot_from_volumes_with_user_data_and_config_drive() {
    boots(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_instances_boot_from_volumes_with_user_data_and_config_drive() {
    boots(Target::Real).await;
}

/// Bad boot combinations, each at its line, in validate (no cloud needed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_boot_attributes_fail_located() {
    let Some(cloud) = Cloud::start(Target::Embedded).await else {
        return;
    };
    let long = "x".repeat(50_000);
    cloud.spec(&format!(
        r#"
[network.net]
tenant = "t"

[subnet.sub]
network = "net"
cidr = "10.53.0.0/24"

[volume.root]
tenant = "t"
size = 1

[instance.both]
tenant = "t"
flavor = "m1.tiny"
subnet = "sub"
boot_volume = "root"
boot_volume_size = 2

[instance.listed]
tenant = "t"
flavor = "m1.tiny"
subnet = "sub"
boot_volume = "root"
volumes = ["root"]

[instance.noimage]
tenant = "t"
flavor = "m1.tiny"
subnet = "sub"
delete_on_termination = false

[instance.long]
tenant = "t"
flavor = "m1.tiny"
image = "cirros"
subnet = "sub"
user_data = "{long}"

[instance.nofile]
tenant = "t"
flavor = "m1.tiny"
image = "cirros"
subnet = "sub"
user_data_file = "missing.yaml"
"#
    ));
    let (code, out, err) = cloud.run(&["validate"]);
    assert_eq!(code, 1, "{out}\n{err}");
    for (message, at) in [
        (
            "instance.both: sets both `boot_volume` and `boot_volume_size`",
            "boot_volume_size = 2",
        ),
        (
            "instance.listed: lists its boot volume `root` in `volumes`",
            "volumes = [\"root\"]",
        ),
        (
            "instance.noimage: sets `delete_on_termination` without `boot_volume_size`",
            "delete_on_termination = false",
        ),
        (
            "`user_data` is too long: 66668 bytes base64 encoded, Nova takes at most 65535",
            "user_data = \"xxx",
        ),
        ("cannot read `user_data_file`", "user_data_file = \"missing"),
    ] {
        assert!(err.contains(message), "{message}:\n{err}");
        let position = cloud.position_of(at);
        assert!(err.contains(&position), "{message} at {position}:\n{err}");
    }
    assert!(
        err.contains("instance.noimage: needs `image` (or `boot_volume`)"),
        "{err}"
    );
}

/// `examples/boot/` applies as it is on the embedded cloud, converges, and is destroyed; the
/// user data file's content never shows in the plan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_boot_example_applies_as_it_is() {
    let repo = env!("CARGO_MANIFEST_DIR");
    let state = tempfile::tempdir().unwrap();
    let state_arg = state.path().to_string_lossy().into_owned();
    let specs = format!("{repo}/examples/boot");
    let run = |cmd: &[&str]| {
        let mut args: Vec<&str> = cmd.to_vec();
        args.extend(["--specs", &specs, "--state", &state_arg]);
        crate::support::run_in(state.path(), &args)
    };
    let (code, out, err) = run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("Apply complete! Resources: 6 added, 0 changed, 0 destroyed."),
        "{out}"
    );
    assert!(
        !out.contains("nginx"),
        "user data shown as its hash only:\n{out}"
    );
    let (code, out, err) = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "converged:\n{out}\n{err}");
    let (code, out, err) = run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("6 destroyed"), "{out}");
}
