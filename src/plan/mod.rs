//! Planning: `diff(desired, observed, graph) → Plan`.
//!
//! Pure and deterministic: no I/O, no output formatting. Each action carries its attribute
//! diff and the reason for it, for display only; `apply` executes actions, `render` prints them.

use serde::Serialize;
use serde_json::Value;

use crate::addr::Address;

mod check;
mod diff;
#[cfg(test)]
pub(crate) mod fixtures;

pub use check::check;
pub use diff::diff;

/// What happens to one resource. Its display is the symbol the user sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Create,
    Update,
    /// Delete, then create again.
    Replace,
    Delete,
}

impl ActionKind {
    pub fn symbol(self) -> &'static str {
        match self {
            ActionKind::Create => "+",
            ActionKind::Update => "~",
            ActionKind::Replace => "-/+",
            ActionKind::Delete => "-",
        }
    }
}

/// One attribute's change. `before` is None on create, `after` is None on delete.
///
/// `before == after` marks a reference to a replaced resource: the name stays, the id behind
/// it changes, so apply must remake that link (and the plan shows `-> (new id)`).
#[derive(Clone, PartialEq, Serialize)]
pub struct AttrChange {
    pub attr: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    /// This change alone forces the resource to be replaced.
    pub forces_replacement: bool,
}

impl std::fmt::Debug for AttrChange {
    /// Values of sensitive attributes stay out of logs and panic messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mask = |v: &Option<Value>| match v {
            Some(_) if is_sensitive(&self.attr) => Some(Value::from("(sensitive)")),
            other => other.clone(),
        };
        f.debug_struct("AttrChange")
            .field("attr", &self.attr)
            .field("before", &mask(&self.before))
            .field("after", &mask(&self.after))
            .field("forces_replacement", &self.forces_replacement)
            .finish()
    }
}

/// Attributes whose values never leave the process in clear (plan output, JSON, Debug): their
/// name says password, secret or token.
pub fn is_sensitive(attr: &str) -> bool {
    let attr = attr.to_ascii_lowercase();
    ["password", "secret", "token"]
        .iter()
        .any(|word| attr.contains(word))
}

/// Why an action is planned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reason {
    /// In the spec, not in the cloud.
    New,
    /// Attributes differ; these can change in place.
    AttributesChanged { attrs: Vec<String> },
    /// These attributes cannot change in place.
    AttributesForceReplacement { attrs: Vec<String> },
    /// A resource this one depends on through a replacement-forcing attribute is replaced.
    DependencyReplaced { dependency: Address },
    /// A resource this one names in an in-place attribute is replaced, so the link is remade.
    DependencyReplacedRelink { dependency: Address },
    /// The cloud deletes it when `by` lets go of it (`by.attr` no longer names it, or `by` is
    /// deleted or replaced), as Neutron deletes a port removed from a router's interfaces:
    /// the spec keeps it, so it is made again.
    DeletedWithLink {
        by: Address,
        attr: String,
        why: String,
    },
    /// In the state or tagged as ours, no longer in the spec.
    RemovedFromSpec,
    /// Recorded in the state but gone from the cloud: created again.
    DeletedOutsideStackform,
    /// Attributes differ while the resource is in a status of work under way (a server in
    /// BUILD after a killed apply): apply waits for that work to end, then changes what still
    /// differs.
    Settling { status: String, attrs: Vec<String> },
    /// The cloud holds the resource in a failed status it cannot leave (a volume in `error`):
    /// replaced.
    FailedStatus {
        status: String,
        /// Why, as the cloud says it (a Cinder backup's `fail_reason`), when it says.
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Action {
    pub addr: Address,
    pub kind: ActionKind,
    /// The existing resource's id (None for a create).
    pub id: Option<String>,
    pub changes: Vec<AttrChange>,
    /// Attributes compared and found equal: not listed, only counted in the output.
    pub unchanged_attrs: usize,
    pub reason: Reason,
    /// What the cloud decided about an existing resource that the kind shows beside its
    /// changes (a floating IP's address and the public address it maps to).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shown: Vec<(String, Value)>,
    /// Parts of an attribute the apply sets in a follow-up update, once what they name is
    /// made: they close a dependency cycle (two groups whose rules name each other).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deferred: Vec<Deferred>,
}

/// Part of `attr` set after `until` is created (`until` is made in the same apply).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Deferred {
    pub attr: String,
    pub until: Address,
}

/// The ordered list of actions: creates and updates in dependency order, deletes in reverse
/// dependency order and before everything else. Resources with no change are not listed.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Plan {
    pub actions: Vec<Action>,
    /// Resources found by their ownership tag that the state does not record yet, in address
    /// order. Apply records them before any change.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub adoptions: Vec<Adoption>,
}

/// A resource of this lineage found in the cloud by its ownership tag alone.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Adoption {
    pub addr: Address,
    pub id: String,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// (to add, to change, to destroy), counted like Terraform: a replace adds one and
    /// destroys one.
    pub fn summary(&self) -> (usize, usize, usize) {
        let mut add = 0;
        let mut change = 0;
        let mut destroy = 0;
        for a in &self.actions {
            match a.kind {
                ActionKind::Create => add += 1,
                ActionKind::Update => change += 1,
                ActionKind::Replace => {
                    add += 1;
                    destroy += 1;
                }
                ActionKind::Delete => destroy += 1,
            }
        }
        (add, change, destroy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_masks_sensitive_values() {
        let change = AttrChange {
            attr: "admin_password".into(),
            before: None,
            after: Some(Value::from("hunter2")),
            forces_replacement: false,
        };
        assert_eq!(
            format!("{change:?}"),
            r#"AttrChange { attr: "admin_password", before: None, after: Some(String("(sensitive)")), forces_replacement: false }"#
        );
        let plain = AttrChange {
            attr: "mtu".into(),
            ..change
        };
        assert!(format!("{plain:?}").contains("hunter2"));
    }
}
