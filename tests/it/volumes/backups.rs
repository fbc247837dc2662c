//! Backups outlive their volume, as in Cinder, and a volume keeps no tie to its source once
//! made: on both targets, a backup stays (same id, "No changes") when its volume is replaced
//! or leaves the spec, a volume whose snapshot source is dropped is not replaced, an
//! incremental backup is made after the full one in the same apply, a backup in error is
//! replaced, a backup whose volume is gone still restores a new volume, volumes made from a
//! snapshot or a backup take its size when the spec leaves it out, and a size smaller than a
//! known source's fails in plan.

use reqwest::Method;
use serde_json::{Value, json};

use super::{CINDER, Cloud, Target};

const VOLUME: &str = r#"
[volume.data]
tenant = "t"
size = 1
"#;

const SNAPSHOT: &str = r#"
[snapshot.snap]
volume = "data"
"#;

const BACKUPS: &str = r#"
[backup.full]
volume = "data"

[backup.inc]
volume = "data"
incremental = true
"#;

/// No size: it takes the snapshot's.
const FROM_SNAPSHOT: &str = r#"
[volume.from-snap]
tenant = "t"
snapshot = "snap"
"#;

const FROM_SNAPSHOT_DROPPED: &str = r#"
[volume.from-snap]
tenant = "t"
size = 1
"#;

/// No size: it takes the backup's.
const RESTORED: &str = r#"
[volume.restored]
tenant = "t"
backup = "full"
"#;

impl Cloud {
    async fn backups(&self, project: &str) -> Vec<Value> {
        let mut found = self
            .api
            .list(
                CINDER,
                &format!("/backups/detail?all_tenants=1&project_id={project}"),
                "backups",
            )
            .await;
        found.sort_by_key(|b| b["name"].as_str().unwrap_or_default().to_string());
        found
    }

    /// (name, id, volume id, incremental) of each backup of the tenant.
    async fn backup_ids(&self, project: &str) -> Vec<(String, String, String, bool)> {
        self.backups(project)
            .await
            .iter()
            .map(|b| {
                let text = |k: &str| b[k].as_str().unwrap_or_default().to_string();
                (
                    text("name"),
                    text("id"),
                    text("volume_id"),
                    b["is_incremental"] == true,
                )
            })
            .collect()
    }

    fn plan_says(&self, when: &str, summary: &str) -> String {
        let (code, out, err) = self.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(code, 2, "{when}:\n{out}\n{err}");
        assert!(out.contains(summary), "{when}: {summary}\n{out}");
        out
    }

    fn assert_no_changes(&self, when: &str) {
        let (code, out, err) = self.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(code, 0, "{when}:\n{out}\n{err}");
        assert!(out.contains("No changes."), "{when}: {out}");
    }
}

async fn backups_outlive_their_volume(target: Target) {
    let Some(mut cloud) = Cloud::start(target).await else {
        return;
    };
    cloud.spec(&[VOLUME, SNAPSHOT, BACKUPS, FROM_SNAPSHOT].concat());
    let out = cloud.apply();
    let full_done = out.find("backup.full: Creation complete");
    let inc_started = out.find("backup.inc: Creating...");
    assert!(
        full_done.is_some() && full_done < inc_started,
        "the incremental backup after the full one:\n{out}"
    );
    let project = cloud.project_id().await;
    let data = cloud.volume(&project, "data").await;
    let data_id = data["id"].as_str().unwrap_or_default().to_string();
    let backups = cloud.backup_ids(&project).await;
    assert_eq!(
        backups
            .iter()
            .map(|(name, _, volume, incremental)| (name.as_str(), volume.as_str(), *incremental))
            .collect::<Vec<_>>(),
        [
            ("full", data_id.as_str(), false),
            ("inc", data_id.as_str(), true)
        ]
    );
    cloud.assert_no_changes("after the first apply");

    // A backup Cinder holds in error is reported and replaced.
    let inc_id = backups[1].1.clone();
    cloud
        .api
        .send(
            Method::POST,
            CINDER,
            &format!("/backups/{inc_id}/action"),
            json!({"os-reset_status": {"status": "error"}}),
            &[202],
        )
        .await;
    let out = cloud.plan_says("backup in error", "1 to add, 0 to change, 1 to destroy");
    assert!(
        out.contains("# backup.inc must be replaced (in status error in the cloud: replaced)"),
        "{out}"
    );
    cloud.apply();
    let replaced = cloud.backup_ids(&project).await;
    assert_eq!(replaced[0], backups[0], "the full backup kept");
    assert_ne!(replaced[1].1, inc_id, "a new incremental backup");
    assert_eq!(
        (replaced[1].0.as_str(), replaced[1].3),
        ("inc", true),
        "{replaced:?}"
    );
    let backups = replaced;
    cloud.assert_no_changes("after the backup's replacement");

    // The source matters only at create: dropping it (to delete the snapshot) keeps the volume.
    let from_snap = cloud.volume(&project, "from-snap").await;
    assert_eq!(from_snap["size"], 1, "the snapshot's size: {from_snap}");
    cloud.spec(&[VOLUME, BACKUPS, FROM_SNAPSHOT_DROPPED].concat());
    let out = cloud.plan_says("snapshot dropped", "0 to add, 0 to change, 1 to destroy");
    assert!(out.contains("snapshot.snap will be destroyed"), "{out}");
    cloud.apply();
    assert_eq!(
        cloud.volume(&project, "from-snap").await["id"],
        from_snap["id"],
        "not replaced"
    );
    cloud.assert_no_changes("after the snapshot's delete");

    // A replaced volume (Cinder holds it in error) leaves its backups as they are.
    cloud
        .api
        .send(
            Method::POST,
            CINDER,
            &format!("/volumes/{data_id}/action"),
            json!({"os-reset_status": {"status": "error"}}),
            &[202],
        )
        .await;
    cloud.plan_says("volume in error", "1 to add, 0 to change, 1 to destroy");
    cloud.apply();
    let new_data = cloud.volume(&project, "data").await;
    assert_ne!(new_data["id"], data["id"], "replaced");
    assert_eq!(cloud.backup_ids(&project).await, backups, "backups kept");
    cloud.assert_no_changes("after the volume's replacement");

    // The volume leaves the spec: its backups stay, in the cloud and in the plan.
    cloud.spec(&[BACKUPS, FROM_SNAPSHOT_DROPPED].concat());
    let out = cloud.plan_says("volume dropped", "0 to add, 0 to change, 1 to destroy");
    assert!(out.contains("volume.data will be destroyed"), "{out}");
    cloud.apply();
    assert!(cloud.volumes(&project, "data").await.is_empty());
    assert_eq!(cloud.backup_ids(&project).await, backups, "backups kept");
    cloud.assert_no_changes("after the volume's delete");

    // And restores a new volume, of its size.
    cloud.spec(&[BACKUPS, FROM_SNAPSHOT_DROPPED, RESTORED].concat());
    cloud.apply();
    let restored = cloud.volume(&project, "restored").await;
    assert_eq!(restored["status"], "available");
    assert_eq!(restored["size"], 1);
    cloud.assert_no_changes("after the restore");

    // A backup still to be made needs its volume: refused in plan, located.
    // And a volume smaller than its source, at its size.
    let late = "\n[backup.late]\nvolume = \"data\"\n";
    let small = "\n[volume.big]\ntenant = \"t\"\nsize = 3\n\n[volume.small]\ntenant = \"t\"\nsource_volume = \"big\"\nsize = 2\n";
    cloud.spec(&[BACKUPS, FROM_SNAPSHOT_DROPPED, RESTORED, late, small].concat());
    let at = cloud.position_of("[backup.late]\nvolume = \"data\"");
    let size_at = cloud.position_of("size = 2");
    let (code, out, err) = cloud.run(&["plan"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("volume.data is not defined"), "{err}");
    assert!(
        err.contains("backup.late is made from it: define it with a [volume.data] table"),
        "{err}"
    );
    assert!(err.contains(&at), "located at {at}:\n{err}");
    assert!(
        err.contains("volume.small: size 2 GB is smaller than its source volume.big (3 GB)"),
        "{err}"
    );
    assert!(err.contains(&size_at), "located at {size_at}:\n{err}");

    let (code, out, err) = cloud.run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    cloud.destroyed = true;
    let inc_gone = out.find("backup.inc: Destroying...");
    let full_gone = out.find("backup.full: Destroying...");
    assert!(inc_gone.is_some() && inc_gone < full_gone, "{out}");
    assert_eq!(cloud.backups(&project).await, Vec::<Value>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_outlive_their_volume_and_volumes_their_source() {
    backups_outlive_their_volume(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_backups_outlive_their_volume_and_volumes_their_source() {
    backups_outlive_their_volume(Target::Real).await;
}
