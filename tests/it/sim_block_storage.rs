//! Cinder v3 of the embedded cloud over HTTP: version document, catalog, microversions,
//! volumes and their actions, quotas, snapshots, backups with restore, attachments (Cinder's
//! API and Nova's os-volume_attachments), with Cinder's and Nova's exact error bodies.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::sim_common::{Cloud, Reply, fast_config, start, start_with};
use crate::sim_compute::wait_for_status;

const LATEST: (&str, &str) = ("OpenStack-API-Version", "volume 3.71");

fn bad_request(message: &str) -> Value {
    json!({ "badRequest": { "code": 400, "message": message } })
}

fn over_limit(message: &str) -> Value {
    json!({ "overLimit": { "code": 413, "message": message, "retryAfter": "0" } })
}

/// A Cinder call for `project_id` with `token`, at 3.71.
async fn cinder(
    cloud: &Cloud,
    token: &str,
    project_id: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Reply {
    cloud
        .call_as(
            token,
            method,
            &format!("/volume/v3/{project_id}/{path}"),
            body,
            &[LATEST],
        )
        .await
}

fn id_of(reply: &Reply, key: &str) -> String {
    reply.body[key]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Waits until `path`'s `key` has `status`, and answers it.
async fn wait_status(
    cloud: &Cloud,
    token: &str,
    project_id: &str,
    path: &str,
    key: &str,
    status: &str,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = cinder(cloud, token, project_id, Method::GET, path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        if reply.body[key]["status"] == status {
            return reply.body[key].clone();
        }
        assert!(
            Instant::now() < deadline,
            "{path} never became {status}: {}",
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until `path` answers 404 (a delete has ended), and answers that reply's body.
async fn wait_gone(cloud: &Cloud, token: &str, project_id: &str, path: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = cinder(cloud, token, project_id, Method::GET, path, None).await;
        if reply.status == StatusCode::NOT_FOUND {
            return reply.body;
        }
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert!(
            Instant::now() < deadline,
            "{path} never went: {}",
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Creates an available volume and answers its id.
async fn volume(cloud: &Cloud, token: &str, project_id: &str, body: Value) -> String {
    let reply = cinder(
        cloud,
        token,
        project_id,
        Method::POST,
        "volumes",
        Some(json!({ "volume": body })),
    )
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    assert_eq!(reply.body["volume"]["status"], "creating");
    let id = id_of(&reply, "volume");
    wait_status(
        cloud,
        token,
        project_id,
        &format!("volumes/{id}"),
        "volume",
        "available",
    )
    .await;
    id
}

#[tokio::test]
async fn version_document_catalog_and_microversions() {
    let cloud = start().await;
    let root = cloud.call(Method::GET, "/volume/", None).await;
    assert_eq!(root.status, StatusCode::MULTIPLE_CHOICES);
    let version = &root.body["versions"][0];
    assert_eq!(
        (&version["id"], &version["version"], &version["min_version"]),
        (&json!("v3.0"), &json!("3.71"), &json!("3.0"))
    );
    // The catalog carries both Cinder entries, with the token's project in the URL.
    let token = crate::sim_common::password_token(
        &cloud.http,
        &cloud.handle.base_url,
        stackform::sim::ADMIN_USER,
        stackform::sim::ADMIN_PASSWORD,
        Some(stackform::sim::ADMIN_PROJECT),
    )
    .await;
    let catalog = &token.body["token"]["catalog"];
    let expected = format!(
        "{}/volume/v3/{}",
        cloud.handle.base_url, cloud.admin_project_id
    );
    for (kind, name) in [("block-storage", "cinder"), ("volumev3", "cinderv3")] {
        let entry = catalog
            .as_array()
            .and_then(|c| c.iter().find(|s| s["type"] == kind))
            .unwrap_or_else(|| panic!("no {kind} in {catalog}"));
        assert_eq!(entry["name"], name);
        assert_eq!(entry["endpoints"][0]["url"], expected.as_str());
    }
    let p = &cloud.admin_project_id;
    let plain = cloud
        .call(Method::GET, &format!("/volume/v3/{p}/volumes"), None)
        .await;
    assert_eq!(plain.header("openstack-api-version"), Some("volume 3.0"));
    assert_eq!(plain.header("vary"), Some("OpenStack-API-Version"));
    let latest = cloud
        .call_with(
            Method::GET,
            &format!("/volume/v3/{p}/volumes"),
            None,
            &[("OpenStack-API-Version", "volume latest")],
        )
        .await;
    assert_eq!(latest.header("openstack-api-version"), Some("volume 3.71"));
    let too_new = cloud
        .call_with(
            Method::GET,
            &format!("/volume/v3/{p}/volumes"),
            None,
            &[("OpenStack-API-Version", "volume 3.99")],
        )
        .await;
    assert_eq!(too_new.status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(
        too_new.body,
        json!({ "computeFault": { "code": 406, "message": "Version 3.99 is not supported by the API. Minimum is 3.0 and maximum is 3.71." } })
    );
    assert_eq!(too_new.header("openstack-api-version"), Some("volume 3.99"));
    let zones = cinder(
        &cloud,
        &cloud.token,
        p,
        Method::GET,
        "os-availability-zone",
        None,
    )
    .await;
    assert_eq!(
        zones.body,
        json!({ "availabilityZoneInfo": [{ "zoneName": "nova", "zoneState": { "available": true } }] })
    );
    let types = cinder(&cloud, &cloud.token, p, Method::GET, "types", None).await;
    let names: Vec<&str> = types.body["volume_types"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["__DEFAULT__", "ssd", "hdd", "multiattach"]);
    assert_eq!(
        types.body["volume_types"][3]["extra_specs"],
        json!({ "multiattach": "<is> True" })
    );
}

#[tokio::test]
async fn volume_lifecycle_and_errors() {
    let cloud = start().await;
    let (p, _, token) = cloud.tenant("vols").await;
    let id = volume(
        &cloud,
        &token,
        &p,
        json!({ "size": 1, "name": "data", "volume_type": "ssd", "metadata": { "owner": "sf" } }),
    )
    .await;
    let shown = cinder(
        &cloud,
        &token,
        &p,
        Method::GET,
        &format!("volumes/{id}"),
        None,
    )
    .await;
    let v = &shown.body["volume"];
    assert_eq!(
        (
            &v["size"],
            &v["volume_type"],
            &v["availability_zone"],
            &v["bootable"]
        ),
        (&json!(1), &json!("ssd"), &json!("nova"), &json!("false"))
    );
    assert_eq!(v["os-vol-tenant-attr:tenant_id"], p.as_str());
    assert!(
        v.get("os-vol-host-attr:host").is_none(),
        "a member sees no host: {v}"
    );
    // Filters: name and metadata as cinderclient sends them.
    let other = volume(&cloud, &token, &p, json!({ "size": 2, "name": "other" })).await;
    let by_name = cinder(&cloud, &token, &p, Method::GET, "volumes?name=data", None).await;
    assert_eq!(by_name.body["volumes"].as_array().map(Vec::len), Some(1));
    let by_meta = cinder(
        &cloud,
        &token,
        &p,
        Method::GET,
        "volumes/detail?metadata=%7B%27owner%27%3A+%27sf%27%7D",
        None,
    )
    .await;
    assert_eq!(by_meta.body["volumes"][0]["id"], id.as_str());
    // Newest first, paged.
    let first = cinder(&cloud, &token, &p, Method::GET, "volumes?limit=1", None).await;
    assert_eq!(first.body["volumes"][0]["id"], other.as_str());
    let next = first.body["volumes_links"][0]["href"]
        .as_str()
        .unwrap_or_default();
    assert!(next.contains(&format!("marker={other}")), "{next}");
    // Update.
    let updated = cinder(
        &cloud,
        &token,
        &p,
        Method::PUT,
        &format!("volumes/{id}"),
        Some(json!({ "volume": { "description": "d" } })),
    )
    .await;
    assert_eq!(updated.body["volume"]["description"], "d");
    // Extend, then the shrink refusal.
    let extend = cinder(
        &cloud,
        &token,
        &p,
        Method::POST,
        &format!("volumes/{id}/action"),
        Some(json!({ "os-extend": { "new_size": 3 } })),
    )
    .await;
    assert_eq!(extend.status, StatusCode::ACCEPTED, "{}", extend.body);
    let grown = wait_status(
        &cloud,
        &token,
        &p,
        &format!("volumes/{id}"),
        "volume",
        "available",
    )
    .await;
    assert_eq!(grown["size"], 3);
    let shrink = cinder(
        &cloud,
        &token,
        &p,
        Method::POST,
        &format!("volumes/{id}/action"),
        Some(json!({ "os-extend": { "new_size": 2 } })),
    )
    .await;
    assert_eq!(shrink.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        shrink.body,
        bad_request(
            "Invalid input received: New size for extend must be greater than current size. (current: 3, extended: 2)."
        )
    );
    let zero = cinder(
        &cloud,
        &token,
        &p,
        Method::POST,
        "volumes",
        Some(json!({ "volume": { "size": 0 } })),
    )
    .await;
    assert_eq!(
        zero.body,
        bad_request(
            "Invalid input for field/attribute size. Value: 0. 0 is less than the minimum of 1"
        )
    );
    let no_type = cinder(
        &cloud,
        &token,
        &p,
        Method::POST,
        "volumes",
        Some(json!({ "volume": { "size": 1, "volume_type": "nope" } })),
    )
    .await;
    assert_eq!(
        no_type.body,
        json!({ "itemNotFound": { "code": 404, "message": "Volume type with name nope could not be found." } })
    );
    let zone = cinder(
        &cloud,
        &token,
        &p,
        Method::POST,
        "volumes",
        Some(json!({ "volume": { "size": 1, "availability_zone": "nope" } })),
    )
    .await;
    assert_eq!(
        zone.body,
        bad_request("Availability zone 'nope' is invalid.")
    );
    // Reset-status is an admin's.
    let reset = cinder(
        &cloud,
        &token,
        &p,
        Method::POST,
        &format!("volumes/{id}/action"),
        Some(json!({ "os-reset_status": { "status": "error" } })),
    )
    .await;
    assert_eq!(reset.status, StatusCode::FORBIDDEN);
    let reset = cinder(
        &cloud,
        &cloud.token,
        &p,
        Method::POST,
        &format!("volumes/{id}/action"),
        Some(json!({ "os-reset_status": { "status": "error" } })),
    )
    .await;
    assert_eq!(reset.status, StatusCode::ACCEPTED);
    // Delete: gone for good.
    // Show carries Cinder's x-compute-request-id; a volume delete's bare 202 does not.
    assert!(shown.header("x-compute-request-id").is_some());
    for gone in [&id, &other] {
        let deleted = cinder(
            &cloud,
            &token,
            &p,
            Method::DELETE,
            &format!("volumes/{gone}"),
            None,
        )
        .await;
        assert_eq!(deleted.status, StatusCode::ACCEPTED, "{}", deleted.body);
        assert_eq!(deleted.header("x-compute-request-id"), None);
    }
    // Deleting for a while, then gone.
    let missing = wait_gone(&cloud, &token, &p, &format!("volumes/{id}")).await;
    assert_eq!(
        missing,
        json!({ "itemNotFound": { "code": 404, "message": format!("Volume {id} could not be found.") } })
    );
}

#[tokio::test]
async fn quotas_limits_and_over_quota() {
    let cloud = start().await;
    let (p, _, token) = cloud.tenant("quota").await;
    let set = cinder(
        &cloud,
        &cloud.token,
        &p,
        Method::PUT,
        &format!("os-quota-sets/{p}"),
        Some(json!({ "quota_set": { "gigabytes": 5, "gigabytes_ssd": 2, "volumes": 2 } })),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(
        (
            &set.body["quota_set"]["gigabytes"],
            &set.body["quota_set"]["gigabytes_ssd"]
        ),
        (&json!(5), &json!(2))
    );
    let member = cinder(
        &cloud,
        &token,
        &p,
        Method::PUT,
        &format!("os-quota-sets/{p}"),
        Some(json!({ "quota_set": { "volumes": 20 } })),
    )
    .await;
    assert_eq!(member.status, StatusCode::FORBIDDEN);
    volume(
        &cloud,
        &token,
        &p,
        json!({ "size": 2, "volume_type": "ssd" }),
    )
    .await;
    let big = cinder(
        &cloud,
        &token,
        &p,
        Method::POST,
        "volumes",
        Some(json!({ "volume": { "size": 4 } })),
    )
    .await;
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        big.body,
        over_limit(
            "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested 4G, quota is 5G and 2G has been consumed."
        )
    );
    let typed = cinder(
        &cloud,
        &token,
        &p,
        Method::POST,
        "volumes",
        Some(json!({ "volume": { "size": 1, "volume_type": "ssd" } })),
    )
    .await;
    assert_eq!(
        typed.body,
        over_limit(
            "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes_ssd quota. Requested 1G, quota is 2G and 2G has been consumed."
        )
    );
    volume(&cloud, &token, &p, json!({ "size": 1 })).await;
    let third = cinder(
        &cloud,
        &token,
        &p,
        Method::POST,
        "volumes",
        Some(json!({ "volume": { "size": 1 } })),
    )
    .await;
    assert_eq!(
        third.body,
        over_limit(
            "VolumeLimitExceeded: Maximum number of volumes allowed (2) exceeded for quota 'volumes'."
        )
    );
    let usage = cinder(
        &cloud,
        &token,
        &p,
        Method::GET,
        &format!("os-quota-sets/{p}?usage=true"),
        None,
    )
    .await;
    let q = &usage.body["quota_set"];
    assert_eq!(
        (
            &q["gigabytes"],
            &q["volumes_ssd"]["in_use"],
            &q["backups"]["limit"]
        ),
        (
            &json!({ "limit": 5, "in_use": 3, "reserved": 0 }),
            &json!(1),
            &json!(10)
        )
    );
    let limits = cinder(&cloud, &token, &p, Method::GET, "limits", None).await;
    let absolute = &limits.body["limits"]["absolute"];
    assert_eq!(
        (
            &absolute["maxTotalVolumeGigabytes"],
            &absolute["totalGigabytesUsed"],
            &absolute["totalVolumesUsed"]
        ),
        (&json!(5), &json!(3), &json!(2))
    );
}

#[tokio::test]
async fn snapshots_block_deletes_and_seed_volumes() {
    let cloud = start().await;
    let (p, _, token) = cloud.tenant("snaps").await;
    let id = volume(&cloud, &token, &p, json!({ "size": 2, "name": "base" })).await;
    let snap = cinder(
        &cloud,
        &token,
        &p,
        Method::POST,
        "snapshots",
        Some(json!({ "snapshot": { "volume_id": id, "name": "s1" } })),
    )
    .await;
    assert_eq!(snap.status, StatusCode::ACCEPTED, "{}", snap.body);
    assert_eq!(snap.body["snapshot"]["status"], "creating");
    let snap_id = id_of(&snap, "snapshot");
    let shown = wait_status(
        &cloud,
        &token,
        &p,
        &format!("snapshots/{snap_id}"),
        "snapshot",
        "available",
    )
    .await;
    assert_eq!(
        (
            &shown["size"],
            &shown["os-extended-snapshot-attributes:progress"]
        ),
        (&json!(2), &json!("100%"))
    );
    let refused = cinder(
        &cloud,
        &token,
        &p,
        Method::DELETE,
        &format!("volumes/{id}"),
        None,
    )
    .await;
    assert_eq!(
        refused.body,
        bad_request(
            "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer."
        )
    );
    let from_snapshot = volume(&cloud, &token, &p, json!({ "snapshot_id": snap_id })).await;
    let restored = cinder(
        &cloud,
        &token,
        &p,
        Method::GET,
        &format!("volumes/{from_snapshot}"),
        None,
    )
    .await;
    assert_eq!(
        (
            &restored.body["volume"]["size"],
            &restored.body["volume"]["snapshot_id"]
        ),
        (&json!(2), &json!(snap_id))
    );
    let too_small = cinder(
        &cloud,
        &token,
        &p,
        Method::POST,
        "volumes",
        Some(json!({ "volume": { "size": 1, "snapshot_id": snap_id } })),
    )
    .await;
    assert_eq!(too_small.status, StatusCode::BAD_REQUEST);
    let deleted = cinder(
        &cloud,
        &token,
        &p,
        Method::DELETE,
        &format!("snapshots/{snap_id}"),
        None,
    )
    .await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED);
    // A deleting snapshot still holds its volume: the volume's delete waits for it to go.
    wait_gone(&cloud, &token, &p, &format!("snapshots/{snap_id}")).await;
    let deleted = cinder(
        &cloud,
        &token,
        &p,
        Method::DELETE,
        &format!("volumes/{id}"),
        None,
    )
    .await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED, "{}", deleted.body);
}

#[tokio::test]
async fn backups_outlive_their_volume_and_restore() {
    let cloud = start().await;
    let (p, _, token) = cloud.tenant("backups").await;
    let id = volume(&cloud, &token, &p, json!({ "size": 3, "name": "src" })).await;
    let backup = cinder(
        &cloud,
        &token,
        &p,
        Method::POST,
        "backups",
        Some(json!({ "backup": { "volume_id": id, "name": "b1" } })),
    )
    .await;
    assert_eq!(backup.status, StatusCode::ACCEPTED, "{}", backup.body);
    assert_eq!(backup.body["backup"]["name"], "b1");
    let backup_id = id_of(&backup, "backup");
    let during = cinder(
        &cloud,
        &token,
        &p,
        Method::GET,
        &format!("volumes/{id}"),
        None,
    )
    .await;
    assert_eq!(during.body["volume"]["status"], "backing-up");
    let done = wait_status(
        &cloud,
        &token,
        &p,
        &format!("backups/{backup_id}"),
        "backup",
        "available",
    )
    .await;
    assert_eq!(
        (&done["size"], &done["is_incremental"]),
        (&json!(3), &json!(false))
    );
    wait_status(
        &cloud,
        &token,
        &p,
        &format!("volumes/{id}"),
        "volume",
        "available",
    )
    .await;
    let incremental = cinder(
        &cloud,
        &token,
        &p,
        Method::POST,
        "backups",
        Some(json!({ "backup": { "volume_id": id, "incremental": true } })),
    )
    .await;
    let incremental_id = id_of(&incremental, "backup");
    wait_status(
        &cloud,
        &token,
        &p,
        &format!("backups/{incremental_id}"),
        "backup",
        "available",
    )
    .await;
    let parent = cinder(
        &cloud,
        &token,
        &p,
        Method::GET,
        &format!("backups/{backup_id}"),
        None,
    )
    .await;
    assert_eq!(parent.body["backup"]["has_dependent_backups"], true);
    let deleted = cinder(
        &cloud,
        &token,
        &p,
        Method::DELETE,
        &format!("volumes/{id}"),
        None,
    )
    .await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED, "{}", deleted.body);
    let kept = cinder(&cloud, &token, &p, Method::GET, "backups/detail", None).await;
    assert_eq!(kept.body["backups"].as_array().map(Vec::len), Some(2));
    // Restore onto a new volume of the backup's size.
    let restore = cinder(
        &cloud,
        &token,
        &p,
        Method::POST,
        &format!("backups/{backup_id}/restore"),
        Some(json!({ "restore": { "name": "back" } })),
    )
    .await;
    assert_eq!(restore.status, StatusCode::ACCEPTED, "{}", restore.body);
    assert_eq!(
        (
            &restore.body["restore"]["backup_id"],
            &restore.body["restore"]["volume_name"]
        ),
        (&json!(backup_id), &json!("back"))
    );
    let new_id = restore.body["restore"]["volume_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let restoring = cinder(
        &cloud,
        &token,
        &p,
        Method::GET,
        &format!("volumes/{new_id}"),
        None,
    )
    .await;
    assert_eq!(restoring.body["volume"]["status"], "restoring-backup");
    let restored = wait_status(
        &cloud,
        &token,
        &p,
        &format!("volumes/{new_id}"),
        "volume",
        "available",
    )
    .await;
    assert_eq!(restored["size"], 3);
    // The backed-up volume's metadata comes back, with where it came from.
    assert_eq!(restored["metadata"], json!({ "src_backup_id": backup_id }));
    // Onto an existing volume too small for it.
    let small = volume(&cloud, &token, &p, json!({ "size": 1 })).await;
    let refused = cinder(
        &cloud,
        &token,
        &p,
        Method::POST,
        &format!("backups/{backup_id}/restore"),
        Some(json!({ "restore": { "volume_id": small } })),
    )
    .await;
    assert_eq!(
        refused.body,
        bad_request("Invalid volume: volume size 1 is too small to restore backup of size 3.")
    );
    // Onto an existing volume large enough: it is that volume that restores.
    let large = volume(&cloud, &token, &p, json!({ "size": 4, "name": "large" })).await;
    let onto = cinder(
        &cloud,
        &token,
        &p,
        Method::POST,
        &format!("backups/{backup_id}/restore"),
        Some(json!({ "restore": { "volume_id": large } })),
    )
    .await;
    assert_eq!(
        onto.body,
        json!({ "restore": { "backup_id": backup_id, "volume_id": large, "volume_name": "large" } })
    );
    let restored = wait_status(
        &cloud,
        &token,
        &p,
        &format!("volumes/{large}"),
        "volume",
        "available",
    )
    .await;
    assert_eq!(
        (&restored["size"], &restored["metadata"]["src_backup_id"]),
        (&json!(4), &json!(backup_id))
    );
}

async fn server(cloud: &Cloud, token: &str, name: &str) -> String {
    let image = cloud.cirros_id().await;
    let reply = cloud
        .call_as(token, Method::POST, "/compute/v2.1/servers", Some(json!({ "server": { "name": name, "imageRef": image, "flavorRef": "1", "networks": "none" } })), &[("OpenStack-API-Version", "compute 2.96")])
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let id = reply.body["server"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    wait_for_status(cloud, token, &id, "ACTIVE").await;
    id
}

async fn nova(
    cloud: &Cloud,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
    mv: &str,
) -> Reply {
    cloud
        .call_as(
            token,
            method,
            &format!("/compute/v2.1/{path}"),
            body,
            &[("OpenStack-API-Version", mv)],
        )
        .await
}

#[tokio::test]
async fn nova_attaches_and_detaches_volumes() {
    // Attaches last long enough that the second reserve below surely meets the first one's.
    let cloud = start_with(stackform::sim::SimConfig {
        volume_delay: Duration::from_secs(1),
        ..fast_config()
    })
    .await;
    let (p, _, token) = cloud.tenant("attach").await;
    let first = server(&cloud, &token, "one").await;
    let second = server(&cloud, &token, "two").await;
    let id = volume(&cloud, &token, &p, json!({ "size": 1 })).await;
    let attach = json!({ "volumeAttachment": { "volumeId": id } });
    let attached = nova(
        &cloud,
        &token,
        Method::POST,
        &format!("servers/{first}/os-volume_attachments"),
        Some(attach.clone()),
        "compute 2.1",
    )
    .await;
    assert_eq!(attached.status, StatusCode::OK, "{}", attached.body);
    assert_eq!(
        attached.body,
        json!({ "volumeAttachment": { "id": id, "serverId": first, "volumeId": id, "device": "/dev/sdb" } })
    );
    // Nova answers before the attach ends: reserved, then in-use.
    let shown = wait_status(
        &cloud,
        &token,
        &p,
        &format!("volumes/{id}"),
        "volume",
        "in-use",
    )
    .await;
    assert_eq!(shown["attachments"][0]["server_id"], first.as_str());
    let view = nova(
        &cloud,
        &token,
        Method::GET,
        &format!("servers/{first}"),
        None,
        "compute 2.96",
    )
    .await;
    assert_eq!(
        view.body["server"]["os-extended-volumes:volumes_attached"],
        json!([{ "id": id, "delete_on_termination": false }])
    );
    let listed = nova(
        &cloud,
        &token,
        Method::GET,
        &format!("servers/{first}/os-volume_attachments"),
        None,
        "compute 2.96",
    )
    .await;
    assert_eq!(listed.body["volumeAttachments"][0]["device"], "/dev/sdb");
    assert!(listed.body["volumeAttachments"][0].get("id").is_none());
    // Not multiattach: a second server is refused, with Nova's words.
    let refused = nova(
        &cloud,
        &token,
        Method::POST,
        &format!("servers/{second}/os-volume_attachments"),
        Some(attach.clone()),
        "compute 2.96",
    )
    .await;
    assert_eq!(
        refused.body,
        bad_request(&format!(
            "Invalid volume: volume {id} is already attached to instances: {first}"
        ))
    );
    let in_use = cinder(
        &cloud,
        &token,
        &p,
        Method::DELETE,
        &format!("volumes/{id}"),
        None,
    )
    .await;
    assert_eq!(in_use.status, StatusCode::BAD_REQUEST);
    // In use: a snapshot needs `force` before 3.66, a backup needs it always.
    let old_snapshot = cloud
        .call_as(
            &token,
            Method::POST,
            &format!("/volume/v3/{p}/snapshots"),
            Some(json!({ "snapshot": { "volume_id": id } })),
            &[("OpenStack-API-Version", "volume 3.0")],
        )
        .await;
    assert_eq!(
        old_snapshot.body,
        bad_request(&format!(
            "Invalid volume: Volume {id} status must be available, but current status is: in-use."
        ))
    );
    let forced = cloud
        .call_as(
            &token,
            Method::POST,
            &format!("/volume/v3/{p}/snapshots"),
            Some(json!({ "snapshot": { "volume_id": id, "force": true } })),
            &[("OpenStack-API-Version", "volume 3.0")],
        )
        .await;
    assert_eq!(forced.status, StatusCode::ACCEPTED, "{}", forced.body);
    let snapshot_id = id_of(&forced, "snapshot");
    wait_status(
        &cloud,
        &token,
        &p,
        &format!("snapshots/{snapshot_id}"),
        "snapshot",
        "available",
    )
    .await;
    let deleted = cinder(
        &cloud,
        &token,
        &p,
        Method::DELETE,
        &format!("snapshots/{snapshot_id}"),
        None,
    )
    .await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED);
    let unforced = cinder(
        &cloud,
        &token,
        &p,
        Method::POST,
        "backups",
        Some(json!({ "backup": { "volume_id": id } })),
    )
    .await;
    assert_eq!(
        unforced.body,
        bad_request("Invalid volume: Backing up an in-use volume must use the force flag.")
    );
    // Extend while attached needs 3.42.
    let old = cloud
        .call_as(
            &token,
            Method::POST,
            &format!("/volume/v3/{p}/volumes/{id}/action"),
            Some(json!({ "os-extend": { "new_size": 2 } })),
            &[("OpenStack-API-Version", "volume 3.41")],
        )
        .await;
    assert_eq!(
        old.body,
        bad_request(&format!(
            "Invalid volume: Volume {id} status must be '{{'status': 'available'}}' to extend, currently in-use."
        ))
    );
    let new = cinder(
        &cloud,
        &token,
        &p,
        Method::POST,
        &format!("volumes/{id}/action"),
        Some(json!({ "os-extend": { "new_size": 2 } })),
    )
    .await;
    assert_eq!(new.status, StatusCode::ACCEPTED, "{}", new.body);
    let grown = wait_status(
        &cloud,
        &token,
        &p,
        &format!("volumes/{id}"),
        "volume",
        "in-use",
    )
    .await;
    assert_eq!(grown["size"], 2);
    let detached = nova(
        &cloud,
        &token,
        Method::DELETE,
        &format!("servers/{first}/os-volume_attachments/{id}"),
        None,
        "compute 2.96",
    )
    .await;
    assert_eq!(detached.status, StatusCode::ACCEPTED);
    wait_status(
        &cloud,
        &token,
        &p,
        &format!("volumes/{id}"),
        "volume",
        "available",
    )
    .await;
    let again = nova(
        &cloud,
        &token,
        Method::DELETE,
        &format!("servers/{first}/os-volume_attachments/{id}"),
        None,
        "compute 2.96",
    )
    .await;
    assert_eq!(
        again.body,
        json!({ "itemNotFound": { "code": 404, "message": format!("Instance {first} is not attached to volume {id}") } })
    );
    // A multiattach volume goes to both, one at a time: Cinder reserves by a conditional
    // update, so a second reserve while the first attach is under way is refused.
    // Deleting a server detaches it.
    let shared = volume(
        &cloud,
        &token,
        &p,
        json!({ "size": 1, "volume_type": "multiattach" }),
    )
    .await;
    let attach_shared = |target: String| {
        let (cloud, token) = (&cloud, &token);
        let body = json!({ "volumeAttachment": { "volumeId": shared } });
        async move {
            nova(
                cloud,
                token,
                Method::POST,
                &format!("servers/{target}/os-volume_attachments"),
                Some(body),
                "compute 2.96",
            )
            .await
        }
    };
    let reply = attach_shared(first.clone()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let racing = attach_shared(second.clone()).await;
    assert_eq!(
        racing.body,
        bad_request(&format!(
            "Invalid volume: Volume {shared} status must be available or in-use or downloading \
             to reserve, but the current status is reserved."
        ))
    );
    let shared_path = format!("volumes/{shared}");
    wait_status(&cloud, &token, &p, &shared_path, "volume", "in-use").await;
    let reply = attach_shared(second.clone()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let deleted = nova(
        &cloud,
        &token,
        Method::DELETE,
        &format!("servers/{first}"),
        None,
        "compute 2.96",
    )
    .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let shown = cinder(
            &cloud,
            &token,
            &p,
            Method::GET,
            &format!("volumes/{shared}"),
            None,
        )
        .await;
        let servers: Vec<&str> = shown.body["volume"]["attachments"]
            .as_array()
            .map(|a| a.iter().filter_map(|a| a["server_id"].as_str()).collect())
            .unwrap_or_default();
        if servers == [second.as_str()] {
            assert_eq!(shown.body["volume"]["status"], "in-use");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "server delete never detached: {}",
            shown.body
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn cinder_attachments_api() {
    let cloud = start().await;
    let (p, _, token) = cloud.tenant("attachments").await;
    let id = volume(&cloud, &token, &p, json!({ "size": 1 })).await;
    let server_id = "11111111-2222-3333-4444-555555555555";
    let old = cloud
        .call_as(
            &token,
            Method::POST,
            &format!("/volume/v3/{p}/attachments"),
            Some(json!({ "attachment": { "volume_uuid": id, "instance_uuid": server_id } })),
            &[("OpenStack-API-Version", "volume 3.26")],
        )
        .await;
    assert_eq!(old.status, StatusCode::NOT_FOUND);
    let created = cinder(
        &cloud,
        &token,
        &p,
        Method::POST,
        "attachments",
        Some(json!({ "attachment": { "volume_uuid": id, "instance_uuid": server_id } })),
    )
    .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert_eq!(created.body["attachment"]["status"], "reserved");
    let attachment_id = id_of(&created, "attachment");
    let reserved = cinder(
        &cloud,
        &token,
        &p,
        Method::GET,
        &format!("volumes/{id}"),
        None,
    )
    .await;
    assert_eq!(reserved.body["volume"]["status"], "reserved");
    let updated = cinder(
        &cloud,
        &token,
        &p,
        Method::PUT,
        &format!("attachments/{attachment_id}"),
        Some(json!({ "attachment": { "connector": { "host": "h", "mountpoint": "/dev/vdb" } } })),
    )
    .await;
    assert_eq!(
        (
            &updated.body["attachment"]["status"],
            &updated.body["attachment"]["attach_mode"]
        ),
        (&json!("reserved"), &json!("null"))
    );
    let complete = cinder(
        &cloud,
        &token,
        &p,
        Method::POST,
        &format!("attachments/{attachment_id}/action"),
        Some(json!({ "os-complete": {} })),
    )
    .await;
    assert_eq!(complete.status, StatusCode::NO_CONTENT);
    let in_use = cinder(
        &cloud,
        &token,
        &p,
        Method::GET,
        &format!("volumes/{id}"),
        None,
    )
    .await;
    assert_eq!(
        (
            &in_use.body["volume"]["status"],
            &in_use.body["volume"]["attachments"][0]["device"]
        ),
        (&json!("in-use"), &json!("/dev/vdb"))
    );
    let other = cinder(&cloud, &token, &p, Method::POST, "attachments", Some(json!({ "attachment": { "volume_uuid": id, "instance_uuid": "99999999-2222-3333-4444-555555555555" } }))).await;
    assert_eq!(
        other.body,
        bad_request(&format!(
            "Invalid volume: Volume {id} status must be available or downloading to reserve, but the current status is in-use."
        ))
    );
    // The server holding it may reserve it again, as a migration does.
    let again = cinder(
        &cloud,
        &token,
        &p,
        Method::POST,
        "attachments",
        Some(json!({ "attachment": { "volume_uuid": id, "instance_uuid": server_id } })),
    )
    .await;
    assert_eq!(
        again.body["attachment"]["status"], "reserved",
        "{}",
        again.body
    );
    let second_id = id_of(&again, "attachment");
    let removed = cinder(
        &cloud,
        &token,
        &p,
        Method::DELETE,
        &format!("attachments/{attachment_id}"),
        None,
    )
    .await;
    assert_eq!(removed.status, StatusCode::OK);
    assert_eq!(removed.body["attachments"][0]["id"], second_id.as_str());
    let reserved = cinder(
        &cloud,
        &token,
        &p,
        Method::GET,
        &format!("volumes/{id}"),
        None,
    )
    .await;
    assert_eq!(reserved.body["volume"]["status"], "reserved");
    let removed = cinder(
        &cloud,
        &token,
        &p,
        Method::DELETE,
        &format!("attachments/{second_id}"),
        None,
    )
    .await;
    assert_eq!(
        (removed.status, &removed.body),
        (StatusCode::OK, &json!({ "attachments": [] }))
    );
    let available = cinder(
        &cloud,
        &token,
        &p,
        Method::GET,
        &format!("volumes/{id}"),
        None,
    )
    .await;
    assert_eq!(available.body["volume"]["status"], "available");
}

/// Volumes, snapshots, backups and attachments are journaled: a volume created mid-transition
/// finishes on time after a restart, and a cloud made before Cinder gains its types.
#[tokio::test]
async fn block_storage_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("no temp dir: {err}"));
    let config = || stackform::sim::SimConfig {
        data_dir: Some(dir.path().to_path_buf()),
        volume_delay: Duration::from_millis(600),
        ..crate::sim_common::fast_config()
    };
    let cloud = crate::sim_common::start_with(config()).await;
    let p = cloud.admin_project_id.clone();
    let token = cloud.token.clone();
    let created = cinder(
        &cloud,
        &token,
        &p,
        Method::POST,
        "volumes",
        Some(json!({ "volume": { "size": 2, "name": "kept" } })),
    )
    .await;
    let id = id_of(&created, "volume");
    cloud.handle.stop().await;
    let again = crate::sim_common::start_with(config()).await;
    let shown = wait_status(
        &again,
        &again.token,
        &p,
        &format!("volumes/{id}"),
        "volume",
        "available",
    )
    .await;
    assert_eq!(
        (&shown["name"], &shown["size"]),
        (&json!("kept"), &json!(2))
    );
    let types = cinder(&again, &again.token, &p, Method::GET, "types", None).await;
    assert_eq!(types.body["volume_types"].as_array().map(Vec::len), Some(4));
    again.handle.stop().await;
    // A cloud saved before it had Cinder: no block storage data at all.
    let saved = dir.path().join("cloud.json");
    let mut world: Value =
        serde_json::from_slice(&std::fs::read(&saved).unwrap_or_default()).unwrap_or_default();
    if let Some(map) = world.as_object_mut() {
        map.remove("block_storage");
    }
    std::fs::write(&saved, world.to_string()).unwrap_or_else(|err| panic!("cannot write: {err}"));
    let older = crate::sim_common::start_with(config()).await;
    let types = cinder(&older, &older.token, &p, Method::GET, "types", None).await;
    assert_eq!(types.body["volume_types"].as_array().map(Vec::len), Some(4));
    let volumes = cinder(&older, &older.token, &p, Method::GET, "volumes", None).await;
    assert_eq!(volumes.body, json!({ "volumes": [] }));
    older.handle.stop().await;
}
