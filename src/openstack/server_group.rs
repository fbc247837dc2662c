//! Nova server groups (os-server-groups, 2.64+: one `policy` and its `rules`): list, create,
//! delete. Nova has no update of a group, no tags and no metadata on one.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::compute::{Compute, CreatedServer};
use super::{ApiError, ServiceType};

const COMPUTE: ServiceType = ServiceType::Compute;

/// A server group as 2.64+ shows it.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ServerGroup {
    pub id: String,
    pub name: String,
    pub policy: String,
    /// `max_server_per_host` (anti-affinity only): name → value.
    pub rules: BTreeMap<String, Value>,
    /// The ids of the servers booted into the group.
    pub members: Vec<String>,
    pub project_id: String,
}

impl ServerGroup {
    /// The anti-affinity rule, when the group has one.
    pub fn max_server_per_host(&self) -> Option<i64> {
        self.rules
            .get("max_server_per_host")
            .and_then(Value::as_i64)
    }
}

impl Compute<'_> {
    /// The groups of the session's project; with `all_projects`, every project's (admin).
    pub async fn list_server_groups(
        self,
        all_projects: bool,
    ) -> Result<Vec<ServerGroup>, ApiError> {
        let query: Vec<(String, String)> = if all_projects {
            vec![("all_projects".into(), "True".into())]
        } else {
            Vec::new()
        };
        self.0
            .list(COMPUTE, "/os-server-groups", "server_groups", &query)
            .await
    }

    /// `rules` is `{}` or `{"max_server_per_host": N}` (anti-affinity only).
    pub async fn create_server_group(
        self,
        name: &str,
        policy: &str,
        rules: Value,
    ) -> Result<ServerGroup, ApiError> {
        let mut group = json!({ "name": name, "policy": policy });
        if rules.as_object().is_some_and(|r| !r.is_empty()) {
            group["rules"] = rules;
        }
        self.0
            .send_json(
                COMPUTE,
                Method::POST,
                "/os-server-groups",
                &json!({ "server_group": group }),
                Some("server_group"),
            )
            .await
    }

    /// Boots a server into the group (scheduler hint `group`), which Nova's scheduler places
    /// by the group's policy: a policy it cannot meet leaves the server in ERROR ("No valid
    /// host was found").
    pub async fn create_server_in_group(
        self,
        server: Value,
        group: &str,
    ) -> Result<CreatedServer, ApiError> {
        self.0
            .send_json(
                COMPUTE,
                Method::POST,
                "/servers",
                &json!({ "server": server, "os:scheduler_hints": { "group": group } }),
                Some("server"),
            )
            .await
    }

    /// Nova deletes a group that still has members: they keep running, in no group.
    pub async fn delete_server_group(self, id: &str) -> Result<(), ApiError> {
        self.0
            .send_no_content(
                COMPUTE,
                Method::DELETE,
                &format!("/os-server-groups/{id}"),
                None,
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_2_64_list_sample() {
        // openstack-api-samples compute/os-server-groups_v2.64_server-groups-list-resp.json
        let page: Value = serde_json::from_str(
            r#"{"server_groups": [{"id": "616fb98f-46ca-475e-917e-2563e5a8cd19", "name": "test",
            "policy": "anti-affinity", "rules": {"max_server_per_host": 3}, "members": [],
            "project_id": "6f70656e737461636b20342065766572", "user_id": "fake"}]}"#,
        )
        .unwrap();
        let groups: Vec<ServerGroup> =
            serde_json::from_value(page["server_groups"].clone()).unwrap();
        assert_eq!(groups[0].policy, "anti-affinity");
        assert_eq!(groups[0].max_server_per_host(), Some(3));
        assert_eq!(groups[0].project_id, "6f70656e737461636b20342065766572");
    }
}
