//! Keystone v3 of the embedded cloud, driven over raw HTTP.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::sim_common::{password_token, send, start};

/// (service type, service name, sorted (interface, url) endpoints)
type CatalogEntry = (String, String, Vec<(String, String)>);

#[tokio::test]
async fn token_issue_answers_201_with_subject_token_and_full_catalog() {
    let cloud = start().await;
    let base = cloud.handle.base_url.clone();
    let reply = password_token(
        &cloud.http,
        &base,
        "admin",
        stackform::sim::ADMIN_PASSWORD,
        Some("admin"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let subject = reply.header("x-subject-token").unwrap_or_default();
    assert_eq!(subject.len(), 32);
    assert!(subject.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(
        reply
            .header("x-openstack-request-id")
            .unwrap_or_default()
            .starts_with("req-")
    );
    let token = &reply.body["token"];
    assert_eq!(token["methods"], json!(["password"]));
    assert_eq!(token["user"]["name"], json!("admin"));
    assert_eq!(
        token["user"]["domain"],
        json!({ "id": "default", "name": "Default" })
    );
    assert_eq!(token["project"]["name"], json!("admin"));
    let project = token["project"]["id"].as_str().unwrap_or_default();
    assert_eq!(
        token["project"]["domain"],
        json!({ "id": "default", "name": "Default" })
    );
    assert_eq!(token["roles"].as_array().map(Vec::len), Some(1));
    assert_eq!(token["roles"][0]["name"], json!("admin"));
    assert_eq!(token["audit_ids"][0].as_str().map(str::len), Some(22));
    assert!(
        token["expires_at"]
            .as_str()
            .unwrap_or_default()
            .ends_with('Z')
    );

    let catalog = token["catalog"].as_array().cloned().unwrap_or_default();
    let mut seen: Vec<CatalogEntry> = catalog
        .iter()
        .map(|service| {
            let mut endpoints: Vec<(String, String)> = service["endpoints"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|e| {
                    assert_eq!(e["region"], json!("RegionOne"));
                    assert_eq!(e["region_id"], json!("RegionOne"));
                    (
                        e["interface"].as_str().unwrap_or_default().to_string(),
                        e["url"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            endpoints.sort();
            (
                service["type"].as_str().unwrap_or_default().to_string(),
                service["name"].as_str().unwrap_or_default().to_string(),
                endpoints,
            )
        })
        .collect();
    seen.sort();
    let expect = |kind: &str, name: &str, url: String| {
        (
            kind.to_string(),
            name.to_string(),
            vec![
                ("admin".to_string(), url.clone()),
                ("internal".to_string(), url.clone()),
                ("public".to_string(), url),
            ],
        )
    };
    assert_eq!(
        seen,
        vec![
            // Cinder's URL carries the token's project, as Keystone fills `%(project_id)s`.
            expect(
                "block-storage",
                "cinder",
                format!("{base}/volume/v3/{project}")
            ),
            expect("compute", "nova", format!("{base}/compute/v2.1")),
            expect("identity", "keystone", format!("{base}/identity")),
            expect("image", "glance", format!("{base}/image")),
            expect("network", "neutron", format!("{base}/networking")),
            expect(
                "volumev3",
                "cinderv3",
                format!("{base}/volume/v3/{project}")
            ),
        ]
    );

    // Validation with X-Subject-Token, then revocation.
    let check = cloud
        .call_with(
            Method::GET,
            "/identity/v3/auth/tokens",
            None,
            &[("X-Subject-Token", subject)],
        )
        .await;
    assert_eq!(check.status, StatusCode::OK);
    assert_eq!(check.body["token"]["project"]["name"], json!("admin"));
    let revoke = cloud
        .call_with(
            Method::DELETE,
            "/identity/v3/auth/tokens",
            None,
            &[("X-Subject-Token", subject)],
        )
        .await;
    assert_eq!(revoke.status, StatusCode::NO_CONTENT);
    let gone = cloud
        .call_with(
            Method::GET,
            "/identity/v3/auth/tokens",
            None,
            &[("X-Subject-Token", subject)],
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.body["error"]["code"], json!(404));
    cloud.handle.stop().await;
}

#[tokio::test]
async fn bad_password_is_401_in_keystones_shape() {
    let cloud = start().await;
    let reply = password_token(
        &cloud.http,
        &cloud.handle.base_url,
        "admin",
        "wrong",
        Some("admin"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.body,
        json!({ "error": { "code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication." } })
    );
    assert_eq!(
        reply.header("www-authenticate"),
        Some(format!("Keystone uri=\"{}/identity\"", cloud.handle.base_url).as_str())
    );
    assert!(reply.header("x-subject-token").is_none());
    cloud.handle.stop().await;
}

#[tokio::test]
async fn a_missing_token_on_compute_is_401_from_the_auth_middleware() {
    let cloud = start().await;
    let reply = send(
        &cloud.http,
        Method::GET,
        &cloud.url("/compute/v2.1/servers"),
        None,
        None,
        &[],
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.body["error"]["code"], json!(401));
    assert_eq!(reply.body["error"]["title"], json!("Unauthorized"));
    assert!(
        reply
            .header("www-authenticate")
            .unwrap_or_default()
            .starts_with("Keystone uri=")
    );
    let bogus = send(
        &cloud.http,
        Method::GET,
        &cloud.url("/compute/v2.1/servers"),
        Some("0123abcd"),
        None,
        &[],
    )
    .await;
    assert_eq!(bogus.status, StatusCode::UNAUTHORIZED);
    cloud.handle.stop().await;
}

#[tokio::test]
async fn version_documents_point_at_this_cloud() {
    let cloud = start().await;
    let root = send(
        &cloud.http,
        Method::GET,
        &cloud.url("/identity"),
        None,
        None,
        &[],
    )
    .await;
    assert_eq!(root.status, StatusCode::MULTIPLE_CHOICES);
    assert_eq!(root.body["versions"]["values"][0]["id"], json!("v3.14"));
    assert_eq!(
        root.body["versions"]["values"][0]["status"],
        json!("stable")
    );
    let v3 = send(
        &cloud.http,
        Method::GET,
        &cloud.url("/identity/v3"),
        None,
        None,
        &[],
    )
    .await;
    assert_eq!(v3.status, StatusCode::OK);
    assert_eq!(
        v3.body["version"]["links"][0]["href"],
        json!(format!("{}/identity/v3/", cloud.handle.base_url))
    );
    cloud.handle.stop().await;
}

#[tokio::test]
async fn project_crud_with_tags_and_unique_names() {
    let cloud = start().await;
    let created = cloud
        .call(
            Method::POST,
            "/identity/v3/projects",
            Some(json!({ "project": { "name": "demo", "description": "Demo", "tags": ["owner=stackform", "env=dev"] } })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let project = &created.body["project"];
    let id = project["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(project["name"], json!("demo"));
    assert_eq!(project["domain_id"], json!("default"));
    assert_eq!(project["parent_id"], json!("default"));
    assert_eq!(project["enabled"], json!(true));
    assert_eq!(project["is_domain"], json!(false));
    assert_eq!(project["tags"], json!(["owner=stackform", "env=dev"]));
    assert_eq!(
        project["links"]["self"],
        json!(format!(
            "{}/identity/v3/projects/{id}",
            cloud.handle.base_url
        ))
    );

    let duplicate = cloud
        .call(
            Method::POST,
            "/identity/v3/projects",
            Some(json!({ "project": { "name": "demo" } })),
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    assert_eq!(
        duplicate.body,
        json!({ "error": {
            "code": 409,
            "title": "Conflict",
            "message": "Conflict occurred attempting to store project - it is not permitted to have two projects with the same name in the same domain : demo."
        } })
    );

    let filtered = cloud
        .call(
            Method::GET,
            "/identity/v3/projects?tags=owner%3Dstackform",
            None,
        )
        .await;
    assert_eq!(filtered.status, StatusCode::OK);
    let names: Vec<Value> = filtered.body["projects"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|p| p["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("demo")]);
    assert_eq!(filtered.body["links"]["next"], Value::Null);
    let by_name = cloud
        .call(Method::GET, "/identity/v3/projects?name=admin", None)
        .await;
    assert_eq!(by_name.body["projects"].as_array().map(Vec::len), Some(1));

    let add = cloud
        .call(
            Method::PUT,
            &format!("/identity/v3/projects/{id}/tags/team=a"),
            None,
        )
        .await;
    assert_eq!(add.status, StatusCode::CREATED);
    let has = cloud
        .call(
            Method::GET,
            &format!("/identity/v3/projects/{id}/tags/team=a"),
            None,
        )
        .await;
    assert_eq!(has.status, StatusCode::NO_CONTENT);
    let tags = cloud
        .call(
            Method::GET,
            &format!("/identity/v3/projects/{id}/tags"),
            None,
        )
        .await;
    assert_eq!(
        tags.body,
        json!({
            "tags": ["owner=stackform", "env=dev", "team=a"],
            "links": { "self": cloud.url("/identity/v3") },
        })
    );
    let removed = cloud
        .call(
            Method::DELETE,
            &format!("/identity/v3/projects/{id}/tags/env=dev"),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let replaced = cloud
        .call(
            Method::PUT,
            &format!("/identity/v3/projects/{id}/tags"),
            Some(json!({ "tags": ["x"] })),
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK);
    assert_eq!(
        replaced.body,
        json!({ "tags": ["x"], "links": { "self": cloud.url("/identity/v3") } })
    );
    let missing_tag = cloud
        .call(
            Method::GET,
            &format!("/identity/v3/projects/{id}/tags/team=a"),
            None,
        )
        .await;
    assert_eq!(missing_tag.status, StatusCode::NOT_FOUND);

    let updated = cloud
        .call(
            Method::PATCH,
            &format!("/identity/v3/projects/{id}"),
            Some(json!({ "project": { "description": "Changed", "enabled": false } })),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK);
    assert_eq!(updated.body["project"]["description"], json!("Changed"));
    assert_eq!(updated.body["project"]["enabled"], json!(false));

    let deleted = cloud
        .call(Method::DELETE, &format!("/identity/v3/projects/{id}"), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let shown = cloud
        .call(Method::GET, &format!("/identity/v3/projects/{id}"), None)
        .await;
    assert_eq!(shown.status, StatusCode::NOT_FOUND);
    assert_eq!(
        shown.body,
        json!({ "error": { "code": 404, "title": "Not Found", "message": format!("Could not find project: {id}.") } })
    );
    cloud.handle.stop().await;
}

#[tokio::test]
async fn a_role_grant_opens_project_scoped_tokens() {
    let cloud = start().await;
    let base = cloud.handle.base_url.clone();
    let project = cloud
        .call(
            Method::POST,
            "/identity/v3/projects",
            Some(json!({ "project": { "name": "team" } })),
        )
        .await;
    let project_id = project.body["project"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let user = cloud
        .call(
            Method::POST,
            "/identity/v3/users",
            Some(json!({ "user": { "name": "alice", "password": "pw-alice" } })),
        )
        .await;
    assert_eq!(user.status, StatusCode::CREATED);
    assert_eq!(user.body["user"]["domain_id"], json!("default"));
    assert!(user.body["user"].get("password").is_none());
    let user_id = user.body["user"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let before = password_token(&cloud.http, &base, "alice", "pw-alice", Some("team")).await;
    assert_eq!(before.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        before.body["error"]["message"],
        json!(format!(
            "User {user_id} has no access to project {project_id}"
        ))
    );

    let member = cloud.role_id("member").await;
    let grant_path = format!("/identity/v3/projects/{project_id}/users/{user_id}/roles/{member}");
    let grant = cloud.call(Method::PUT, &grant_path, None).await;
    assert_eq!(grant.status, StatusCode::NO_CONTENT);
    assert_eq!(grant.body, Value::Null);
    let check = cloud.call(Method::HEAD, &grant_path, None).await;
    assert_eq!(check.status, StatusCode::NO_CONTENT);

    let after = password_token(&cloud.http, &base, "alice", "pw-alice", Some("team")).await;
    assert_eq!(after.status, StatusCode::CREATED);
    assert_eq!(after.body["token"]["roles"][0]["name"], json!("member"));
    assert_eq!(after.body["token"]["project"]["id"], json!(project_id));
    let alice = after
        .header("x-subject-token")
        .unwrap_or_default()
        .to_string();

    // A member may validate its own token, not the admin's.
    let own = cloud
        .call_as(
            &alice,
            Method::GET,
            "/identity/v3/auth/tokens",
            None,
            &[("X-Subject-Token", alice.as_str())],
        )
        .await;
    assert_eq!(own.status, StatusCode::OK);
    let admins = cloud
        .call_as(
            &alice,
            Method::GET,
            "/identity/v3/auth/tokens",
            None,
            &[("X-Subject-Token", cloud.token.as_str())],
        )
        .await;
    assert_eq!(admins.status, StatusCode::FORBIDDEN);
    assert_eq!(
        admins.body["error"]["message"],
        json!("You are not authorized to perform the requested action: identity:validate_token.")
    );

    let mine = cloud
        .call_as(&alice, Method::GET, "/identity/v3/auth/projects", None, &[])
        .await;
    assert_eq!(mine.status, StatusCode::OK);
    assert_eq!(mine.body["projects"][0]["name"], json!("team"));
    assert_eq!(mine.body["projects"].as_array().map(Vec::len), Some(1));

    // A member may not manage projects.
    let forbidden = cloud
        .call_as(
            &alice,
            Method::POST,
            "/identity/v3/projects",
            Some(json!({ "project": { "name": "x" } })),
            &[],
        )
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(
        forbidden.body["error"]["message"],
        json!("You are not authorized to perform the requested action: identity:create_project.")
    );

    let assignments = cloud
        .call(
            Method::GET,
            &format!("/identity/v3/role_assignments?user.id={user_id}&include_names=1"),
            None,
        )
        .await;
    assert_eq!(assignments.status, StatusCode::OK);
    let entry = &assignments.body["role_assignments"][0];
    assert_eq!(entry["role"], json!({ "id": member, "name": "member" }));
    assert_eq!(entry["scope"]["project"]["id"], json!(project_id));
    assert_eq!(entry["scope"]["project"]["name"], json!("team"));
    assert_eq!(entry["user"]["name"], json!("alice"));
    assert_eq!(
        assignments.body["role_assignments"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // A new password replaces the old one.
    let changed = cloud
        .call(
            Method::PATCH,
            &format!("/identity/v3/users/{user_id}"),
            Some(json!({ "user": { "password": "pw-new", "email": "a@example.org" } })),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(changed.body["user"]["email"], json!("a@example.org"));
    let old = password_token(&cloud.http, &base, "alice", "pw-alice", Some("team")).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let new = password_token(&cloud.http, &base, "alice", "pw-new", Some("team")).await;
    assert_eq!(new.status, StatusCode::CREATED);

    // Revoking the grant invalidates the scoped token at once.
    let revoke = cloud.call(Method::DELETE, &grant_path, None).await;
    assert_eq!(revoke.status, StatusCode::NO_CONTENT);
    let stale = cloud
        .call_as(&alice, Method::GET, "/identity/v3/auth/projects", None, &[])
        .await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED);
    cloud.handle.stop().await;
}
