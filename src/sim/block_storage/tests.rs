//! Cinder's data layer without HTTP: transitions on the clock, quotas (a snapshot counts in
//! gigabytes, per-type keys), deletes refused by snapshots and attachments, backups that
//! outlive their volume, Nova's attach seam (reserved, then in-use; detaching), deletes that
//! take their time, and list filters.

use std::collections::BTreeMap;

use chrono::Duration;

use super::backups::NewBackup;
use super::ops::NewVolume;
use super::query::page;
use super::render::Microversion;
use super::snapshots::NewSnapshot;
use super::*;
use crate::sim::core::now;

fn actor(project: &str) -> Actor {
    Actor {
        project_id: project.to_string(),
        user_id: "u".to_string(),
        admin: false,
    }
}

fn blank(size: i64, volume_type: Option<&str>) -> NewVolume {
    NewVolume {
        size: Some(size),
        name: Some("v".to_string()),
        description: None,
        volume_type: volume_type.map(str::to_string),
        availability_zone: None,
        metadata: BTreeMap::new(),
        snapshot_id: None,
        source_volid: None,
        image_id: None,
        backup_id: None,
    }
}

/// A plain snapshot of `volume_id`.
fn snapshot_of(volume_id: &str) -> NewSnapshot {
    NewSnapshot {
        volume_id: volume_id.to_string(),
        name: None,
        description: None,
        force: false,
        metadata: BTreeMap::new(),
    }
}

/// A plain full backup of `volume_id`.
fn backup_of(volume_id: &str) -> NewBackup {
    NewBackup {
        volume_id: volume_id.to_string(),
        name: None,
        description: None,
        incremental: false,
        force: false,
        snapshot_id: None,
        metadata: BTreeMap::new(),
    }
}

fn seeded() -> BlockStorageData {
    let mut data = BlockStorageData::default();
    data.seed();
    data
}

#[test]
fn seed_is_idempotent_and_marks_multiattach() {
    let mut data = seeded();
    data.seed();
    let names: Vec<&str> = data.types.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, [DEFAULT_TYPE, "ssd", "hdd", "multiattach"]);
    let multi: Vec<bool> = data.types.iter().map(VolumeType::multiattach).collect();
    assert_eq!(multi, [false, false, false, true]);
}

#[test]
fn a_volume_is_creating_until_its_time() {
    let mut data = seeded();
    let at = now();
    let id = data
        .create_volume(
            &actor("p"),
            blank(1, None),
            |_| None,
            at,
            at + Duration::seconds(5),
        )
        .unwrap();
    data.settle(Some("p"), at + Duration::seconds(4));
    assert_eq!(data.volumes[&id].status, "creating");
    data.settle(Some("p"), at + Duration::seconds(5));
    assert_eq!(data.volumes[&id].status, "available");
    assert_eq!(
        data.volumes[&id].updated_at,
        Some(at + Duration::seconds(5))
    );
}

#[test]
fn snapshots_count_in_gigabytes_and_per_type_quotas() {
    let mut data = seeded();
    let at = now();
    let who = actor("p");
    let id = data
        .create_volume(&who, blank(3, Some("ssd")), |_| None, at, at)
        .unwrap();
    let snapshot = snapshot_of(&id);
    data.create_snapshot(&who, snapshot, false, at, at).unwrap();
    let usage = data.quota_usage("p");
    assert_eq!(
        (
            usage["gigabytes"],
            usage["gigabytes_ssd"],
            usage["snapshots_ssd"]
        ),
        (6, 6, 1)
    );
    data.quotas
        .entry("p".to_string())
        .or_default()
        .insert("gigabytes_ssd".to_string(), 7);
    let refused = data
        .create_volume(&who, blank(2, Some("ssd")), |_| None, at, at)
        .unwrap_err();
    assert_eq!(
        refused.message,
        "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed \
         gigabytes_ssd quota. Requested 2G, quota is 7G and 6G has been consumed."
    );
    // Another type is not bound by ssd's quota.
    data.create_volume(&who, blank(2, Some("hdd")), |_| None, at, at)
        .unwrap();
}

#[test]
fn deletes_are_refused_while_snapshotted_or_attached() {
    let mut data = seeded();
    let at = now();
    let who = actor("p");
    let id = data
        .create_volume(&who, blank(1, None), |_| None, at, at)
        .unwrap();
    let snapshot = snapshot_of(&id);
    let snapshot_id = data.create_snapshot(&who, snapshot, false, at, at).unwrap();
    assert_eq!(
        data.delete_volume(&who, &id, false, at, at)
            .unwrap_err()
            .message,
        model::VOLUME_NOT_DELETABLE
    );
    data.delete_snapshot(&who, &snapshot_id, at, at).unwrap();
    data.attach_for_server("p", false, "server-1", &id, at, at)
        .unwrap();
    assert_eq!(data.volumes[&id].status, "in-use");
    assert!(data.delete_volume(&who, &id, false, at, at).is_err());
    assert_eq!(
        data.attach_for_server("p", false, "server-2", &id, at, at)
            .map(|v| v.volume_id),
        Err(AttachError::AlreadyAttached(vec!["server-1".to_string()]))
    );
    data.detach_server("server-1", at);
    assert_eq!(data.volumes[&id].status, "available");
    data.delete_volume(&who, &id, false, at, at).unwrap();
    assert!(data.attachments.is_empty());
}

#[test]
fn nova_devices_count_up_from_sdb_and_other_projects_see_nothing() {
    let mut data = seeded();
    let at = now();
    let who = actor("p");
    let first = data
        .create_volume(&who, blank(1, None), |_| None, at, at)
        .unwrap();
    let second = data
        .create_volume(&who, blank(1, None), |_| None, at, at)
        .unwrap();
    let devices: Vec<Option<String>> = [&first, &second]
        .iter()
        .map(|id| {
            data.attach_for_server("p", false, "s", id, at, at)
                .unwrap()
                .device
        })
        .collect();
    assert_eq!(
        devices,
        [Some("/dev/sdb".to_string()), Some("/dev/sdc".to_string())]
    );
    assert_eq!(
        data.attach_for_server("q", false, "s2", &first, at, at)
            .map(|v| v.volume_id),
        Err(AttachError::VolumeNotFound)
    );
    assert_eq!(data.server_volumes("s").len(), 2);
}

#[test]
fn a_backup_outlives_its_volume_and_restores_its_size() {
    let mut data = seeded();
    let at = now();
    let later = at + Duration::seconds(1);
    let who = actor("p");
    let id = data
        .create_volume(&who, blank(4, None), |_| None, at, at)
        .unwrap();
    let backup = backup_of(&id);
    let backup_id = data.create_backup(&who, backup, at, later).unwrap();
    assert_eq!(data.volumes[&id].status, "backing-up");
    data.settle(None, later);
    assert_eq!(data.volumes[&id].status, "available");
    data.delete_volume(&who, &id, false, at, at).unwrap();
    let restored = data
        .restore_backup(&who, &backup_id, None, None, later, later)
        .unwrap();
    let volume = &data.volumes[&restored.volume_id];
    assert_eq!(volume.size, 4);
    assert_eq!(
        restored.volume_name,
        Some(format!("restore_backup_{backup_id}"))
    );
}

#[test]
fn a_deleted_volume_is_deleting_until_its_time_and_refuses_a_second_delete() {
    let mut data = seeded();
    let at = now();
    let later = at + Duration::seconds(2);
    let who = actor("p");
    let id = data
        .create_volume(&who, blank(3, None), |_| None, at, at)
        .unwrap();
    data.delete_volume(&who, &id, false, at, later).unwrap();
    assert_eq!(data.volume(&who, &id).unwrap().status, "deleting");
    assert_eq!(
        data.delete_volume(&who, &id, false, at, later)
            .unwrap_err()
            .message,
        model::VOLUME_NOT_DELETABLE
    );
    // Its gigabytes stay in use until it is gone.
    assert_eq!(
        data.quota_set_body("p", true)["quota_set"]["gigabytes"]["in_use"],
        3
    );
    data.settle(Some("p"), later);
    assert_eq!(
        data.volume(&who, &id)
            .map(|v| v.id.clone())
            .unwrap_err()
            .message,
        format!("Volume {id} could not be found.")
    );
    assert!(data.volumes.is_empty());
    assert_eq!(
        data.quota_set_body("p", true)["quota_set"]["gigabytes"]["in_use"],
        0
    );
}

#[test]
fn deleted_snapshots_and_backups_are_deleting_until_their_time() {
    let mut data = seeded();
    let at = now();
    let later = at + Duration::seconds(2);
    let who = actor("p");
    let id = data
        .create_volume(&who, blank(1, None), |_| None, at, at)
        .unwrap();
    let snapshot = snapshot_of(&id);
    let snapshot_id = data.create_snapshot(&who, snapshot, false, at, at).unwrap();
    let backup = backup_of(&id);
    let backup_id = data.create_backup(&who, backup, at, at).unwrap();
    data.settle(Some("p"), at);
    data.delete_snapshot(&who, &snapshot_id, at, later).unwrap();
    data.delete_backup(&who, &backup_id, at, later).unwrap();
    assert_eq!(
        data.snapshot(&who, &snapshot_id).unwrap().status,
        "deleting"
    );
    assert_eq!(data.backup(&who, &backup_id).unwrap().status, "deleting");
    assert_eq!(
        data.delete_snapshot(&who, &snapshot_id, at, later)
            .unwrap_err()
            .message,
        "Invalid snapshot: Snapshot status must be available or error and must not be part \
         of a group."
    );
    assert_eq!(
        data.delete_backup(&who, &backup_id, at, later)
            .unwrap_err()
            .message,
        "Invalid backup: Backup status must be available or error"
    );
    // A deleting snapshot still holds its volume.
    assert_eq!(
        data.delete_volume(&who, &id, false, at, later)
            .unwrap_err()
            .message,
        model::VOLUME_NOT_DELETABLE
    );
    data.settle(Some("p"), later);
    assert!(data.snapshots.is_empty());
    assert!(data.backups.is_empty());
    data.delete_volume(&who, &id, false, later, later).unwrap();
    assert!(data.volumes.is_empty());
}

#[test]
fn nova_attach_is_reserved_until_its_time_and_detach_is_detaching() {
    let mut data = seeded();
    let at = now();
    let (attached_at, detached_at) = (at + Duration::seconds(2), at + Duration::seconds(4));
    let who = actor("p");
    let id = data
        .create_volume(&who, blank(1, None), |_| None, at, at)
        .unwrap();
    let attached = data
        .attach_for_server("p", false, "s", &id, at, attached_at)
        .unwrap();
    assert_eq!(data.volumes[&id].status, "reserved");
    assert_eq!(data.attachments[&attached.attachment_id].status, "reserved");
    // Nova lists the volume from its reply on.
    assert_eq!(data.server_volumes("s").len(), 1);
    data.settle(Some("p"), attached_at);
    assert_eq!(data.volumes[&id].status, "in-use");
    assert_eq!(data.attachments[&attached.attachment_id].status, "attached");
    data.detach_for_server("s", &id, attached_at, detached_at)
        .unwrap();
    assert_eq!(data.volumes[&id].status, "detaching");
    // Nova lists the volume until the detach ends, and refuses a second detach meanwhile.
    assert_eq!(data.server_volumes("s").len(), 1);
    let refused = data.detach_for_server("s", &id, attached_at, detached_at);
    assert!(
        matches!(&refused, Err(AttachError::NotAvailable(m)) if m.starts_with(
            "Invalid volume: Invalid input received: Invalid volume: Unable to detach volume. \
             Volume status must be 'in-use' and attach_status must be 'attached' to detach. \
             (HTTP 400) (Request-ID: req-"
        )),
        "{refused:?}"
    );
    data.settle(Some("p"), detached_at);
    assert_eq!(data.volumes[&id].status, "available");
    assert!(data.attachments.is_empty());
}

fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The names `query` lists, as `actor` asks at `minor`, or Cinder's refusal.
fn listed(
    data: &BlockStorageData,
    actor: &Actor,
    minor: u32,
    pairs: &[(&str, &str)],
) -> Result<Vec<String>, String> {
    let rows: Vec<&Volume> = data.volumes.values().collect();
    page(rows, &query(pairs), actor, Microversion(minor))
        .map(|(rows, _)| rows.iter().filter_map(|v| v.name.clone()).collect())
        .map_err(|fault| fault.message)
}

#[test]
fn list_filters_are_refused_or_dropped_as_cinder_does() {
    let mut data = seeded();
    let at = now();
    let who = actor("p");
    let mut tagged = blank(1, None);
    tagged
        .metadata
        .insert("owner".to_string(), "sf".to_string());
    data.create_volume(&who, tagged, |_| None, at, at).unwrap();
    let admin = Actor {
        admin: true,
        ..actor("p")
    };
    let all = Ok(vec!["v".to_string()]);
    let none = Ok(Vec::new());
    // From 3.31, whoever is not an admin is refused every unknown filter, named in order.
    assert_eq!(
        listed(
            &data,
            &who,
            43,
            &[("foo", "1"), ("name", "v"), ("zed", "2")]
        ),
        Err("Invalid filters foo,zed are found in query options.".to_string())
    );
    // all_tenants is forgiven; paging keys are not filters.
    assert_eq!(
        listed(&data, &who, 43, &[("all_tenants", "1"), ("limit", "5")]),
        all
    );
    // Before 3.31 an unknown filter is dropped.
    assert_eq!(listed(&data, &who, 30, &[("foo", "1")]), all);
    // An admin's unknown filter reaches the database and matches nothing.
    assert_eq!(listed(&data, &admin, 43, &[("foo", "1")]), none);
    // Metadata: an object matches by its pairs, anything else matches nothing.
    assert_eq!(
        listed(&data, &who, 43, &[("metadata", r#"{"owner": "sf"}"#)]),
        all
    );
    assert_eq!(
        listed(&data, &who, 43, &[("metadata", "{'owner': 'sf'}")]),
        all
    );
    assert_eq!(listed(&data, &who, 43, &[("metadata", "{}")]), all);
    assert_eq!(listed(&data, &who, 43, &[("metadata", "notjson")]), none);
    assert_eq!(
        listed(&data, &who, 43, &[("metadata", r#"{"owner": "other"}"#)]),
        none
    );
    // Backups offer no metadata filter.
    let rows: Vec<&Backup> = data.backups.values().collect();
    assert_eq!(
        page(rows, &query(&[("metadata", "{}")]), &who, Microversion(43))
            .map(|(rows, _)| rows.len())
            .map_err(|fault| fault.message),
        Err("Invalid filters metadata are found in query options.".to_string())
    );
}
