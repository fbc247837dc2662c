//! Copies (backups, volumes made from a source) keep no tie to what they were made from once
//! they exist: the planner's cases for that, and for incremental backups after full ones.

use serde_json::json;

use super::*;
use crate::graph;
use crate::plan::fixtures::{addr, desired, observed_as_applied, resource, span_at};

fn plan(desired: &Desired, observed: &Observed) -> Plan {
    let g = graph::build(desired, observed).expect("acyclic");
    diff(desired, observed, &g)
}

fn storage() -> Desired {
    desired(vec![
        resource("tenant.t", json!({"name": "t"})),
        resource(
            "volume.data",
            json!({"name": "data", "tenant": "t", "size": 1, "availability_zone": "nova"}),
        ),
        resource(
            "snapshot.snap",
            json!({"name": "snap", "volume": "data", "description": ""}),
        ),
        resource(
            "backup.full",
            json!({"name": "full", "volume": "data", "incremental": false}),
        ),
        resource(
            "volume.restored",
            json!({"name": "restored", "tenant": "t", "size": 1, "backup": "full"}),
        ),
    ])
}

fn actions(plan: &Plan) -> Vec<(String, ActionKind)> {
    plan.actions
        .iter()
        .map(|a| (a.addr.to_string(), a.kind))
        .collect()
}

#[test]
fn a_replaced_volume_replaces_its_snapshots_but_not_its_backups_nor_what_they_restored() {
    let mut spec = storage();
    let observed = observed_as_applied(&spec);
    if let Some(volume) = spec.resources.get_mut(&addr("volume.data")) {
        volume
            .attrs
            .insert("availability_zone".into(), json!("az2"));
    }
    let p = plan(&spec, &observed);
    assert_eq!(
        actions(&p),
        [
            ("volume.data".to_string(), ActionKind::Replace),
            ("snapshot.snap".to_string(), ActionKind::Replace),
        ]
    );
}

#[test]
fn a_backup_whose_volume_left_the_spec_and_the_cloud_stays_as_it_is() {
    let mut spec = storage();
    let mut observed = observed_as_applied(&spec);
    spec.resources.remove(&addr("volume.data"));
    spec.resources.remove(&addr("snapshot.snap"));
    // Refresh observes no volume for a backup whose volume is gone.
    for gone in ["volume.data", "snapshot.snap"] {
        observed.resources.remove(&addr(gone));
    }
    if let Some(backup) = observed.resources.get_mut(&addr("backup.full")) {
        backup.attrs.insert("volume".into(), Value::Null);
    }
    assert_eq!(plan(&spec, &observed).actions, []);
}

#[test]
fn changing_a_backups_volume_or_a_volumes_source_still_replaces() {
    let mut spec = storage();
    spec.resources.insert(
        addr("volume.other"),
        resource(
            "volume.other",
            json!({"name": "other", "tenant": "t", "size": 1}),
        ),
    );
    let observed = observed_as_applied(&spec);
    if let Some(backup) = spec.resources.get_mut(&addr("backup.full")) {
        backup.attrs.insert("volume".into(), json!("other"));
    }
    let p = plan(&spec, &observed);
    assert_eq!(
        summary(&p),
        [
            (
                "backup.full".to_string(),
                ActionKind::Replace,
                vec!["volume"]
            ),
            // What it restored is a copy of the old backup: it stays.
        ]
    );
}

fn summary(plan: &Plan) -> Vec<(String, ActionKind, Vec<&str>)> {
    plan.actions
        .iter()
        .map(|a| {
            let attrs = a.changes.iter().map(|c| c.attr.as_str()).collect();
            (a.addr.to_string(), a.kind, attrs)
        })
        .collect()
}

#[test]
fn incremental_backups_are_made_after_the_full_backups_of_their_volume() {
    let mut spec = storage();
    // "a-inc" sorts before "full": only the edge puts it after.
    spec.resources.insert(
        addr("backup.a-inc"),
        resource(
            "backup.a-inc",
            json!({"name": "a-inc", "volume": "data", "incremental": true}),
        ),
    );
    let p = plan(&spec, &crate::resources::Observed::default());
    let position = |name: &str| p.actions.iter().position(|a| a.addr == addr(name));
    assert!(
        position("backup.full") < position("backup.a-inc"),
        "{:?}",
        actions(&p)
    );
    let g = graph::build(&spec, &crate::resources::Observed::default()).expect("acyclic");
    assert!(
        g.dependencies(&addr("backup.a-inc"))
            .contains(&addr("backup.full"))
    );
}

#[test]
fn only_a_copy_still_to_be_made_needs_its_source_defined() {
    let mut spec = storage();
    let observed = observed_as_applied(&spec);
    spec.resources.remove(&addr("volume.data"));
    spec.resources.remove(&addr("snapshot.snap"));
    let mut orphan = resource(
        "backup.late",
        json!({"name": "late", "volume": "data", "incremental": false}),
    );
    orphan.refs.push(crate::spec::Reference {
        field: "volume".into(),
        target: addr("volume.data"),
        span: span_at(3),
    });
    spec.resources.insert(orphan.addr.clone(), orphan);
    if let Some(full) = spec.resources.get_mut(&addr("backup.full")) {
        full.refs.push(crate::spec::Reference {
            field: "volume".into(),
            target: addr("volume.data"),
            span: span_at(4),
        });
    }
    let errors: Vec<String> = crate::plan::check(&spec, &observed)
        .iter()
        .filter(|d| d.message.ends_with("is not defined"))
        .map(|d| format!("{}: {}", d.message, d.help.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        errors,
        [
            "volume.data is not defined: backup.late is made from it: define it with a \
          [volume.data] table (once backup.late exists, volume.data may leave the spec)"
        ]
    );
}

#[test]
fn an_errored_backup_is_replaced_with_cinders_fail_reason() {
    let spec = storage();
    let mut observed = observed_as_applied(&spec);
    if let Some(backup) = observed.resources.get_mut(&addr("backup.full")) {
        backup.status = Some("error".into());
        backup
            .attrs
            .insert("fail_reason".into(), json!("Backup driver failed"));
    }
    let p = plan(&spec, &observed);
    let reasons: Vec<(String, ActionKind, Reason)> = p
        .actions
        .iter()
        .map(|a| (a.addr.to_string(), a.kind, a.reason.clone()))
        .collect();
    assert_eq!(
        reasons,
        [(
            "backup.full".to_string(),
            ActionKind::Replace,
            Reason::FailedStatus {
                status: "error".into(),
                detail: Some("Backup driver failed".into()),
            }
        )]
    );
    let shown = crate::render::human::plan(&p, false);
    assert!(
        shown.contains("in status error in the cloud (Backup driver failed): replaced"),
        "{shown}"
    );
}

#[test]
fn a_volume_smaller_than_a_source_of_known_size_fails_in_plan_at_its_size() {
    let mut spec = storage();
    if let Some(data) = spec.resources.get_mut(&addr("volume.data")) {
        data.attrs.insert("size".into(), json!(3));
    }
    spec.resources.insert(
        addr("volume.clone"),
        resource(
            "volume.clone",
            json!({"name": "clone", "tenant": "t", "size": 2, "source_volume": "data"}),
        ),
    );
    let observed = crate::resources::Observed::default();
    let errors: Vec<String> = crate::plan::check(&spec, &observed)
        .iter()
        .filter(|d| d.message.contains("smaller than its source"))
        .map(|d| {
            let at = d.span.as_ref().map(|s| s.range.start);
            format!("{} @{at:?}", d.message)
        })
        .collect();
    // volume.restored (1 GB) from backup.full of volume.data (3 GB) and the clone (2 GB).
    assert_eq!(
        errors,
        [
            "volume.clone: size 2 GB is smaller than its source volume.data (3 GB) @Some(11)",
            "volume.restored: size 1 GB is smaller than its source backup.full (3 GB) @Some(12)",
        ]
    );
}
