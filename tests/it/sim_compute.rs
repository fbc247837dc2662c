//! Nova v2.1 of the embedded cloud, driven over raw HTTP. Servers boot with
//! `networks: "none"` so these tests exercise Nova alone, not Neutron.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use stackform::sim::SimConfig;

use crate::sim_common::{Cloud, fast_config, start, start_with};

const MV: (&str, &str) = ("OpenStack-API-Version", "compute 2.52");

async fn boot(cloud: &Cloud, token: &str, name: &str, flavor: &str) -> (StatusCode, Value) {
    let image = cloud.cirros_id().await;
    let reply = cloud
        .call_as(
            token,
            Method::POST,
            "/compute/v2.1/servers",
            Some(json!({ "server": {
                "name": name, "imageRef": image, "flavorRef": flavor, "networks": "none",
                "metadata": { "role": "web" }, "tags": ["owner=stackform"]
            } })),
            &[MV],
        )
        .await;
    (reply.status, reply.body)
}

pub async fn wait_for_status(cloud: &Cloud, token: &str, id: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = cloud
            .call_as(
                token,
                Method::GET,
                &format!("/compute/v2.1/servers/{id}"),
                None,
                &[MV],
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        if reply.body["server"]["status"] == json!(status) {
            return reply.body["server"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "server {id} never reached {status}: {}",
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_server_builds_becomes_active_then_stops() {
    // Actions slow enough that the server is surely seen deleting right after DELETE.
    let cloud = start_with(SimConfig {
        action_delay: Duration::from_millis(600),
        ..fast_config()
    })
    .await;
    let token = cloud.token.clone();
    let image = cloud.cirros_id().await;
    let created = cloud
        .call_with(
            Method::POST,
            "/compute/v2.1/servers",
            Some(json!({ "server": { "name": "web-1", "imageRef": image, "flavorRef": "1", "networks": "none" } })),
            &[MV],
        )
        .await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.body);
    let id = created.body["server"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        created.header("location"),
        Some(format!("{}/compute/v2.1/servers/{id}", cloud.handle.base_url).as_str())
    );
    assert_eq!(
        created.header("openstack-api-version"),
        Some("compute 2.52")
    );
    assert_eq!(created.header("x-openstack-nova-api-version"), Some("2.52"));
    assert_eq!(
        created.header("x-compute-request-id"),
        created.header("x-openstack-request-id")
    );
    assert_eq!(
        created.body["server"]["adminPass"].as_str().map(str::len),
        Some(12)
    );
    assert_eq!(
        created.body["server"]["security_groups"],
        json!([{ "name": "default" }])
    );
    assert_eq!(created.body["server"]["links"][0]["rel"], json!("self"));

    let building = cloud
        .call_with(
            Method::GET,
            &format!("/compute/v2.1/servers/{id}"),
            None,
            &[MV],
        )
        .await;
    assert_eq!(building.body["server"]["status"], json!("BUILD"));
    assert_eq!(
        building.body["server"]["OS-EXT-STS:task_state"],
        json!("spawning")
    );
    assert_eq!(
        building.body["server"]["OS-EXT-STS:vm_state"],
        json!("building")
    );

    let active = wait_for_status(&cloud, &token, &id, "ACTIVE").await;
    assert_eq!(active["OS-EXT-STS:task_state"], Value::Null);
    assert_eq!(active["OS-EXT-STS:power_state"], json!(1));
    assert_eq!(active["tenant_id"], json!(cloud.admin_project_id));
    assert_eq!(active["image"]["id"], json!(image));
    assert_eq!(active["flavor"]["original_name"], json!("m1.tiny"));
    assert_eq!(active["flavor"]["vcpus"], json!(1));
    assert_eq!(active["tags"], json!([]));
    assert_eq!(active["addresses"], json!({}));

    let stop = cloud
        .call_with(
            Method::POST,
            &format!("/compute/v2.1/servers/{id}/action"),
            Some(json!({ "os-stop": null })),
            &[MV],
        )
        .await;
    assert_eq!(stop.status, StatusCode::ACCEPTED);
    assert_eq!(stop.body, Value::Null);
    let stopped = wait_for_status(&cloud, &token, &id, "SHUTOFF").await;
    assert_eq!(stopped["OS-EXT-STS:vm_state"], json!("stopped"));
    assert_eq!(stopped["OS-EXT-STS:power_state"], json!(4));

    let start_again = cloud
        .call_with(
            Method::POST,
            &format!("/compute/v2.1/servers/{id}/action"),
            Some(json!({ "os-start": null })),
            &[MV],
        )
        .await;
    assert_eq!(start_again.status, StatusCode::ACCEPTED);
    wait_for_status(&cloud, &token, &id, "ACTIVE").await;

    let reboot = cloud
        .call_with(
            Method::POST,
            &format!("/compute/v2.1/servers/{id}/action"),
            Some(json!({ "reboot": { "type": "HARD" } })),
            &[MV],
        )
        .await;
    assert_eq!(reboot.status, StatusCode::ACCEPTED);
    let rebooting = cloud
        .call_with(
            Method::GET,
            &format!("/compute/v2.1/servers/{id}"),
            None,
            &[MV],
        )
        .await;
    assert_eq!(rebooting.body["server"]["status"], json!("HARD_REBOOT"));
    wait_for_status(&cloud, &token, &id, "ACTIVE").await;

    let snapshot = cloud
        .call_with(
            Method::POST,
            &format!("/compute/v2.1/servers/{id}/action"),
            Some(json!({ "createImage": { "name": "web-1-snap", "metadata": { "kind": "nightly" } } })),
            &[MV],
        )
        .await;
    assert_eq!(snapshot.status, StatusCode::ACCEPTED);
    let image_id = snapshot.body["image_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        snapshot.header("location"),
        Some(format!("{}/image/v2/images/{image_id}", cloud.handle.base_url).as_str())
    );
    let image = cloud
        .call(Method::GET, &format!("/image/v2/images/{image_id}"), None)
        .await;
    assert_eq!(image.status, StatusCode::OK);
    assert_eq!(image.body["name"], json!("web-1-snap"));
    assert_eq!(image.body["image_type"], json!("snapshot"));
    assert_eq!(image.body["instance_uuid"], json!(id));
    assert_eq!(image.body["kind"], json!("nightly"));
    assert_eq!(image.body["visibility"], json!("private"));

    let renamed = cloud
        .call_with(
            Method::PUT,
            &format!("/compute/v2.1/servers/{id}"),
            Some(json!({ "server": { "name": "web-2" } })),
            &[MV],
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK);
    assert_eq!(renamed.body["server"]["name"], json!("web-2"));

    let deleted = cloud
        .call_with(
            Method::DELETE,
            &format!("/compute/v2.1/servers/{id}"),
            None,
            &[MV],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    // As in Nova, the server is still there, deleting, until the compute side is done.
    let deleting = cloud
        .call_with(
            Method::GET,
            &format!("/compute/v2.1/servers/{id}"),
            None,
            &[MV],
        )
        .await;
    assert_eq!(deleting.status, StatusCode::OK);
    assert_eq!(
        deleting.body["server"]["OS-EXT-STS:task_state"],
        json!("deleting")
    );
    assert_eq!(deleting.body["server"]["status"], json!("ACTIVE"));
    tokio::time::sleep(Duration::from_millis(800)).await;
    let gone = cloud
        .call_with(
            Method::GET,
            &format!("/compute/v2.1/servers/{id}"),
            None,
            &[MV],
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(
        gone.body,
        json!({ "itemNotFound": { "code": 404, "message": format!("Instance {id} could not be found.") } })
    );
    cloud.handle.stop().await;
}

#[tokio::test]
async fn an_invalid_transition_is_409_conflicting_request() {
    let cloud = start().await;
    let token = cloud.token.clone();
    let (status, body) = boot(&cloud, &token, "db-1", "1").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["server"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    wait_for_status(&cloud, &token, &id, "ACTIVE").await;
    let start = cloud
        .call_with(
            Method::POST,
            &format!("/compute/v2.1/servers/{id}/action"),
            Some(json!({ "os-start": null })),
            &[MV],
        )
        .await;
    assert_eq!(start.status, StatusCode::CONFLICT);
    assert_eq!(
        start.body,
        json!({ "conflictingRequest": {
            "code": 409,
            "message": format!("Cannot 'start' instance {id} while it is in vm_state active")
        } })
    );
    let unknown = cloud
        .call_with(
            Method::POST,
            &format!("/compute/v2.1/servers/{id}/action"),
            Some(json!({ "os-fly": null })),
            &[MV],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        unknown.body["badRequest"]["message"],
        json!("There is no such action: os-fly")
    );
    cloud.handle.stop().await;
}

#[tokio::test]
async fn over_quota_boots_are_403_forbidden() {
    let cloud = start().await;
    let (project_id, _user, token) = cloud.tenant("small").await;
    let quota = cloud
        .call(
            Method::PUT,
            &format!("/compute/v2.1/os-quota-sets/{project_id}"),
            Some(json!({ "quota_set": { "cores": 5 } })),
        )
        .await;
    assert_eq!(quota.status, StatusCode::OK);
    assert_eq!(quota.body["quota_set"]["cores"], json!(5));
    assert_eq!(quota.body["quota_set"]["instances"], json!(10));
    assert!(quota.body["quota_set"].get("id").is_none());

    let (first, body) = boot(&cloud, &token, "big-1", "4").await;
    assert_eq!(first, StatusCode::ACCEPTED, "{body}");
    let (second, body) = boot(&cloud, &token, "big-2", "4").await;
    assert_eq!(second, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        json!({ "forbidden": { "code": 403, "message": "Quota exceeded for cores: Requested 4, but already used 4 of 5 cores" } })
    );

    let detail = cloud
        .call_as(
            &token,
            Method::GET,
            &format!("/compute/v2.1/os-quota-sets/{project_id}/detail"),
            None,
            &[MV],
        )
        .await;
    assert_eq!(detail.status, StatusCode::OK);
    assert_eq!(
        detail.body["quota_set"]["cores"],
        json!({ "in_use": 4, "limit": 5, "reserved": 0 })
    );
    assert_eq!(
        detail.body["quota_set"]["ram"],
        json!({ "in_use": 8192, "limit": 51200, "reserved": 0 })
    );
    assert_eq!(detail.body["quota_set"]["id"], json!(project_id));

    let limits = cloud
        .call_as(&token, Method::GET, "/compute/v2.1/limits", None, &[])
        .await;
    assert_eq!(limits.body["limits"]["absolute"]["maxTotalCores"], json!(5));
    assert_eq!(
        limits.body["limits"]["absolute"]["totalInstancesUsed"],
        json!(1)
    );

    let unknown = cloud
        .call(
            Method::PUT,
            "/compute/v2.1/os-quota-sets/nosuchproject",
            Some(json!({ "quota_set": { "cores": 5 } })),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        unknown.body,
        json!({ "badRequest": { "code": 400, "message": "Project ID nosuchproject is not a valid project." } })
    );
    let below_usage = cloud
        .call(
            Method::PUT,
            &format!("/compute/v2.1/os-quota-sets/{project_id}"),
            Some(json!({ "quota_set": { "cores": 2 } })),
        )
        .await;
    assert_eq!(below_usage.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        below_usage.body["badRequest"]["message"],
        json!(
            "Quota limit 2 for cores must be greater than or equal to already used and reserved 4."
        )
    );

    // Only an admin may change quotas.
    let denied = cloud
        .call_as(
            &token,
            Method::PUT,
            &format!("/compute/v2.1/os-quota-sets/{project_id}"),
            Some(json!({ "quota_set": { "cores": 50 } })),
            &[],
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(denied.body["forbidden"]["code"], json!(403));
    cloud.handle.stop().await;
}

#[tokio::test]
async fn unknown_images_and_flavors_are_refused() {
    let cloud = start().await;
    let image = cloud.cirros_id().await;
    let bad_image = cloud
        .call_with(
            Method::POST,
            "/compute/v2.1/servers",
            Some(json!({ "server": { "name": "x", "imageRef": "6b1e5c44-2b3e-4a7c-9f5e-000000000000", "flavorRef": "1", "networks": "none" } })),
            &[MV],
        )
        .await;
    assert_eq!(bad_image.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad_image.body,
        json!({ "badRequest": { "code": 400, "message": "Can not find requested image" } })
    );
    let bad_flavor = cloud
        .call_with(
            Method::POST,
            "/compute/v2.1/servers",
            Some(json!({ "server": { "name": "x", "imageRef": image, "flavorRef": "99", "networks": "none" } })),
            &[MV],
        )
        .await;
    assert_eq!(bad_flavor.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad_flavor.body,
        json!({ "badRequest": { "code": 400, "message": "Invalid flavorRef provided." } })
    );
    let no_networks = cloud
        .call_with(
            Method::POST,
            "/compute/v2.1/servers",
            Some(json!({ "server": { "name": "x", "imageRef": image, "flavorRef": "1" } })),
            &[MV],
        )
        .await;
    assert_eq!(no_networks.status, StatusCode::BAD_REQUEST);

    let flavor = cloud
        .call(Method::GET, "/compute/v2.1/flavors/2", None)
        .await;
    assert_eq!(flavor.status, StatusCode::OK);
    assert_eq!(flavor.body["flavor"]["name"], json!("m1.small"));
    assert_eq!(flavor.body["flavor"]["ram"], json!(2048));
    assert_eq!(flavor.body["flavor"]["disk"], json!(20));
    assert_eq!(flavor.body["flavor"]["vcpus"], json!(1));
    let by_name = cloud
        .call(Method::GET, "/compute/v2.1/flavors/m1.small", None)
        .await;
    assert_eq!(by_name.status, StatusCode::NOT_FOUND);
    assert_eq!(
        by_name.body,
        json!({ "itemNotFound": { "code": 404, "message": "Flavor m1.small could not be found." } })
    );
    let detail = cloud
        .call(Method::GET, "/compute/v2.1/flavors/detail", None)
        .await;
    let names: Vec<Value> = detail.body["flavors"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|f| f["name"].clone())
        .collect();
    assert_eq!(
        names,
        vec![
            json!("m1.tiny"),
            json!("m1.small"),
            json!("m1.medium"),
            json!("m1.large")
        ]
    );
    let specs = cloud
        .call(Method::GET, "/compute/v2.1/flavors/1/os-extra_specs", None)
        .await;
    assert_eq!(specs.body, json!({ "extra_specs": {} }));
    cloud.handle.stop().await;
}

#[tokio::test]
async fn server_lists_page_with_next_links_and_filter() {
    let cloud = start().await;
    let token = cloud.token.clone();
    let mut ids = Vec::new();
    for name in ["app-1", "app-2", "app-3", "db-1"] {
        let (status, body) = boot(&cloud, &token, name, "1").await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        ids.push(
            body["server"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let first = cloud
        .call_with(
            Method::GET,
            "/compute/v2.1/servers?name=app&limit=2",
            None,
            &[MV],
        )
        .await;
    assert_eq!(first.status, StatusCode::OK);
    let page: Vec<Value> = first.body["servers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|s| s["name"].clone())
        .collect();
    assert_eq!(page, vec![json!("app-3"), json!("app-2")]);
    assert_eq!(
        first.body["servers_links"],
        json!([{ "rel": "next", "href": format!("{}/compute/v2.1/servers?name=app&limit=2&marker={}", cloud.handle.base_url, ids[1]) }])
    );
    let next = cloud
        .call_with(
            Method::GET,
            &format!("/compute/v2.1/servers?name=app&limit=2&marker={}", ids[1]),
            None,
            &[MV],
        )
        .await;
    let page: Vec<Value> = next.body["servers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|s| s["name"].clone())
        .collect();
    assert_eq!(page, vec![json!("app-1")]);
    assert!(next.body.get("servers_links").is_none());

    // A full last page still offers a next link, to an empty page, as Nova does.
    let full = cloud
        .call_with(
            Method::GET,
            "/compute/v2.1/servers?name=app&limit=3",
            None,
            &[MV],
        )
        .await;
    assert_eq!(full.body["servers"].as_array().map(Vec::len), Some(3));
    let href = full.body["servers_links"][0]["href"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        href,
        format!(
            "{}/compute/v2.1/servers?name=app&limit=3&marker={}",
            cloud.handle.base_url, ids[0]
        )
    );
    let empty = crate::sim_common::send(
        &cloud.http,
        Method::GET,
        &href,
        Some(&cloud.token),
        None,
        &[MV],
    )
    .await;
    assert_eq!(empty.body, json!({ "servers": [] }));

    let tagged = cloud
        .call_with(
            Method::GET,
            "/compute/v2.1/servers/detail?tags=owner%3Dstackform",
            None,
            &[MV],
        )
        .await;
    assert_eq!(tagged.body["servers"].as_array().map(Vec::len), Some(4));
    assert_eq!(
        tagged.body["servers"][0]["metadata"],
        json!({ "role": "web" })
    );
    let bad_marker = cloud
        .call_with(
            Method::GET,
            "/compute/v2.1/servers?marker=nope",
            None,
            &[MV],
        )
        .await;
    assert_eq!(bad_marker.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad_marker.body["badRequest"]["message"],
        json!("marker [nope] not found")
    );
    cloud.handle.stop().await;
}

#[tokio::test]
async fn projects_never_see_each_others_servers() {
    let cloud = start().await;
    let (_p1, _u1, alice) = cloud.tenant("alpha").await;
    let (_p2, _u2, bob) = cloud.tenant("beta").await;
    let (status, body) = boot(&cloud, &alice, "alpha-web", "1").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["server"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let peek = cloud
        .call_as(
            &bob,
            Method::GET,
            &format!("/compute/v2.1/servers/{id}"),
            None,
            &[MV],
        )
        .await;
    assert_eq!(peek.status, StatusCode::NOT_FOUND);
    let list = cloud
        .call_as(&bob, Method::GET, "/compute/v2.1/servers", None, &[MV])
        .await;
    assert_eq!(list.body, json!({ "servers": [] }));
    let all = cloud
        .call_as(
            &bob,
            Method::GET,
            "/compute/v2.1/servers?all_tenants=1",
            None,
            &[MV],
        )
        .await;
    assert_eq!(all.status, StatusCode::FORBIDDEN);

    // The admin sees every project with all_tenants.
    let admin_all = cloud
        .call_with(
            Method::GET,
            "/compute/v2.1/servers?all_tenants=1",
            None,
            &[MV],
        )
        .await;
    assert_eq!(admin_all.body["servers"][0]["id"], json!(id));
    let admin_own = cloud
        .call_with(Method::GET, "/compute/v2.1/servers", None, &[MV])
        .await;
    assert_eq!(admin_own.body, json!({ "servers": [] }));
    cloud.handle.stop().await;
}

#[tokio::test]
async fn microversions_are_negotiated_and_bounded() {
    let cloud = start().await;
    let plain = cloud.call(Method::GET, "/compute/v2.1/servers", None).await;
    assert_eq!(plain.header("openstack-api-version"), Some("compute 2.1"));
    let latest = cloud
        .call_with(
            Method::GET,
            "/compute/v2.1/servers",
            None,
            &[("OpenStack-API-Version", "compute latest")],
        )
        .await;
    assert_eq!(latest.header("openstack-api-version"), Some("compute 2.96"));
    let too_new = cloud
        .call_with(
            Method::GET,
            "/compute/v2.1/servers",
            None,
            &[("OpenStack-API-Version", "compute 2.200")],
        )
        .await;
    assert_eq!(too_new.status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(
        too_new.body,
        json!({ "computeFault": { "code": 406, "message": "Version 2.200 is not supported by the API. Minimum is 2.1 and maximum is 2.96." } })
    );
    let versions = crate::sim_common::send(
        &cloud.http,
        Method::GET,
        &cloud.url("/compute/"),
        None,
        None,
        &[],
    )
    .await;
    assert_eq!(versions.status, StatusCode::OK);
    assert_eq!(versions.body["versions"][0]["id"], json!("v2.0"));
    assert_eq!(versions.body["versions"][0]["status"], json!("DEPRECATED"));
    assert_eq!(versions.body["versions"][1]["version"], json!("2.96"));
    assert_eq!(versions.body["versions"][1]["min_version"], json!("2.1"));
    cloud.handle.stop().await;
}

#[tokio::test]
async fn server_tags_and_metadata_apis() {
    let cloud = start().await;
    let token = cloud.token.clone();
    let (status, body) = boot(&cloud, &token, "tagged", "1").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["server"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // Tags cannot change while the server builds, as in Nova.
    let early = cloud
        .call_with(
            Method::PUT,
            &format!("/compute/v2.1/servers/{id}/tags/x"),
            None,
            &[MV],
        )
        .await;
    assert_eq!(early.status, StatusCode::CONFLICT);
    wait_for_status(&cloud, &token, &id, "ACTIVE").await;

    let added = cloud
        .call_with(
            Method::PUT,
            &format!("/compute/v2.1/servers/{id}/tags/env=prod"),
            None,
            &[MV],
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED);
    let again = cloud
        .call_with(
            Method::PUT,
            &format!("/compute/v2.1/servers/{id}/tags/env=prod"),
            None,
            &[MV],
        )
        .await;
    assert_eq!(again.status, StatusCode::NO_CONTENT);
    let tags = cloud
        .call_with(
            Method::GET,
            &format!("/compute/v2.1/servers/{id}/tags"),
            None,
            &[MV],
        )
        .await;
    assert_eq!(
        tags.body,
        json!({ "tags": ["owner=stackform", "env=prod"] })
    );
    let old_version = cloud
        .call(
            Method::GET,
            &format!("/compute/v2.1/servers/{id}/tags"),
            None,
        )
        .await;
    assert_eq!(old_version.status, StatusCode::NOT_FOUND);
    let removed = cloud
        .call_with(
            Method::DELETE,
            &format!("/compute/v2.1/servers/{id}/tags/nope"),
            None,
            &[MV],
        )
        .await;
    assert_eq!(removed.status, StatusCode::NOT_FOUND);

    let merged = cloud
        .call_with(
            Method::POST,
            &format!("/compute/v2.1/servers/{id}/metadata"),
            Some(json!({ "metadata": { "tier": "1" } })),
            &[MV],
        )
        .await;
    assert_eq!(
        merged.body,
        json!({ "metadata": { "role": "web", "tier": "1" } })
    );
    let replaced = cloud
        .call_with(
            Method::PUT,
            &format!("/compute/v2.1/servers/{id}/metadata"),
            Some(json!({ "metadata": { "only": "this" } })),
            &[MV],
        )
        .await;
    assert_eq!(replaced.body, json!({ "metadata": { "only": "this" } }));
    let quota = cloud
        .call(
            Method::PUT,
            &format!("/compute/v2.1/os-quota-sets/{}", cloud.admin_project_id),
            Some(json!({ "quota_set": { "metadata_items": 1 } })),
        )
        .await;
    assert_eq!(quota.status, StatusCode::OK);
    let too_many = cloud
        .call_with(
            Method::POST,
            &format!("/compute/v2.1/servers/{id}/metadata"),
            Some(json!({ "metadata": { "more": "x" } })),
            &[MV],
        )
        .await;
    assert_eq!(too_many.status, StatusCode::FORBIDDEN);
    assert_eq!(
        too_many.body,
        json!({ "forbidden": { "code": 403, "message": "Maximum number of metadata items exceeds 1" } })
    );
    cloud.handle.stop().await;
}

#[tokio::test]
async fn an_injected_build_failure_ends_in_error_with_a_fault() {
    let cloud = start().await;
    let token = cloud.token.clone();
    let inject = cloud
        .call(
            Method::POST,
            "/_sim/faults",
            Some(json!({ "fail_build": { "count": 1 } })),
        )
        .await;
    assert_eq!(inject.status, StatusCode::NO_CONTENT);
    let (status, body) = boot(&cloud, &token, "doomed", "1").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["server"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let failed = wait_for_status(&cloud, &token, &id, "ERROR").await;
    assert_eq!(failed["OS-EXT-STS:vm_state"], json!("error"));
    assert_eq!(failed["OS-EXT-STS:task_state"], Value::Null);
    assert_eq!(failed["fault"]["code"], json!(500));
    assert_eq!(
        failed["fault"]["message"],
        json!("No valid host was found. There are not enough hosts available.")
    );
    // Only one build was to fail.
    let (status, body) = boot(&cloud, &token, "fine", "1").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["server"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let active = wait_for_status(&cloud, &token, &id, "ACTIVE").await;
    assert!(active.get("fault").is_none());
    cloud.handle.stop().await;
}
