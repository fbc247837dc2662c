//! Cinder's data layer without HTTP: transitions on the clock, quotas (a snapshot counts in
//! gigabytes, per-type keys), deletes refused by snapshots and attachments, backups that
//! outlive their volume, and Nova's attach seam.

use std::collections::BTreeMap;

use chrono::Duration;

use super::backups::NewBackup;
use super::ops::NewVolume;
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
    let snapshot = NewSnapshot {
        volume_id: id.clone(),
        name: None,
        description: None,
        force: false,
        metadata: BTreeMap::new(),
    };
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
    let snapshot = NewSnapshot {
        volume_id: id.clone(),
        name: None,
        description: None,
        force: false,
        metadata: BTreeMap::new(),
    };
    let snapshot_id = data.create_snapshot(&who, snapshot, false, at, at).unwrap();
    assert_eq!(
        data.delete_volume(&who, &id, false).unwrap_err().message,
        model::VOLUME_NOT_DELETABLE
    );
    data.delete_snapshot(&who, &snapshot_id).unwrap();
    data.attach_for_server("p", false, "server-1", &id, at)
        .unwrap();
    assert_eq!(data.volumes[&id].status, "in-use");
    assert!(data.delete_volume(&who, &id, false).is_err());
    assert_eq!(
        data.attach_for_server("p", false, "server-2", &id, at)
            .map(|v| v.volume_id),
        Err(AttachError::AlreadyAttached(vec!["server-1".to_string()]))
    );
    data.detach_server("server-1", at);
    assert_eq!(data.volumes[&id].status, "available");
    data.delete_volume(&who, &id, false).unwrap();
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
            data.attach_for_server("p", false, "s", id, at)
                .unwrap()
                .device
        })
        .collect();
    assert_eq!(
        devices,
        [Some("/dev/sdb".to_string()), Some("/dev/sdc".to_string())]
    );
    assert_eq!(
        data.attach_for_server("q", false, "s2", &first, at)
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
    let backup = NewBackup {
        volume_id: id.clone(),
        name: None,
        description: None,
        incremental: false,
        force: false,
        snapshot_id: None,
        metadata: BTreeMap::new(),
    };
    let backup_id = data.create_backup(&who, backup, at, later).unwrap();
    assert_eq!(data.volumes[&id].status, "backing-up");
    data.settle(None, later);
    assert_eq!(data.volumes[&id].status, "available");
    data.delete_volume(&who, &id, false).unwrap();
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
