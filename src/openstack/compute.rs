//! Nova v2.1 at microversion [`COMPUTE_MICROVERSION`](super::COMPUTE_MICROVERSION): servers,
//! server actions and tags, flavors, quota sets.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::shared_poll::{self, SharedList};
use super::wait::{self, Poll, WaitError};
use super::{ApiError, ServiceType, Session};

const COMPUTE: ServiceType = ServiceType::Compute;

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Server {
    pub id: String,
    pub name: String,
    pub status: String,
    pub tenant_id: String,
    pub metadata: BTreeMap<String, String>,
    pub tags: Vec<String>,
    /// From 2.19; null when never set.
    pub description: Option<String>,
    pub flavor: ServerFlavor,
    /// An object with `id`, or "" for a server booted from a volume.
    pub image: Value,
    pub fault: Option<ServerFault>,
    #[serde(rename = "OS-EXT-STS:task_state")]
    pub task_state: Option<String>,
    /// The Cinder volumes attached to the server.
    #[serde(rename = "os-extended-volumes:volumes_attached")]
    pub volumes_attached: Vec<AttachedVolume>,
    /// Base64; shown to admins only (2.3+).
    #[serde(rename = "OS-EXT-SRV-ATTR:user_data")]
    pub user_data: Option<String>,
    /// Admins only (2.3+): the device a volume-booted server boots from.
    #[serde(rename = "OS-EXT-SRV-ATTR:root_device_name")]
    pub root_device_name: Option<String>,
    /// "True" with a config drive, "" without.
    pub config_drive: String,
    #[serde(rename = "OS-EXT-AZ:availability_zone")]
    pub availability_zone: Option<String>,
    /// The keypair of the user who created the server, by name; null without one.
    pub key_name: Option<String>,
    /// Not Nova's: the volume a server booted from a volume boots from, found by the caller
    /// that needs it (a lookup in Cinder).
    #[serde(skip)]
    pub boot_volume: Option<BootVolume>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct AttachedVolume {
    pub id: String,
    /// 2.3+: whether Nova deletes the volume with the server.
    pub delete_on_termination: bool,
}

/// The volume a server boots from, as Cinder describes it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BootVolume {
    pub id: String,
    pub size: u64,
    /// The Glance image it was made from.
    pub image_id: Option<String>,
    pub delete_on_termination: bool,
}

/// One of a server's `os-volume_attachments`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct VolumeAttachment {
    #[serde(rename = "volumeId")]
    pub volume_id: String,
    pub device: Option<String>,
}

impl Server {
    pub fn image_id(&self) -> Option<&str> {
        self.image.get("id").and_then(Value::as_str)
    }
}

/// From 2.47 the flavor is embedded (`original_name`); before, only `id`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ServerFlavor {
    pub id: Option<String>,
    pub original_name: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ServerFault {
    pub code: Option<u16>,
    pub message: String,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct Flavor {
    pub id: String,
    pub name: String,
    pub vcpus: u64,
    pub ram: u64,
    pub disk: u64,
}

/// Only id and links are guaranteed in a create answer.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct CreatedServer {
    pub id: String,
}

#[derive(Clone, Copy)]
pub struct Compute<'a>(pub &'a Session);

impl Session {
    pub fn compute(&self) -> Compute<'_> {
        Compute(self)
    }
}

impl Compute<'_> {
    pub async fn list_servers(self, query: &[(String, String)]) -> Result<Vec<Server>, ApiError> {
        self.0
            .list(COMPUTE, "/servers/detail", "servers", query)
            .await
    }

    pub async fn get_server(self, id: &str) -> Result<Server, ApiError> {
        self.0
            .get(COMPUTE, &format!("/servers/{id}"), "server")
            .await
    }

    /// `server` is the inner object (name, flavorRef, imageRef, networks, metadata, tags).
    pub async fn create_server(self, server: Value) -> Result<CreatedServer, ApiError> {
        self.0
            .send_json(
                COMPUTE,
                Method::POST,
                "/servers",
                &json!({ "server": server }),
                Some("server"),
            )
            .await
    }

    /// Attaches a Cinder volume (`POST /servers/{id}/os-volume_attachments`); Nova picks the
    /// device. The volume goes `attaching`, then `in-use`.
    pub async fn attach_volume(self, server: &str, volume: &str) -> Result<(), ApiError> {
        self.0
            .send_no_content(
                COMPUTE,
                Method::POST,
                &format!("/servers/{server}/os-volume_attachments"),
                Some(&json!({ "volumeAttachment": { "volumeId": volume } })),
            )
            .await
    }

    /// The availability zones (`os-availability-zone`): name and whether it is available.
    pub async fn availability_zones(self) -> Result<Vec<(String, bool)>, ApiError> {
        let zones: Vec<Value> = self
            .0
            .get(COMPUTE, "/os-availability-zone", "availabilityZoneInfo")
            .await?;
        Ok(zones
            .iter()
            .filter_map(|z| {
                let name = z.get("zoneName")?.as_str()?.to_string();
                let available = z.pointer("/zoneState/available") == Some(&Value::Bool(true));
                Some((name, available))
            })
            .collect())
    }

    /// The volumes attached to a server, with their devices.
    pub async fn volume_attachments(self, server: &str) -> Result<Vec<VolumeAttachment>, ApiError> {
        self.0
            .get(
                COMPUTE,
                &format!("/servers/{server}/os-volume_attachments"),
                "volumeAttachments",
            )
            .await
    }

    /// Detaches a volume; it goes `detaching`, then `available`.
    pub async fn detach_volume(self, server: &str, volume: &str) -> Result<(), ApiError> {
        self.0
            .send_no_content(
                COMPUTE,
                Method::DELETE,
                &format!("/servers/{server}/os-volume_attachments/{volume}"),
                None,
            )
            .await
    }

    pub async fn delete_server(self, id: &str) -> Result<(), ApiError> {
        self.0
            .send_no_content(COMPUTE, Method::DELETE, &format!("/servers/{id}"), None)
            .await
    }

    pub async fn rename_server(self, id: &str, name: &str) -> Result<(), ApiError> {
        self.0
            .send_no_content(
                COMPUTE,
                Method::PUT,
                &format!("/servers/{id}"),
                Some(&json!({ "server": { "name": name } })),
            )
            .await
    }

    /// Sets the description (2.19+); Nova answers with the whole server.
    pub async fn set_description(self, id: &str, description: &str) -> Result<(), ApiError> {
        self.0
            .send_no_content(
                COMPUTE,
                Method::PUT,
                &format!("/servers/{id}"),
                Some(&json!({ "server": { "description": description } })),
            )
            .await
    }

    /// Replaces the server's whole metadata (`PUT /servers/{id}/metadata`): keys not in
    /// `metadata` are removed.
    pub async fn replace_metadata(
        self,
        id: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<(), ApiError> {
        self.0
            .send_no_content(
                COMPUTE,
                Method::PUT,
                &format!("/servers/{id}/metadata"),
                Some(&json!({ "metadata": metadata })),
            )
            .await
    }

    /// `{"os-start": null}`, `{"os-stop": null}`...: 202 with no body.
    pub async fn action(self, id: &str, action: &str) -> Result<(), ApiError> {
        self.0
            .send_no_content(
                COMPUTE,
                Method::POST,
                &format!("/servers/{id}/action"),
                Some(&json!({ action: null })),
            )
            .await
    }

    /// `{"resize": {"flavorRef": ...}}`: 202 with no body; the server goes RESIZE, then
    /// VERIFY_RESIZE on the new flavor until `confirmResize` (or `revertResize`).
    pub async fn resize_server(self, id: &str, flavor_id: &str) -> Result<(), ApiError> {
        self.0
            .send_no_content(
                COMPUTE,
                Method::POST,
                &format!("/servers/{id}/action"),
                Some(&json!({ "resize": { "flavorRef": flavor_id } })),
            )
            .await
    }

    pub async fn set_tags(self, id: &str, tags: &[String]) -> Result<(), ApiError> {
        self.0
            .send_no_content(
                COMPUTE,
                Method::PUT,
                &format!("/servers/{id}/tags"),
                Some(&json!({ "tags": tags })),
            )
            .await
    }

    pub async fn list_flavors(self) -> Result<Vec<Flavor>, ApiError> {
        self.0
            .list(COMPUTE, "/flavors/detail", "flavors", &[])
            .await
    }

    /// Nova quota set of a project: name → limit (non-integer fields such as `id` dropped).
    pub async fn get_quotas(self, project_id: &str) -> Result<BTreeMap<String, i64>, ApiError> {
        let set: BTreeMap<String, Value> = self
            .0
            .get(
                COMPUTE,
                &format!("/os-quota-sets/{project_id}"),
                "quota_set",
            )
            .await?;
        Ok(integers(set))
    }

    /// Nova quota set of a project with what it uses (`/detail`): name → limit and in use.
    pub async fn quota_details(
        self,
        project_id: &str,
    ) -> Result<BTreeMap<String, super::block_storage::QuotaUse>, ApiError> {
        let set: BTreeMap<String, Value> = self
            .0
            .get(
                COMPUTE,
                &format!("/os-quota-sets/{project_id}/detail"),
                "quota_set",
            )
            .await?;
        Ok(super::block_storage::quota_uses(set))
    }

    pub async fn update_quotas(
        self,
        project_id: &str,
        quotas: &BTreeMap<String, i64>,
    ) -> Result<(), ApiError> {
        self.0
            .send_no_content(
                COMPUTE,
                Method::PUT,
                &format!("/os-quota-sets/{project_id}"),
                Some(&json!({ "quota_set": quotas })),
            )
            .await
    }

    /// Polls the server until its status is one of `targets` (and no task is running);
    /// ERROR fails at once with the server's fault message. With a `shared` tag (and an admin
    /// session), the polls are shared with every other server carrying it: [`ServerPolls`].
    pub async fn wait_status(
        self,
        shared: Option<&str>,
        id: &str,
        targets: &[&str],
        timeout: Duration,
    ) -> Result<Server, WaitError> {
        wait::wait_paced(timeout, self.pace(shared), || async {
            let server = self.poll_server(shared, id).await?;
            Ok(server_poll(server, targets))
        })
        .await
    }

    /// Polls the server until its status is none of `settling` and no task runs: real Nova
    /// answers 409 ("task_state spawning", "vm_state building") to actions meanwhile. ERROR
    /// fails at once with the server's fault message.
    pub async fn wait_settled(
        self,
        shared: Option<&str>,
        id: &str,
        settling: &[&str],
        timeout: Duration,
    ) -> Result<Server, WaitError> {
        wait::wait_paced(timeout, self.pace(shared), || async {
            let server = self.poll_server(shared, id).await?;
            let now = server.status.clone();
            let targets: &[&str] = if settling.contains(&now.as_str()) {
                &[]
            } else {
                &[now.as_str()]
            };
            Ok(server_poll(server, targets))
        })
        .await
    }

    pub async fn wait_deleted(
        self,
        shared: Option<&str>,
        id: &str,
        timeout: Duration,
    ) -> Result<(), WaitError> {
        wait::wait_paced(timeout, self.pace(shared), || async {
            let server = match shared {
                // Not in a list made after the delete was asked for: gone.
                Some(tag) => self.listed_server(tag, id).await?,
                None => match self.get_server(id).await {
                    Ok(server) => Some(server),
                    Err(e) if e.is_not_found() => None,
                    Err(e) => return Err(e),
                },
            };
            Ok(match server {
                None => Poll::Ready(()),
                // Nova may briefly show a deleted server as DELETED before it is gone; a
                // server in ERROR may still be on its way out: only the timeout ends the wait.
                Some(server) if server.status == "DELETED" => Poll::Pending("DELETING".into()),
                Some(server) => Poll::Pending(server.status),
            })
        })
        .await
    }

    /// How often to poll ([`shared_poll::pace`]): shared, at the pace of the tag's list.
    fn pace(self, shared: Option<&str>) -> impl FnMut(Duration) -> Duration {
        shared_poll::pace(shared.map(|tag| self.shared_list(tag)))
    }

    fn shared_list(self, tag: &str) -> Arc<SharedList<Server>> {
        self.0.polls().slot(&format!("servers tags={tag}"))
    }

    /// The server as one poll sees it: from the shared list when there is one, by GET
    /// otherwise (or when the list does not show it: the GET's 404 says why).
    async fn poll_server(self, shared: Option<&str>, id: &str) -> Result<Server, ApiError> {
        if let Some(tag) = shared
            && let Some(server) = self.listed_server(tag, id).await?
        {
            return Ok(server);
        }
        self.get_server(id).await
    }

    /// The server in a shared list of the servers tagged `tag` (`all_tenants=1&tags=`,
    /// admin): stackform tags every server with its state's lineage, so the servers an apply
    /// waits for, in any number of tenants, cost one list per poll. None when a list made
    /// after this call does not show it.
    async fn listed_server(self, tag: &str, id: &str) -> Result<Option<Server>, ApiError> {
        self.shared_list(tag)
            .find(id, || async {
                let query = [
                    ("all_tenants".to_string(), "1".to_string()),
                    ("tags".to_string(), tag.to_string()),
                ];
                let servers = self.list_servers(&query).await?;
                Ok(servers.into_iter().map(|s| (s.id.clone(), s)).collect())
            })
            .await
    }
}

/// One poll's verdict on a server.
pub fn server_poll(server: Server, targets: &[&str]) -> Poll<Server> {
    if server.status == "ERROR" {
        let message = server
            .fault
            .as_ref()
            // Real Nova's scheduler fault ends in a space ("No valid host was found. ").
            .map(|f| f.message.trim().to_string())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "the server went to ERROR (no fault recorded)".into());
        return Poll::Failed(format!("server {} is in ERROR: {message}", server.id));
    }
    if targets.contains(&server.status.as_str()) && server.task_state.is_none() {
        return Poll::Ready(server);
    }
    Poll::Pending(match &server.task_state {
        Some(task) => format!("{} ({task})", server.status),
        None => server.status,
    })
}

fn integers(set: BTreeMap<String, Value>) -> BTreeMap<String, i64> {
    set.into_iter()
        .filter_map(|(k, v)| {
            // Some clouds answer `?usage=true`-shaped values ({limit, in_use}).
            let limit = v
                .as_i64()
                .or_else(|| v.get("limit").and_then(Value::as_i64))?;
            Some((k, limit))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/tests/fixtures/openstack/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn decodes_the_nova_servers_detail_sample() {
        // Copied from openstack-api-samples compute/servers_v2.100_servers-details-resp.json.
        let page = fixture("servers_v2.100_servers-details-resp.json");
        let servers: Vec<Server> = serde_json::from_value(page["servers"].clone()).unwrap();
        assert_eq!(servers.len(), 1);
        let server = &servers[0];
        assert_eq!(server.status, "ACTIVE");
        assert_eq!(server.flavor.original_name.as_deref(), Some("m1.tiny"));
        assert_eq!(
            server.image_id(),
            Some("70a599e0-31e7-49b7-b260-868f441e862b")
        );
        assert_eq!(server.tenant_id, "6f70656e737461636b20342065766572");
        assert_eq!(
            server.metadata.get("My Server Name").map(String::as_str),
            Some("Apache1")
        );
        assert_eq!(server.task_state, None);
    }

    #[test]
    fn error_servers_fail_with_their_fault() {
        // Copied from openstack-api-samples errors/compute-server-fault-excerpt.json.
        let body = fixture("compute-server-fault-excerpt.json");
        let server: Server = serde_json::from_value(body["server"].clone()).unwrap();
        match server_poll(server, &["ACTIVE"]) {
            Poll::Failed(message) => assert_eq!(
                message,
                "server 52415800-8b69-11e0-9b19-734f0000ffff is in ERROR: No valid host was found."
            ),
            other => panic!("expected Failed, got {other:?}"),
        }
    }

    #[test]
    fn fault_messages_are_trimmed() {
        let server = Server {
            id: "s".into(),
            status: "ERROR".into(),
            fault: Some(ServerFault {
                message: "No valid host was found. ".into(),
                ..ServerFault::default()
            }),
            ..Server::default()
        };
        match server_poll(server, &["ACTIVE"]) {
            Poll::Failed(message) => {
                assert_eq!(message, "server s is in ERROR: No valid host was found.")
            }
            other => panic!("expected Failed, got {other:?}"),
        }
    }

    #[test]
    fn a_running_task_keeps_the_wait_going() {
        let server = Server {
            id: "s".into(),
            status: "ACTIVE".into(),
            task_state: Some("powering-off".into()),
            ..Server::default()
        };
        match server_poll(server, &["ACTIVE"]) {
            Poll::Pending(status) => assert_eq!(status, "ACTIVE (powering-off)"),
            other => panic!("expected Pending, got {other:?}"),
        }
    }

    #[test]
    fn quota_values_are_read_as_integers() {
        let set: BTreeMap<String, Value> = serde_json::from_value(json!({
            "id": "p1", "cores": 20, "instances": {"limit": 10, "in_use": 2}, "ram": -1
        }))
        .unwrap();
        let expected: BTreeMap<String, i64> = [
            ("cores".to_string(), 20),
            ("instances".to_string(), 10),
            ("ram".to_string(), -1),
        ]
        .into();
        assert_eq!(integers(set), expected);
    }
}
