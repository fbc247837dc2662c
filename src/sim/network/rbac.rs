//! Network RBAC policies (`/v2.0/rbac-policies`) and what they change: which projects see a
//! network (and its subnets), which may put ports on it, and the network's `shared` flag,
//! which is Neutron's wildcard `access_as_shared` policy under another name.
//!
//! What real Neutron (2026.2, ML2) was seen doing, and this layer does:
//! - only the policy's project (and admin) sees it: the target lists none and GETs 404;
//! - a project an `access_as_shared` policy targets sees the network with `shared: true`
//!   (to the owner it stays false until a `*` policy exists), sees its subnets, and may
//!   create ports on it, but not subnets (403 `rule:create_subnet is disallowed by policy`);
//! - without a policy the network is 404 NetworkNotFound to the other project;
//! - one policy per (object, action, target): 409 DuplicateRbacPolicy;
//! - only `target_tenant` changes (PUT); `action`/`object_id` are read-only;
//! - removing (or retargeting) a policy while its target has ports on the network: 409
//!   RbacPolicyInUse;
//! - only admin may target `*`; a target that is not a UUID: 400 InvalidInput;
//! - policies have no tags (400 on POST, `tags` filter invalid).

use serde_json::{Map, Value, json};

use super::NetworkData;
use super::model::*;
use super::ops::{ensure_owner, owner};

pub const ACCESS_AS_SHARED: &str = "access_as_shared";
pub const ACCESS_AS_EXTERNAL: &str = "access_as_external";
const ACTIONS: [&str; 2] = [ACCESS_AS_EXTERNAL, ACCESS_AS_SHARED];
pub const WILDCARD: &str = "*";

/// The callback name real Neutron puts in its RbacPolicyInUse message (ML2's check; the
/// number is the callback's id in that process, kept as seen).
const IN_USE_CALLBACK: &str =
    "neutron.plugins.ml2.plugin.NeutronDbPluginV2.validate_network_rbac_policy_change-376837";

/// The other RBAC callback of real Neutron's messages (its number kept as seen, too).
const OBJECT_CALLBACK: &str =
    "neutron.objects.network.RbacNeutronDbObjectMixin.validate_rbac_policy_change-2900380276948";

/// A project id as Neutron accepts it for a target: a UUID, with or without dashes.
fn valid_project_id(id: &str) -> bool {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
}

fn in_use(network_id: &str) -> NeutronError {
    NeutronError::conflict(
        "RbacPolicyInUse",
        format!(
            "RBAC policy on object {network_id} cannot be removed because other objects depend \
             on it.\nDetails: Callback {IN_USE_CALLBACK} failed with \"Unable to reconfigure \
             sharing settings for network {network_id}. Multiple projects are using it.\""
        ),
    )
}

impl NetworkData {
    /// A policy of `action` on network `network_id` lets `project` in.
    pub fn rbac_grants(&self, network_id: &str, project: &str, action: &str) -> bool {
        self.rbac_policies.children_of(network_id).any(|p| {
            p.action == action && (p.target_tenant == project || p.target_tenant == WILDCARD)
        })
    }

    /// `project` may use the network (see it, put ports on it): it owns it, or the network is
    /// shared with it.
    pub fn shared_with(&self, net: &Network, project: &str) -> bool {
        net.meta.project_id == project
            || net.shared
            || self.rbac_grants(&net.meta.id, project, ACCESS_AS_SHARED)
    }

    /// `project` sees the network through a policy (shared with it, or external to it).
    pub fn rbac_visible(&self, net: &Network, project: &str) -> bool {
        self.rbac_grants(&net.meta.id, project, ACCESS_AS_SHARED)
            || self.rbac_grants(&net.meta.id, project, ACCESS_AS_EXTERNAL)
    }

    /// The networks other projects' policies let `project` see.
    pub fn rbac_networks_of(&self, project: &str) -> Vec<String> {
        self.rbac_policies
            .values()
            .filter(|p| p.target_tenant == project || p.target_tenant == WILDCARD)
            .map(|p| p.object_id.clone())
            .collect()
    }

    /// `shared` as the actor reads it: true once a `*` policy exists, and to the targets of
    /// an `access_as_shared` policy.
    pub fn shared_for(&self, net: &Network, actor: &Actor) -> bool {
        net.shared
            || self
                .rbac_policies
                .children_of(&net.meta.id)
                .any(|p| p.action == ACCESS_AS_SHARED && p.target_tenant == actor.project_id)
    }

    fn rbac_policy_visible(&self, policy: &RbacPolicy, actor: &Actor) -> bool {
        actor.admin || policy.meta.project_id == actor.project_id
    }

    pub fn rbac_policy(&self, actor: &Actor, id: &str) -> NResult<&RbacPolicy> {
        self.rbac_policies
            .get(id)
            .filter(|p| self.rbac_policy_visible(p, actor))
            .ok_or_else(|| Kind::RbacPolicy.not_found(id))
    }

    pub fn rbac_policy_listed(&self, policy: &RbacPolicy, actor: &Actor) -> bool {
        self.rbac_policy_visible(policy, actor)
    }

    pub fn render_rbac_policy(&self, policy: &RbacPolicy) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("id".into(), json!(policy.meta.id));
        out.insert("project_id".into(), json!(policy.meta.project_id));
        out.insert("action".into(), json!(policy.action));
        out.insert("object_id".into(), json!(policy.object_id));
        out.insert("target_tenant".into(), json!(policy.target_tenant));
        out.insert("object_type".into(), json!(policy.object_type));
        out.insert("tenant_id".into(), json!(policy.meta.project_id));
        out
    }

    pub fn create_rbac_policy(
        &mut self,
        actor: &Actor,
        body: &Map<String, Value>,
    ) -> NResult<String> {
        let project = owner(actor, body)?;
        let object_type = match required(body, "object_type")? {
            Value::String(s) if s == "network" => s.clone(),
            other => {
                let shown = other
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| py(other));
                return Err(NeutronError::invalid_input(format!(
                    "'{shown}' is not a valid RBAC object type"
                )));
            }
        };
        let action = match required(body, "action")? {
            Value::String(s) if ACTIONS.contains(&s.as_str()) => s.clone(),
            other => {
                let shown = other
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| py(other));
                return Err(NeutronError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "InvalidActionForType",
                    format!(
                        "Invalid action '{shown}' for object type 'network'. Valid actions: \
                         ('{ACCESS_AS_SHARED}', '{ACCESS_AS_EXTERNAL}')"
                    ),
                ));
            }
        };
        let target = match required(body, "target_tenant")? {
            Value::String(s) if s == WILDCARD || valid_project_id(s) => s.clone(),
            other => {
                let shown = other
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| py(other));
                return Err(NeutronError::invalid_input(format!(
                    "'{shown}' is not a valid target project ID; expected a UUID or '*'"
                )));
            }
        };
        let object_id = get_str(body, "object_id", 255)?.unwrap_or_default();
        if target == WILDCARD && !actor.admin {
            return Err(NeutronError::new(
                axum::http::StatusCode::FORBIDDEN,
                "PolicyNotAuthorized",
                "((((rule:create_rbac_policy and rule:create_rbac_policy:object_type) and \
                 rule:create_rbac_policy:object_id) and rule:create_rbac_policy:target_tenant) \
                 and rule:create_rbac_policy:action) is disallowed by policy",
            ));
        }
        // Real Neutron answers both through its RBAC callbacks, as 400 InvalidInput.
        let Some(network) = self.networks.get(&object_id) else {
            return Err(NeutronError::invalid_input(format!(
                "Callback {OBJECT_CALLBACK} failed with \"'NoneType' object is not \
                 subscriptable\",Callback {IN_USE_CALLBACK} failed with \"Network {object_id} \
                 could not be found.\""
            )));
        };
        if !actor.admin && network.meta.project_id != actor.project_id {
            return Err(NeutronError::invalid_input(format!(
                "Callback {OBJECT_CALLBACK} failed with \"Invalid input for operation: Only \
                 admins can manipulate policies on objects they do not own.\",Callback \
                 {IN_USE_CALLBACK} failed with \"Invalid input for operation: Only admins can \
                 manipulate policies on networks they do not own.\""
            )));
        }
        let duplicate = self.rbac_policies.children_of(&object_id).any(|p| {
            p.action == action && p.target_tenant == target && p.object_type == object_type
        });
        if duplicate {
            return Err(NeutronError::conflict(
                "DuplicateRbacPolicy",
                "An RBAC policy already exists with those values.",
            ));
        }
        self.check_quota(&project, "rbac_policy", 1)?;
        let id = self.insert_rbac_policy(&project, &object_id, &action, &target);
        Ok(id)
    }

    /// Stores a policy and keeps the network's flags in step with it.
    fn insert_rbac_policy(
        &mut self,
        project: &str,
        network_id: &str,
        action: &str,
        target: &str,
    ) -> String {
        let policy = RbacPolicy {
            meta: Meta::new(project, String::new(), String::new(), Vec::new()),
            object_type: "network".into(),
            object_id: network_id.to_string(),
            action: action.to_string(),
            target_tenant: target.to_string(),
        };
        let id = policy.meta.id.clone();
        self.rbac_policies.insert(id.clone(), policy);
        self.sync_network_flags(network_id);
        id
    }

    /// `shared` is whether a `*` access_as_shared policy exists; `router:external` whether
    /// any access_as_external policy does (real Neutron shows it to the owner too).
    fn sync_network_flags(&mut self, network_id: &str) {
        let wildcard_shared = self
            .rbac_policies
            .children_of(network_id)
            .any(|p| p.action == ACCESS_AS_SHARED && p.target_tenant == WILDCARD);
        let external = self
            .rbac_policies
            .children_of(network_id)
            .any(|p| p.action == ACCESS_AS_EXTERNAL);
        if let Some(net) = self.networks.get_mut(network_id)
            && (net.shared != wildcard_shared || (external && !net.external))
        {
            net.shared = wildcard_shared;
            net.external |= external;
            net.meta.touch();
        }
    }

    /// What setting a network's `shared` flag does: make the wildcard policy (in the
    /// network's project) or remove every wildcard access_as_shared policy.
    pub fn set_network_shared(&mut self, network_id: &str, shared: bool) {
        self.set_wildcard_policy(network_id, ACCESS_AS_SHARED, shared);
        if !shared {
            self.sync_network_flags(network_id);
        }
    }

    /// What setting a network's `router:external` does: make the wildcard
    /// access_as_external policy in the network's project (real Neutron lists one for every
    /// external network, and counts it in that project's `rbac_policy` quota), or remove it.
    pub fn set_network_external(&mut self, network_id: &str, external: bool) {
        self.set_wildcard_policy(network_id, ACCESS_AS_EXTERNAL, external);
    }

    /// Makes the network's wildcard policy of `action` (in the network's project) when `on`
    /// and there is none, or removes every one of them when not.
    fn set_wildcard_policy(&mut self, network_id: &str, action: &str, on: bool) {
        let wildcards: Vec<String> = self
            .rbac_policies
            .children_of(network_id)
            .filter(|p| p.action == action && p.target_tenant == WILDCARD)
            .map(|p| p.meta.id.clone())
            .collect();
        if on && wildcards.is_empty() {
            let Some(project) = self
                .networks
                .get(network_id)
                .map(|n| n.meta.project_id.clone())
            else {
                return;
            };
            self.insert_rbac_policy(&project, network_id, action, WILDCARD);
        } else if !on {
            for id in wildcards {
                self.rbac_policies.remove(&id);
            }
        }
    }

    /// Refuses to take access away from projects that still have ports on the network.
    fn ensure_unused_by_losers(&self, policy: &RbacPolicy) -> NResult<()> {
        if policy.action != ACCESS_AS_SHARED {
            return Ok(());
        }
        let Some(net) = self.networks.get(&policy.object_id) else {
            return Ok(());
        };
        let still_granted = |project: &str| {
            self.rbac_policies
                .children_of(&policy.object_id)
                .any(|other| {
                    other.meta.id != policy.meta.id
                        && other.action == ACCESS_AS_SHARED
                        && (other.target_tenant == project || other.target_tenant == WILDCARD)
                })
        };
        let loses_access = |project: &str| {
            project != net.meta.project_id
                && !project.is_empty()
                && (policy.target_tenant == WILDCARD || policy.target_tenant == project)
                && !still_granted(project)
        };
        if self
            .ports
            .children_of(&policy.object_id)
            .any(|port| loses_access(&port.meta.project_id))
        {
            return Err(in_use(&policy.object_id));
        }
        Ok(())
    }

    pub fn update_rbac_policy(
        &mut self,
        actor: &Actor,
        id: &str,
        body: &Map<String, Value>,
    ) -> NResult<()> {
        let policy = self.rbac_policy(actor, id)?.clone();
        ensure_owner(actor, &policy.meta.project_id, "update_rbac_policy")?;
        let Some(target) = get_str(body, "target_tenant", 255)? else {
            return Ok(());
        };
        if target != WILDCARD && !valid_project_id(&target) {
            return Err(NeutronError::invalid_input(format!(
                "'{target}' is not a valid target project ID; expected a UUID or '*'"
            )));
        }
        if target == policy.target_tenant {
            return Ok(());
        }
        if target == WILDCARD && !actor.admin {
            return Err(NeutronError::policy("update_rbac_policy:target_tenant"));
        }
        self.ensure_unused_by_losers(&policy)?;
        let mut updated = policy;
        updated.target_tenant = target;
        self.rbac_policies.insert(id.to_string(), updated.clone());
        self.sync_network_flags(&updated.object_id);
        Ok(())
    }

    pub fn delete_rbac_policy(&mut self, actor: &Actor, id: &str) -> NResult<()> {
        let policy = self.rbac_policy(actor, id)?.clone();
        ensure_owner(actor, &policy.meta.project_id, "delete_rbac_policy")?;
        self.ensure_unused_by_losers(&policy)?;
        self.rbac_policies.remove(id);
        self.sync_network_flags(&policy.object_id);
        Ok(())
    }

    /// A deleted network takes its policies with it.
    pub(super) fn forget_rbac_policies_of(&mut self, network_id: &str) {
        self.rbac_policies.retain(|_, p| p.object_id != network_id);
    }

    pub(super) fn rbac_policy_ids(&self) -> std::collections::BTreeSet<String> {
        self.rbac_policies.keys().cloned().collect()
    }
}
