//! Cinder's quotas: the defaults, per-project overrides (with the per-type keys
//! `volumes_<type>`, `gigabytes_<type>`, `snapshots_<type>`), what a project uses (a
//! snapshot's size counts in `gigabytes`, as in Cinder), the check a create or an extend makes
//! (413 with Cinder's exception text), and the absolute limits.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::*;

/// Cinder's default quotas (the per-type keys default to -1, unlimited).
const DEFAULTS: [(&str, i64); 7] = [
    ("volumes", 10),
    ("per_volume_gigabytes", -1),
    ("snapshots", 10),
    ("gigabytes", 1000),
    ("backups", 10),
    ("backup_gigabytes", 1000),
    ("groups", 10),
];

/// The per-type quota keys, as Cinder names them (`volumes___DEFAULT__` for `__DEFAULT__`).
const PER_TYPE: [&str; 3] = ["volumes", "gigabytes", "snapshots"];

impl BlockStorageData {
    /// Every quota key, in Cinder's order: the project-wide ones, then three per type.
    pub(super) fn quota_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = DEFAULTS[..6].iter().map(|(k, _)| k.to_string()).collect();
        for volume_type in &self.types {
            for prefix in PER_TYPE {
                keys.push(format!("{prefix}_{}", volume_type.name));
            }
        }
        keys.push("groups".to_string());
        keys
    }

    pub(super) fn quota_limit(&self, project_id: &str, key: &str) -> i64 {
        if let Some(value) = self.quotas.get(project_id).and_then(|q| q.get(key)) {
            return *value;
        }
        DEFAULTS
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(-1, |(_, v)| *v)
    }

    /// What `project_id` uses of each quota key.
    pub(super) fn quota_usage(&self, project_id: &str) -> BTreeMap<String, i64> {
        let mut usage = BTreeMap::new();
        let mut add = |key: String, amount: i64| *usage.entry(key).or_insert(0) += amount;
        for volume in self.volumes.of_project(project_id) {
            let type_name = self.type_name(&volume.volume_type_id);
            add("volumes".into(), 1);
            add("gigabytes".into(), volume.size);
            add(format!("volumes_{type_name}"), 1);
            add(format!("gigabytes_{type_name}"), volume.size);
        }
        for snapshot in self.snapshots.of_project(project_id) {
            let type_name = self.type_name(&snapshot.volume_type_id);
            add("snapshots".into(), 1);
            add("gigabytes".into(), snapshot.size);
            add(format!("snapshots_{type_name}"), 1);
            add(format!("gigabytes_{type_name}"), snapshot.size);
        }
        for backup in self.backups.of_project(project_id) {
            add("backups".into(), 1);
            add("backup_gigabytes".into(), backup.size);
        }
        usage
    }

    /// Refuses `deltas` (quota key, amount) when one would go over its limit, with the 413
    /// Cinder answers; the first key over its limit, in the order given, decides the message.
    pub(super) fn check_quota(&self, project_id: &str, deltas: &[(String, i64)]) -> CResult<()> {
        let usage = self.quota_usage(project_id);
        for (key, amount) in deltas {
            let limit = self.quota_limit(project_id, key);
            let used = usage.get(key).copied().unwrap_or(0);
            if limit < 0 || used + amount <= limit {
                continue;
            }
            let message = if key.starts_with("backup_gigabytes") {
                format!(
                    "VolumeBackupSizeExceedsAvailableQuota: Requested backup exceeds allowed \
                     Backup gigabytes quota. Requested {amount}G, quota is {limit}G and {used}G \
                     has been consumed."
                )
            } else if key.starts_with("gigabytes") {
                format!(
                    "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds \
                     allowed {key} quota. Requested {amount}G, quota is {limit}G and {used}G \
                     has been consumed."
                )
            } else if key.starts_with("volumes") {
                format!(
                    "VolumeLimitExceeded: Maximum number of volumes allowed ({limit}) exceeded \
                     for quota '{key}'."
                )
            } else if key.starts_with("snapshots") {
                format!(
                    "SnapshotLimitExceeded: Maximum number of snapshots allowed ({limit}) \
                     exceeded"
                )
            } else {
                format!("BackupLimitExceeded: Maximum number of backups allowed ({limit}) exceeded")
            };
            return Err(over_limit(message));
        }
        Ok(())
    }

    /// The deltas of a new volume (or a volume grown by `gigabytes` when `count` is 0).
    pub(super) fn volume_deltas(
        &self,
        type_id: &str,
        count: i64,
        gigabytes: i64,
    ) -> Vec<(String, i64)> {
        let type_name = self.type_name(type_id);
        let mut deltas = Vec::new();
        if count > 0 {
            deltas.push(("volumes".to_string(), count));
        }
        deltas.push(("gigabytes".to_string(), gigabytes));
        if count > 0 {
            deltas.push((format!("volumes_{type_name}"), count));
        }
        deltas.push((format!("gigabytes_{type_name}"), gigabytes));
        deltas
    }

    /// Refuses a volume larger than `per_volume_gigabytes`.
    pub(super) fn check_per_volume(&self, project_id: &str, size: i64) -> CResult<()> {
        let limit = self.quota_limit(project_id, "per_volume_gigabytes");
        if limit >= 0 && size > limit {
            return Err(over_limit(format!(
                "VolumeSizeExceedsLimit: Requested volume size {size}G is larger than maximum \
                 allowed limit {limit}G."
            )));
        }
        Ok(())
    }

    /// `{"quota_set": {...}}`, with `{limit, in_use, reserved}` per key when `usage`.
    pub(super) fn quota_set_body(&self, project_id: &str, usage: bool) -> Value {
        let used = self.quota_usage(project_id);
        let mut set = Map::new();
        for key in self.quota_keys() {
            let limit = self.quota_limit(project_id, &key);
            let value = if usage {
                let in_use = used.get(&key).copied().unwrap_or(0);
                json!({ "limit": limit, "in_use": in_use, "reserved": 0 })
            } else {
                json!(limit)
            };
            set.insert(key, value);
        }
        set.insert("id".to_string(), json!(project_id));
        json!({ "quota_set": set })
    }

    /// Sets quotas from a PUT body's `quota_set`: every key must be a known quota and every
    /// value an integer of at least -1.
    pub(super) fn update_quotas(&mut self, project_id: &str, input: &Value) -> CResult<Value> {
        let input = input.as_object().ok_or_else(malformed)?;
        let keys = self.quota_keys();
        let mut updates = Vec::new();
        for (key, value) in input {
            if !keys.contains(key) {
                return Err(bad_request(format!(
                    "Invalid input received: Bad key(s) in quota set: {key}"
                )));
            }
            let number = value
                .as_i64()
                .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| {
                    bad_request(format!("Quota limit {value} for {key} must be an integer."))
                })?;
            if number < -1 {
                return Err(bad_request(format!("{key} must be >= -1")));
            }
            updates.push((key.clone(), number));
        }
        let stored = self.quotas.entry(project_id.to_string()).or_default();
        for (key, number) in updates {
            stored.insert(key, number);
        }
        let mut set = Map::new();
        for key in keys {
            set.insert(key.clone(), json!(self.quota_limit(project_id, &key)));
        }
        Ok(json!({ "quota_set": set }))
    }

    /// GET /limits: the absolute limits and what the project uses.
    pub(super) fn limits_body(&self, project_id: &str) -> Value {
        let used = self.quota_usage(project_id);
        let limit = |key: &str| self.quota_limit(project_id, key);
        let usage = |key: &str| used.get(key).copied().unwrap_or(0);
        json!({ "limits": { "rate": [], "absolute": {
            "maxTotalVolumes": limit("volumes"),
            "maxTotalSnapshots": limit("snapshots"),
            "maxTotalVolumeGigabytes": limit("gigabytes"),
            "maxTotalBackups": limit("backups"),
            "maxTotalBackupGigabytes": limit("backup_gigabytes"),
            "totalVolumesUsed": usage("volumes"),
            "totalGigabytesUsed": usage("gigabytes"),
            "totalSnapshotsUsed": usage("snapshots"),
            "totalBackupsUsed": usage("backups"),
            "totalBackupGigabytesUsed": usage("backup_gigabytes"),
        }}})
    }
}
