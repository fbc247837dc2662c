//! The plan for machines: a stable JSON document (`format_version` "1"). Fields are only ever
//! added; a change in meaning bumps the version.

use serde_json::{Value, json};

use super::is_sensitive;
use crate::plan::{ActionKind, Plan};

pub fn plan(plan: &Plan) -> Value {
    let resource_changes: Vec<Value> = plan
        .actions
        .iter()
        .map(|a| {
            let changes: Vec<Value> = a
                .changes
                .iter()
                .map(|c| {
                    // A secret's value is withheld; that it changes is still said.
                    let sensitive = is_sensitive(&c.attr);
                    let shown = |v: &Option<Value>| if sensitive { None } else { v.clone() };
                    json!({
                        "attr": c.attr,
                        "before": shown(&c.before),
                        "after": shown(&c.after),
                        "forces_replacement": c.forces_replacement,
                        "sensitive": sensitive,
                    })
                })
                .collect();
            json!({
                "address": a.addr.to_string(),
                "kind": a.addr.kind.as_str(),
                "name": a.addr.name,
                "action": action_name(a.kind),
                "id": a.id,
                "reason": a.reason,
                "changes": changes,
                "unchanged_attrs": a.unchanged_attrs,
            })
        })
        .collect();
    let (add, change, destroy) = plan.summary();
    let mut document = json!({
        "format_version": "1",
        "resource_changes": resource_changes,
        "summary": {"add": add, "change": change, "destroy": destroy},
    });
    // Added only when there are some, so plans without adoptions read as before.
    if !plan.adoptions.is_empty() {
        document["adoptions"] = json!(plan.adoptions);
    }
    document
}

fn action_name(kind: ActionKind) -> &'static str {
    match kind {
        ActionKind::Create => "create",
        ActionKind::Update => "update",
        ActionKind::Replace => "replace",
        ActionKind::Delete => "delete",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::fixtures::addr;
    use crate::plan::{Action, AttrChange, Reason};

    #[test]
    fn an_empty_plan() {
        assert_eq!(
            plan(&Plan::default()),
            json!({"format_version": "1", "resource_changes": [],
                   "summary": {"add": 0, "change": 0, "destroy": 0}})
        );
    }

    #[test]
    fn secrets_are_withheld_but_their_change_is_reported() {
        let p = Plan {
            adoptions: Vec::new(),
            actions: vec![Action {
                addr: addr("tenant.demo"),
                kind: ActionKind::Update,
                id: Some("p-1".into()),
                changes: vec![AttrChange {
                    attr: "password".into(),
                    before: Some(json!("old")),
                    after: Some(json!("new")),
                    forces_replacement: false,
                }],
                unchanged_attrs: 3,
                reason: Reason::AttributesChanged {
                    attrs: vec!["password".into()],
                },
                shown: Vec::new(),
                deferred: Vec::new(),
            }],
        };
        assert_eq!(
            plan(&p)["resource_changes"][0],
            json!({
                "address": "tenant.demo", "kind": "tenant", "name": "demo", "action": "update",
                "id": "p-1",
                "reason": {"type": "attributes_changed", "attrs": ["password"]},
                "changes": [{"attr": "password", "before": null, "after": null,
                             "forces_replacement": false, "sensitive": true}],
                "unchanged_attrs": 3,
            })
        );
    }
}
