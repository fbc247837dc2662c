//! Nova through the `openstack` CLI beyond servers themselves: flavors (os-flavor-manage),
//! server groups, keypairs, and a server booted from a new volume.

use std::path::Path;

use serde_json::json;

use super::Osc;

/// `openstack flavor create` / `flavor delete` (os-flavor-manage, admin): a name taken is
/// refused, a deleted flavor is gone from the list.
pub(super) fn flavor_manage(osc: &Osc) {
    let made = osc.json(&[
        "flavor",
        "create",
        "--vcpus",
        "1",
        "--ram",
        "64",
        "--disk",
        "1",
        "osc-flavor",
    ]);
    assert_eq!(
        [&made["name"], &made["vcpus"], &made["ram"], &made["disk"]],
        [
            &serde_json::json!("osc-flavor"),
            &serde_json::json!(1),
            &serde_json::json!(64),
            &serde_json::json!(1)
        ],
        "{made}"
    );
    assert_eq!(
        osc.json(&["flavor", "show", "osc-flavor"])["id"],
        made["id"]
    );
    let (ok, _, stderr) = osc.run(&[
        "flavor",
        "create",
        "--vcpus",
        "1",
        "--ram",
        "64",
        "--disk",
        "1",
        "osc-flavor",
    ]);
    assert!(
        !ok && stderr.contains("Flavor with name osc-flavor already exists."),
        "a name taken: {stderr}"
    );
    osc.ok(&["flavor", "delete", "osc-flavor"]);
    assert!(
        !osc.names(&["flavor", "list"])
            .contains(&"osc-flavor".to_string())
    );
}

/// Server groups through the CLI (2.64: one policy and its rules): made, shown, listed,
/// refused with a rule of a policy other than anti-affinity, and deleted.
pub(super) fn server_groups(osc: &Osc) {
    let v264 = ["--os-compute-api-version", "2.64"];
    fn create<'a>(v264: &[&'a str], args: &[&'a str]) -> Vec<&'a str> {
        [v264, &["server", "group", "create"], args].concat()
    }
    let group = osc.json(&create(
        &v264,
        &[
            "--policy",
            "anti-affinity",
            "--rule",
            "max_server_per_host=2",
            "osc-grp",
        ],
    ));
    assert_eq!(group["policy"], "anti-affinity");
    assert_eq!(group["rules"], json!({ "max_server_per_host": 2 }));
    assert_eq!(group["members"], json!([]));
    let shown = osc.json(&[&v264[..], &["server", "group", "show", "osc-grp"]].concat());
    assert_eq!(shown["id"], group["id"]);
    assert_eq!(
        osc.names(&[&v264[..], &["server", "group", "list"]].concat()),
        ["osc-grp"]
    );
    let (ok, _, stderr) = osc.run(&create(
        &v264,
        &[
            "--policy",
            "affinity",
            "--rule",
            "max_server_per_host=2",
            "osc-bad",
        ],
    ));
    assert!(!ok, "rules are anti-affinity's only");
    assert!(
        stderr.contains("Only anti-affinity policy supports rules."),
        "{stderr}"
    );
    osc.ok(&[&v264[..], &["server", "group", "delete", "osc-grp"]].concat());
    assert!(osc.names(&["server", "group", "list"]).is_empty());
}

/// Keypairs through the CLI: imported from a public key file (with Nova's fingerprint),
/// shown, listed, refused twice under one name, and deleted.
pub(super) fn keypairs(osc: &Osc, dir: &Path) {
    let key = dir.join("osc-key.pub");
    std::fs::write(
        &key,
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPGUr3OlcqeYBaYI1GgSBM5uDJYUEPa5hzxRXK7Masug probe@sf\n",
    )
    .unwrap();
    let key = key.to_string_lossy().to_string();
    let made = osc.json(&["keypair", "create", "--public-key", &key, "osc-key"]);
    let fingerprint = "83:83:4f:21:20:0d:18:9b:a9:1f:37:8e:cf:81:d6:0d";
    assert_eq!(made["fingerprint"], fingerprint, "{made}");
    let shown = osc.json(&["keypair", "show", "osc-key"]);
    assert_eq!(shown["fingerprint"], fingerprint, "{shown}");
    assert_eq!(osc.names(&["keypair", "list"]), ["osc-key"]);
    let (ok, _, stderr) = osc.run(&["keypair", "create", "--public-key", &key, "osc-key"]);
    assert!(!ok, "a name is taken once per user");
    assert!(
        stderr.contains("Key pair 'osc-key' already exists."),
        "{stderr}"
    );
    osc.ok(&["keypair", "delete", "osc-key"]);
    assert!(osc.names(&["keypair", "list"]).is_empty());
}

/// A server booted from a new volume of the image (`server create --boot-from-volume`), with
/// user data and a config drive: `"image": ""` (the CLI's "N/A (booted from volume)"), the
/// volume in Cinder's list, in-use and bootable, kept after the server (the CLI asks for no
/// delete_on_termination). An unknown zone is refused as Nova does.
pub(super) fn boot_from_volume(osc: &Osc, dir: &Path) {
    let user_data = dir.join("user-data.yaml");
    std::fs::write(&user_data, "#cloud-config\n").expect("user data written");
    let user_data = user_data.to_string_lossy().to_string();
    let create = |name: &str, zone: &str| {
        vec![
            "--os-compute-api-version".to_string(),
            "2.79".into(),
            "server".into(),
            "create".into(),
            "--flavor".into(),
            "m1.tiny".into(),
            "--image".into(),
            "cirros".into(),
            "--boot-from-volume".into(),
            "1".into(),
            "--nic".into(),
            "none".into(),
            "--user-data".into(),
            user_data.clone(),
            "--config-drive".into(),
            "true".into(),
            "--availability-zone".into(),
            zone.into(),
            "--wait".into(),
            name.into(),
        ]
    };
    let args = create("osc-nowhere", "nowhere");
    let (ok, _, stderr) = osc.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        !ok && stderr.contains("The requested availability zone is not available"),
        "{stderr}"
    );
    let args = create("osc-bfv", "nova");
    let server = osc.json(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(server["status"], "ACTIVE", "{server}");
    assert_eq!(server["image"], "N/A (booted from volume)", "{server}");
    assert_eq!(server["config_drive"], "True", "{server}");
    assert_eq!(
        server["OS-EXT-SRV-ATTR:user_data"], "I2Nsb3VkLWNvbmZpZwo=",
        "{server}"
    );
    let volumes = osc.json(&["volume", "list", "--long"]);
    assert_eq!(volumes.as_array().map(Vec::len), Some(1), "{volumes}");
    let id = volumes[0]["ID"].as_str().unwrap_or_default().to_string();
    let volume = osc.json(&["volume", "show", &id]);
    assert_eq!(
        (&volume["status"], &volume["bootable"], &volume["size"]),
        (&json!("in-use"), &json!(true), &json!(1)),
        "{volume}"
    );
    assert_eq!(volume["attachments"][0]["device"], "/dev/sda", "{volume}");
    osc.ok(&["server", "delete", "--wait", "osc-bfv"]);
    osc.wait_field(&["volume"], &id, "available");
    osc.ok(&["volume", "delete", &id]);
    assert_eq!(osc.json(&["volume", "list"]), json!([]));
}
