//! Cinder's part of the script: the version document and microversions, types, zones,
//! limits and quotas, a volume's lifecycle (create, show, list, update, extend, the shrink
//! refusal), a snapshot (and the delete it blocks, a volume made from it), the over-quota
//! refusal, an incremental backup refused with no full one, a backup reset to error by an
//! admin, a backup restored onto a new volume, and Nova attaching and detaching the volume
//! (in-use, the refusal to attach it twice, to the same server or another, or to delete it
//! while attached, snapshots and backups of it in use, extending it in use; the detach Nova
//! forgets at once), Cinder's attachments API, deletes that take their time (a second delete
//! refused meanwhile), list filters and a snapshot's metadata. Runs after the compute part,
//! on its `{flavor}` and Glance's `{image}`.

use reqwest::Method;
use serde_json::json;

use super::recorder::{Auth, Recorder, Req, Svc};
use super::script::{Login, TIMEOUT};

const NO_SUCH_ID: &str = "0b6c2a4e-9d1f-4c5e-8a7b-3f2e1d0c9b8a";

fn get(label: &str, path: &str) -> Req {
    Req::new(label, Svc::BlockStorage, Method::GET, path)
}
fn post(label: &str, path: &str, body: serde_json::Value) -> Req {
    Req::new(label, Svc::BlockStorage, Method::POST, path).json(body)
}
fn delete(label: &str, path: &str) -> Req {
    Req::new(label, Svc::BlockStorage, Method::DELETE, path)
}

pub async fn cinder(rec: &mut Recorder, login: &Login) {
    let run = &login.run;
    rec.call(get("cinder.versions", "{volume_service}/").auth(Auth::None))
        .await;
    rec.call(
        get(
            "cinder.volumes.list.no_microversion",
            "/volumes?name=sfd-none",
        )
        .no_microversion(),
    )
    .await;
    rec.call(
        get(
            "cinder.volumes.list.bad_microversion",
            "/volumes?name=sfd-none",
        )
        .header("OpenStack-API-Version", "volume 3.99"),
    )
    .await;
    rec.call(get("cinder.unknown_path", "/nothings")).await;
    rec.call(get("cinder.types.list", "/types")).await;
    rec.call(get("cinder.availability_zones", "/os-availability-zone"))
        .await;
    rec.call(get("cinder.limits", "/limits")).await;
    rec.call(get(
        "cinder.volume.not_found",
        &format!("/volumes/{NO_SUCH_ID}"),
    ))
    .await;
    for (label, body) in [
        (
            "cinder.volume.create.size_zero",
            json!({"volume": {"size": 0}}),
        ),
        (
            "cinder.volume.create.size_text",
            json!({"volume": {"size": "x"}}),
        ),
        ("cinder.volume.create.no_volume", json!({"size": 1})),
        (
            "cinder.volume.create.unknown_type",
            json!({"volume": {"size": 1, "volume_type": format!("sfd-none-{run}")}}),
        ),
        (
            "cinder.volume.create.unknown_zone",
            json!({"volume": {"size": 1, "availability_zone": "sfd-none"}}),
        ),
        (
            "cinder.volume.create.over_quota",
            json!({"volume": {"size": 100000}}),
        ),
    ] {
        rec.call(post(label, "/volumes", body)).await;
    }

    // A volume's lifecycle.
    let reply = rec
        .call(post(
            "cinder.volume.create",
            "/volumes",
            json!({"volume": {"size": 1, "name": format!("sfd-vol-{run}"),
                "description": "differential", "metadata": {"owner": "sfd"}}}),
        ))
        .await;
    rec.bind("volume", reply.str_at("/volume/id"));
    rec.on_cleanup(Svc::BlockStorage, "/volumes/{volume}");
    rec.poll(
        "cinder.volume.wait_available",
        Svc::BlockStorage,
        "/volumes/{volume}",
        "/volume/status",
        &["available", "error"],
        TIMEOUT,
    )
    .await;
    rec.call(get("cinder.volume.show", "/volumes/{volume}"))
        .await;
    rec.call(get(
        "cinder.volumes.list",
        &format!("/volumes?name=sfd-vol-{run}"),
    ))
    .await;
    rec.call(get(
        "cinder.volumes.detail",
        &format!("/volumes/detail?name=sfd-vol-{run}"),
    ))
    .await;
    filters(rec, run).await;
    rec.call(
        Req::new(
            "cinder.volume.update",
            Svc::BlockStorage,
            Method::PUT,
            "/volumes/{volume}",
        )
        .json(json!({"volume": {"description": "updated"}})),
    )
    .await;
    rec.call(get("cinder.volume.metadata", "/volumes/{volume}/metadata"))
        .await;
    rec.call(post(
        "cinder.volume.extend",
        "/volumes/{volume}/action",
        json!({"os-extend": {"new_size": 2}}),
    ))
    .await;
    rec.poll(
        "cinder.volume.wait_extended",
        Svc::BlockStorage,
        "/volumes/{volume}",
        "/volume/size",
        &["2"],
        TIMEOUT,
    )
    .await;
    rec.poll(
        "cinder.volume.wait_available_again",
        Svc::BlockStorage,
        "/volumes/{volume}",
        "/volume/status",
        &["available", "error"],
        TIMEOUT,
    )
    .await;
    rec.call(post(
        "cinder.volume.shrink",
        "/volumes/{volume}/action",
        json!({"os-extend": {"new_size": 1}}),
    ))
    .await;
    rec.call(post(
        "cinder.volume.extend.zero",
        "/volumes/{volume}/action",
        json!({"os-extend": {"new_size": 0}}),
    ))
    .await;
    rec.call(get("cinder.quota.show", "/os-quota-sets/{admin_project}"))
        .await;

    // A snapshot blocks the delete; a volume made from it has its size.
    let reply = rec
        .call(post(
            "cinder.snapshot.create",
            "/snapshots",
            json!({"snapshot": {"volume_id": "{volume}", "name": format!("sfd-snap-{run}")}}),
        ))
        .await;
    rec.bind("snapshot", reply.str_at("/snapshot/id"));
    rec.on_cleanup(Svc::BlockStorage, "/snapshots/{snapshot}");
    rec.poll(
        "cinder.snapshot.wait_available",
        Svc::BlockStorage,
        "/snapshots/{snapshot}",
        "/snapshot/status",
        &["available", "error"],
        TIMEOUT,
    )
    .await;
    rec.call(get("cinder.snapshot.show", "/snapshots/{snapshot}"))
        .await;
    snapshot_metadata(rec).await;
    rec.call(get(
        "cinder.snapshots.detail",
        &format!("/snapshots/detail?name=sfd-snap-{run}"),
    ))
    .await;
    rec.call(delete(
        "cinder.volume.delete.with_snapshot",
        "/volumes/{volume}",
    ))
    .await;
    let reply = rec
        .call(post(
            "cinder.volume.create.from_snapshot",
            "/volumes",
            json!({"volume": {"snapshot_id": "{snapshot}", "name": format!("sfd-clone-{run}")}}),
        ))
        .await;
    rec.bind("clone", reply.str_at("/volume/id"));
    rec.on_cleanup(Svc::BlockStorage, "/volumes/{clone}");
    rec.poll(
        "cinder.volume.clone.wait_available",
        Svc::BlockStorage,
        "/volumes/{clone}",
        "/volume/status",
        &["available", "error"],
        TIMEOUT,
    )
    .await;
    attachments_api(rec).await;
    rec.call(delete("cinder.volume.clone.delete", "/volumes/{clone}"))
        .await;
    // Deleting for a while: a second delete is refused, as for snapshots and backups below.
    rec.call(delete(
        "cinder.volume.clone.delete.while_deleting",
        "/volumes/{clone}",
    ))
    .await;
    rec.poll(
        "cinder.volume.clone.wait_gone",
        Svc::BlockStorage,
        "/volumes/{clone}",
        "/volume/status",
        &["404"],
        TIMEOUT,
    )
    .await;
    rec.call(delete("cinder.snapshot.delete", "/snapshots/{snapshot}"))
        .await;
    rec.call(delete(
        "cinder.snapshot.delete.while_deleting",
        "/snapshots/{snapshot}",
    ))
    .await;
    rec.poll(
        "cinder.snapshot.wait_gone",
        Svc::BlockStorage,
        "/snapshots/{snapshot}",
        "/snapshot/status",
        &["404"],
        TIMEOUT,
    )
    .await;

    // An incremental backup needs a full one before it.
    rec.call(post(
        "cinder.backup.create.incremental_without_full",
        "/backups",
        json!({"backup": {"volume_id": "{volume}", "incremental": true}}),
    ))
    .await;

    // A backup, restored onto a new volume.
    let reply = rec
        .call(post(
            "cinder.backup.create",
            "/backups",
            json!({"backup": {"volume_id": "{volume}", "name": format!("sfd-backup-{run}")}}),
        ))
        .await;
    rec.bind("backup", reply.str_at("/backup/id"));
    rec.on_cleanup(Svc::BlockStorage, "/backups/{backup}");
    rec.poll(
        "cinder.backup.wait_available",
        Svc::BlockStorage,
        "/backups/{backup}",
        "/backup/status",
        &["available", "error"],
        TIMEOUT,
    )
    .await;
    rec.poll(
        "cinder.volume.wait_backed_up",
        Svc::BlockStorage,
        "/volumes/{volume}",
        "/volume/status",
        &["available", "error"],
        TIMEOUT,
    )
    .await;
    rec.call(get("cinder.backup.show", "/backups/{backup}"))
        .await;
    // An admin resets a backup to `available` or `error` only; `fail_reason` stays empty.
    // Real Cinder hands the reset to cinder-backup (an RPC cast): the status changes a moment
    // after the 202, so each reset is waited for.
    for (label, status) in [
        ("cinder.backup.reset_status.invalid", "creating"),
        ("cinder.backup.reset_status.error", "error"),
    ] {
        rec.call(post(
            label,
            "/backups/{backup}/action",
            json!({"os-reset_status": {"status": status}}),
        ))
        .await;
    }
    rec.poll(
        "cinder.backup.wait_reset_error",
        Svc::BlockStorage,
        "/backups/{backup}",
        "/backup/status",
        &["error"],
        TIMEOUT,
    )
    .await;
    rec.call(get("cinder.backup.show.error", "/backups/{backup}"))
        .await;
    rec.call(post(
        "cinder.backup.reset_status.available",
        "/backups/{backup}/action",
        json!({"os-reset_status": {"status": "available"}}),
    ))
    .await;
    rec.poll(
        "cinder.backup.wait_reset_available",
        Svc::BlockStorage,
        "/backups/{backup}",
        "/backup/status",
        &["available"],
        TIMEOUT,
    )
    .await;
    rec.call(get(
        "cinder.backups.list",
        &format!("/backups?name=sfd-backup-{run}"),
    ))
    .await;
    let reply = rec
        .call(post(
            "cinder.backup.restore",
            "/backups/{backup}/restore",
            json!({"restore": {"name": format!("sfd-restored-{run}")}}),
        ))
        .await;
    rec.bind("restored", reply.str_at("/restore/volume_id"));
    rec.on_cleanup(Svc::BlockStorage, "/volumes/{restored}");
    rec.poll(
        "cinder.backup.restored.wait_available",
        Svc::BlockStorage,
        "/volumes/{restored}",
        "/volume/status",
        &["available", "error"],
        TIMEOUT,
    )
    .await;
    rec.poll(
        "cinder.backup.wait_restored",
        Svc::BlockStorage,
        "/backups/{backup}",
        "/backup/status",
        &["available", "error"],
        TIMEOUT,
    )
    .await;
    rec.call(get("cinder.backup.restored.show", "/volumes/{restored}"))
        .await;
    rec.call(delete(
        "cinder.backup.restored.delete",
        "/volumes/{restored}",
    ))
    .await;
    rec.call(delete("cinder.backup.delete", "/backups/{backup}"))
        .await;
    rec.call(delete(
        "cinder.backup.delete.while_deleting",
        "/backups/{backup}",
    ))
    .await;
    rec.poll(
        "cinder.backup.wait_gone",
        Svc::BlockStorage,
        "/backups/{backup}",
        "/backup/status",
        &["404"],
        TIMEOUT,
    )
    .await;

    attach(rec, login).await;

    rec.call(delete("cinder.volume.delete", "/volumes/{volume}"))
        .await;
    rec.poll(
        "cinder.volume.wait_gone",
        Svc::BlockStorage,
        "/volumes/{volume}",
        "/volume/status",
        &["404"],
        TIMEOUT,
    )
    .await;
}

/// Nova attaches the volume (in-use), refuses it to a second attach and Cinder refuses its
/// delete; Nova detaches it (available).
async fn attach(rec: &mut Recorder, login: &Login) {
    use Svc::Compute as C;
    let run = &login.run;
    let reply = rec
        .call(
            Req::new(
                "cinder.attach.server.create",
                C,
                Method::POST,
                "/v2.1/servers",
            )
            .json(
                json!({"server": {"name": format!("sfd-attach-{run}"), "imageRef": "{image}",
                    "flavorRef": "{flavor}", "networks": "none"}}),
            ),
        )
        .await;
    rec.bind("attach_server", reply.str_at("/server/id"));
    rec.on_cleanup(C, "/v2.1/servers/{attach_server}");
    rec.poll(
        "cinder.attach.server.wait_active",
        C,
        "/v2.1/servers/{attach_server}",
        "/server/status",
        &["ACTIVE", "ERROR"],
        TIMEOUT,
    )
    .await;
    let attach_body = json!({"volumeAttachment": {"volumeId": "{volume}"}});
    rec.call(
        Req::new(
            "nova.volume_attachment.create",
            C,
            Method::POST,
            "/v2.1/servers/{attach_server}/os-volume_attachments",
        )
        .json(attach_body.clone()),
    )
    .await;
    rec.poll(
        "cinder.volume.wait_in_use",
        Svc::BlockStorage,
        "/volumes/{volume}",
        "/volume/status",
        &["in-use", "error"],
        TIMEOUT,
    )
    .await;
    rec.call(Req::new(
        "nova.volume_attachments.list",
        C,
        Method::GET,
        "/v2.1/servers/{attach_server}/os-volume_attachments",
    ))
    .await;
    rec.call(Req::new(
        "nova.volume_attachment.show",
        C,
        Method::GET,
        "/v2.1/servers/{attach_server}/os-volume_attachments/{volume}",
    ))
    .await;
    rec.call(Req::new(
        "nova.server.show.with_volume",
        C,
        Method::GET,
        "/v2.1/servers/{attach_server}",
    ))
    .await;
    rec.call(get("cinder.volume.show.in_use", "/volumes/{volume}"))
        .await;
    rec.call(
        Req::new(
            "nova.volume_attachment.create.again",
            C,
            Method::POST,
            "/v2.1/servers/{attach_server}/os-volume_attachments",
        )
        .json(attach_body),
    )
    .await;
    other_server_attach(rec, login).await;
    rec.call(
        Req::new(
            "nova.volume_attachment.create.missing",
            C,
            Method::POST,
            "/v2.1/servers/{attach_server}/os-volume_attachments",
        )
        .json(json!({"volumeAttachment": {"volumeId": NO_SUCH_ID}})),
    )
    .await;
    rec.call(delete("cinder.volume.delete.in_use", "/volumes/{volume}"))
        .await;
    rec.call(
        post(
            "cinder.snapshot.create.in_use_3_0",
            "/snapshots",
            json!({"snapshot": {"volume_id": "{volume}"}}),
        )
        .header("OpenStack-API-Version", "volume 3.0"),
    )
    .await;
    rec.call(post(
        "cinder.backup.create.in_use_without_force",
        "/backups",
        json!({"backup": {"volume_id": "{volume}"}}),
    ))
    .await;
    rec.call(
        post(
            "cinder.volume.extend.in_use_3_41",
            "/volumes/{volume}/action",
            json!({"os-extend": {"new_size": 3}}),
        )
        .header("OpenStack-API-Version", "volume 3.41"),
    )
    .await;
    rec.call(post(
        "cinder.volume.extend.in_use",
        "/volumes/{volume}/action",
        json!({"os-extend": {"new_size": 3}}),
    ))
    .await;
    rec.poll(
        "cinder.volume.wait_extended_in_use",
        Svc::BlockStorage,
        "/volumes/{volume}",
        "/volume/size",
        &["3"],
        TIMEOUT,
    )
    .await;
    rec.poll(
        "cinder.volume.wait_in_use_again",
        Svc::BlockStorage,
        "/volumes/{volume}",
        "/volume/status",
        &["in-use", "error"],
        TIMEOUT,
    )
    .await;
    // Nova lists the attachment until the detach ends and refuses a second detach meanwhile,
    // but how long that lasts on the real services depends on their load (a second DELETE
    // there was 400 in one run, 404 in another): the embedded cloud's model of it is checked
    // by its own tests (`sim::block_storage` tests), not here.
    rec.call(Req::new(
        "nova.volume_attachment.delete",
        C,
        Method::DELETE,
        "/v2.1/servers/{attach_server}/os-volume_attachments/{volume}",
    ))
    .await;
    rec.poll(
        "cinder.volume.wait_detached",
        Svc::BlockStorage,
        "/volumes/{volume}",
        "/volume/status",
        &["available", "error"],
        TIMEOUT,
    )
    .await;
    rec.call(Req::new(
        "nova.volume_attachment.delete.again",
        C,
        Method::DELETE,
        "/v2.1/servers/{attach_server}/os-volume_attachments/{volume}",
    ))
    .await;
    rec.call(Req::new(
        "cinder.attach.server.delete",
        C,
        Method::DELETE,
        "/v2.1/servers/{attach_server}",
    ))
    .await;
    rec.poll(
        "cinder.attach.server.wait_gone",
        C,
        "/v2.1/servers/{attach_server}",
        "/server/status",
        &["404"],
        TIMEOUT,
    )
    .await;
}

/// A second server asks for `{volume}`, in use on the first and not multiattach: Nova's
/// refusal (stackform detaches a volume moving between its instances before attaching it).
async fn other_server_attach(rec: &mut Recorder, login: &Login) {
    use Svc::Compute as C;
    let run = &login.run;
    let reply = rec
        .call(
            Req::new(
                "cinder.attach.other_server.create",
                C,
                Method::POST,
                "/v2.1/servers",
            )
            .json(
                json!({"server": {"name": format!("sfd-attach-other-{run}"), "imageRef": "{image}",
                    "flavorRef": "{flavor}", "networks": "none"}}),
            ),
        )
        .await;
    rec.bind("other_server", reply.str_at("/server/id"));
    rec.on_cleanup(C, "/v2.1/servers/{other_server}");
    rec.poll(
        "cinder.attach.other_server.wait_active",
        C,
        "/v2.1/servers/{other_server}",
        "/server/status",
        &["ACTIVE", "ERROR"],
        TIMEOUT,
    )
    .await;
    rec.call(
        Req::new(
            "nova.volume_attachment.create.in_use_elsewhere",
            C,
            Method::POST,
            "/v2.1/servers/{other_server}/os-volume_attachments",
        )
        .json(json!({"volumeAttachment": {"volumeId": "{volume}"}})),
    )
    .await;
    rec.call(Req::new(
        "cinder.attach.other_server.delete",
        C,
        Method::DELETE,
        "/v2.1/servers/{other_server}",
    ))
    .await;
}

/// Cinder's attachments API (3.27+) on `{clone}`, as Nova drives it: reserve, connect,
/// complete (in-use), a second reserve refused, delete (available); before 3.27 there is none.
async fn attachments_api(rec: &mut Recorder) {
    let server = "5d2f7c1e-8a4b-4e3d-9c6f-1b0a2e3d4c5f";
    rec.call(
        get("cinder.attachments.list.3_26", "/attachments")
            .header("OpenStack-API-Version", "volume 3.26"),
    )
    .await;
    let reply = rec
        .call(post(
            "cinder.attachment.create",
            "/attachments",
            json!({"attachment": {"volume_uuid": "{clone}", "instance_uuid": server}}),
        ))
        .await;
    rec.bind("attachment", reply.str_at("/attachment/id"));
    rec.call(get("cinder.attachment.volume.reserved", "/volumes/{clone}"))
        .await;
    rec.call(
        Req::new("cinder.attachment.update", Svc::BlockStorage, Method::PUT, "/attachments/{attachment}").json(
            json!({"attachment": {"connector": {"host": "sfd-host", "initiator": "iqn.sfd", "mountpoint": "/dev/vdb"}}}),
        ),
    )
    .await;
    rec.call(post(
        "cinder.attachment.complete",
        "/attachments/{attachment}/action",
        json!({"os-complete": {}}),
    ))
    .await;
    rec.call(get("cinder.attachment.show", "/attachments/{attachment}"))
        .await;
    rec.call(get(
        "cinder.attachments.detail",
        "/attachments/detail?volume_id={clone}",
    ))
    .await;
    rec.call(get("cinder.attachment.volume.in_use", "/volumes/{clone}"))
        .await;
    // The server holding the volume may reserve it again (Cinder allows it for a migration):
    // that second attachment keeps the volume reserved until it goes too.
    let again = rec
        .call(post(
            "cinder.attachment.create.again",
            "/attachments",
            json!({"attachment": {"volume_uuid": "{clone}", "instance_uuid": server}}),
        ))
        .await;
    rec.bind("attachment_again", again.str_at("/attachment/id"));
    rec.call(delete(
        "cinder.attachment.delete.again",
        "/attachments/{attachment_again}",
    ))
    .await;
    rec.call(delete(
        "cinder.attachment.delete",
        "/attachments/{attachment}",
    ))
    .await;
    rec.poll(
        "cinder.attachment.volume.wait_available",
        Svc::BlockStorage,
        "/volumes/{clone}",
        "/volume/status",
        &["available", "error"],
        TIMEOUT,
    )
    .await;
}

/// List filters as an admin gives them (the script runs as one): a key the resource lacks
/// reaches the database and matches nothing, so does a metadata filter that is not an
/// object; an object matches by its pairs.
async fn filters(rec: &mut Recorder, run: &str) {
    for (label, path) in [
        (
            "cinder.volumes.list.unknown_filter",
            format!("/volumes?name=sfd-vol-{run}&sfd_unknown=1"),
        ),
        (
            "cinder.volumes.list.metadata",
            format!("/volumes?name=sfd-vol-{run}&metadata=%7B%22owner%22%3A%22sfd%22%7D"),
        ),
        (
            "cinder.volumes.list.metadata_python",
            format!("/volumes?name=sfd-vol-{run}&metadata=%7B%27owner%27%3A%27sfd%27%7D"),
        ),
        (
            "cinder.volumes.list.metadata_malformed",
            format!("/volumes?name=sfd-vol-{run}&metadata=sfd-not-json"),
        ),
        (
            "cinder.snapshots.list.unknown_filter",
            format!("/snapshots?name=sfd-snap-{run}&sfd_unknown=1"),
        ),
        (
            "cinder.backups.list.unknown_filter",
            format!("/backups?name=sfd-backup-{run}&sfd_unknown=1"),
        ),
    ] {
        rec.call(get(label, &path)).await;
    }
}

fn put(label: &str, path: &str, body: serde_json::Value) -> Req {
    Req::new(label, Svc::BlockStorage, Method::PUT, path).json(body)
}

/// A snapshot's metadata: replace, merge, read, one key read, set, deleted, and the errors
/// (a missing key, a key the body does not name, a body without `metadata`).
async fn snapshot_metadata(rec: &mut Recorder) {
    let path = "/snapshots/{snapshot}/metadata";
    let key = "/snapshots/{snapshot}/metadata/a";
    rec.call(get("cinder.snapshot.metadata.empty", path)).await;
    rec.call(put(
        "cinder.snapshot.metadata.replace",
        path,
        json!({"metadata": {"a": "1", "b": "2"}}),
    ))
    .await;
    rec.call(post(
        "cinder.snapshot.metadata.merge",
        path,
        json!({"metadata": {"c": "3"}}),
    ))
    .await;
    rec.call(get("cinder.snapshot.metadata.key", key)).await;
    rec.call(get(
        "cinder.snapshot.metadata.key_missing",
        "/snapshots/{snapshot}/metadata/sfd-none",
    ))
    .await;
    rec.call(put(
        "cinder.snapshot.metadata.key_set",
        key,
        json!({"meta": {"a": "9"}}),
    ))
    .await;
    rec.call(put(
        "cinder.snapshot.metadata.key_mismatch",
        key,
        json!({"meta": {"x": "9"}}),
    ))
    .await;
    rec.call(put(
        "cinder.snapshot.metadata.no_metadata",
        path,
        json!({"meta": {}}),
    ))
    .await;
    for label in [
        "cinder.snapshot.metadata.key_delete",
        "cinder.snapshot.metadata.key_delete.again",
    ] {
        rec.call(delete(label, "/snapshots/{snapshot}/metadata/b"))
            .await;
    }
    rec.call(get("cinder.snapshot.metadata", path)).await;
}
