//! Cinder through the `openstack` CLI.

use serde_json::json;

use super::Osc;

/// Cinder through the CLI: a volume created, extended (`volume set --size`), snapshotted,
/// backed up and restored, attached to and detached from `osc-vm`, and everything deleted.
pub(super) fn block_storage(osc: &Osc) {
    let volume = osc.json(&[
        "volume",
        "create",
        "--size",
        "1",
        "--type",
        "ssd",
        "--property",
        "owner=osc",
        "osc-vol",
    ]);
    assert_eq!(volume["size"], 1, "{volume}");
    osc.wait_field(&["volume"], "osc-vol", "available");
    osc.ok(&["volume", "set", "--size", "2", "osc-vol"]);
    let grown = osc.wait_field(&["volume"], "osc-vol", "available");
    assert_eq!(
        (&grown["size"], &grown["type"], &grown["properties"]),
        (&json!(2), &json!("ssd"), &json!({ "owner": "osc" })),
        "{grown}"
    );
    let (ok, _, stderr) = osc.run(&["volume", "set", "--size", "1", "osc-vol"]);
    assert!(
        !ok && stderr.contains("New size must be greater than 2 GB"),
        "a shrink is refused: {stderr}"
    );

    osc.json(&[
        "volume", "snapshot", "create", "--volume", "osc-vol", "osc-snap",
    ]);
    let snapshot = osc.wait_field(&["volume", "snapshot"], "osc-snap", "available");
    assert_eq!(snapshot["size"], 2, "{snapshot}");
    let (ok, _, _) = osc.run(&["volume", "delete", "osc-vol"]);
    assert!(!ok, "a volume with snapshots cannot be deleted");

    osc.json(&[
        "volume",
        "backup",
        "create",
        "--name",
        "osc-backup",
        "osc-vol",
    ]);
    let backup = osc.wait_field(&["volume", "backup"], "osc-backup", "available");
    assert_eq!(backup["size"], 2, "{backup}");
    // An admin resets a backup's status, to `available` or `error` only.
    osc.ok(&["volume", "backup", "set", "--state", "error", "osc-backup"]);
    let errored = osc.json(&["volume", "backup", "show", "osc-backup"]);
    assert_eq!(
        (&errored["status"], &errored["fail_reason"]),
        (&json!("error"), &json!(null)),
        "{errored}"
    );
    let (ok, _, stderr) = osc.run(&[
        "volume",
        "backup",
        "set",
        "--state",
        "creating",
        "osc-backup",
    ]);
    assert!(!ok, "only available or error: {stderr}");
    osc.ok(&[
        "volume",
        "backup",
        "set",
        "--state",
        "available",
        "osc-backup",
    ]);
    osc.wait_field(&["volume"], "osc-vol", "available");
    osc.ok(&["volume", "backup", "restore", "osc-backup", "osc-restored"]);
    let restored = osc.wait_field(&["volume"], "osc-restored", "available");
    assert_eq!(restored["size"], 2, "{restored}");

    osc.ok(&["server", "add", "volume", "osc-vm", "osc-vol"]);
    let attached = osc.wait_field(&["volume"], "osc-vol", "in-use");
    assert!(
        attached["attachments"].to_string().contains("/dev/sdb"),
        "{attached}"
    );
    let listed = osc.json(&["server", "volume", "list", "osc-vm"]);
    assert_eq!(listed[0]["Volume ID"], volume["id"], "{listed}");
    osc.ok(&["server", "remove", "volume", "osc-vm", "osc-vol"]);
    osc.wait_field(&["volume"], "osc-vol", "available");
    assert_eq!(osc.json(&["server", "volume", "list", "osc-vm"]), json!([]));

    osc.ok(&["volume", "snapshot", "delete", "osc-snap"]);
    osc.ok(&["volume", "delete", "osc-vol", "osc-restored"]);
    osc.ok(&["volume", "backup", "delete", "osc-backup"]);
    assert_eq!(osc.json(&["volume", "list"]), json!([]));
    assert_eq!(osc.json(&["volume", "backup", "list"]), json!([]));
}
