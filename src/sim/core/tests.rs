//! Unit tests of the core: error shapes, persistence.

use std::path::Path;

use serde_json::{Value, json};

use super::*;

#[test]
fn compute_fault_names_follow_the_status() {
    let cases = [
        (StatusCode::BAD_REQUEST, "badRequest"),
        (StatusCode::FORBIDDEN, "forbidden"),
        (StatusCode::NOT_FOUND, "itemNotFound"),
        (StatusCode::METHOD_NOT_ALLOWED, "badMethod"),
        (StatusCode::CONFLICT, "conflictingRequest"),
        (StatusCode::PAYLOAD_TOO_LARGE, "overLimit"),
        (StatusCode::NOT_ACCEPTABLE, "computeFault"),
        (StatusCode::SERVICE_UNAVAILABLE, "serviceUnavailable"),
    ];
    for (status, name) in cases {
        let body = Fault::new(Service::Compute, status, "m").body();
        assert_eq!(
            body,
            json!({ name: { "code": status.as_u16(), "message": "m" } })
        );
    }
}

#[test]
fn each_service_has_its_own_error_shape() {
    assert_eq!(
        Fault::neutron(
            StatusCode::NOT_FOUND,
            "NetworkNotFound",
            "Network x could not be found."
        )
        .body(),
        json!({ "NeutronError": { "type": "NetworkNotFound", "message": "Network x could not be found.", "detail": "" } })
    );
    assert_eq!(
        Fault::not_found(Service::Identity, "Could not find project: p.").body(),
        json!({ "error": { "code": 404, "title": "Not Found", "message": "Could not find project: p." } })
    );
    assert_eq!(
        Fault::not_found(Service::Image, "No image found with ID i").body(),
        json!({ "message": "No image found with ID i<br /><br />\n\n\n", "code": "404 Not Found", "title": "Not Found" })
    );
    // keystonemiddleware answers a bad token before the service: Keystone's shape for all.
    assert_eq!(
        Fault::unauthorized(Service::Compute).body(),
        json!({ "error": { "code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication." } })
    );
}

// ---- persistence: the journal -------------------------------------------------------------

/// A cloud served on loopback from `dir`, with an admin token.
struct Served {
    handle: SimHandle,
    http: reqwest::Client,
    token: String,
}

async fn serve(config: SimConfig) -> Served {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let handle = Sim::start_on_loopback(config)
        .await
        .unwrap_or_else(|err| panic!("cannot start: {err}"));
    let http = reqwest::Client::new();
    let auth = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": ADMIN_USER, "domain": {"name": "Default"}, "password": ADMIN_PASSWORD}}},
        "scope": {"project": {"name": ADMIN_PROJECT, "domain": {"name": "Default"}}}}});
    let reply = http
        .post(format!("{}/identity/v3/auth/tokens", handle.base_url))
        .json(&auth)
        .send()
        .await
        .unwrap_or_else(|err| panic!("no token: {err}"));
    let token = reply
        .headers()
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    Served {
        handle,
        http,
        token,
    }
}

fn in_dir(dir: &Path) -> SimConfig {
    SimConfig {
        data_dir: Some(dir.to_path_buf()),
        ..SimConfig::default()
    }
}

impl Served {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.handle.base_url))
            .header("x-auth-token", &self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = request
            .send()
            .await
            .unwrap_or_else(|err| panic!("{path}: {err}"));
        let status = reply.status().as_u16();
        (status, reply.json().await.unwrap_or(Value::Null))
    }

    async fn create_network(&self, name: &str) -> String {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/networking/v2.0/networks",
                Some(json!({"network": {"name": name}})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["network"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn network_names(&self) -> Vec<String> {
        let (_, body) = self
            .call(reqwest::Method::GET, "/networking/v2.0/networks", None)
            .await;
        let mut names: Vec<String> = body["networks"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|n| n["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

/// What a kill -9 leaves: the files as they are on disk (in the page cache) right now.
fn copy_as_killed(from: &Path, to: &Path) {
    for name in [
        journal::STATE_FILE,
        journal::JOURNAL_FILE,
        journal::NEXT_JOURNAL_FILE,
    ] {
        if from.join(name).exists() {
            std::fs::copy(from.join(name), to.join(name))
                .unwrap_or_else(|err| panic!("cannot copy {name}: {err}"));
        }
    }
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[tokio::test]
async fn every_acknowledged_write_survives_a_kill() {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("no temp dir: {err}"));
    let cloud = serve(in_dir(dir.path())).await;
    let kept = cloud.create_network("kept").await;
    cloud.create_network("deleted").await;
    let deleted = cloud.create_network("deleted-too").await;
    let (status, _) = cloud
        .call(
            reqwest::Method::DELETE,
            &format!("/networking/v2.0/networks/{deleted}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = cloud
        .call(
            reqwest::Method::PUT,
            &format!("/networking/v2.0/networks/{kept}"),
            Some(json!({"network": {"name": "renamed"}})),
        )
        .await;
    assert_eq!(status, 200);

    // No clean stop: reopen what a killed process would have left.
    let after_kill = tempfile::tempdir().unwrap_or_else(|err| panic!("no temp dir: {err}"));
    copy_as_killed(dir.path(), after_kill.path());
    let reopened = serve(in_dir(after_kill.path())).await;
    assert_eq!(
        reopened.network_names().await,
        ["deleted", "public", "renamed"]
    );
    // Opening folded the journal into the snapshot (the new journal holds the token since).
    let snapshot =
        std::fs::read_to_string(after_kill.path().join(journal::STATE_FILE)).unwrap_or_default();
    assert!(snapshot.contains("\"renamed\""));
    let journal =
        std::fs::read_to_string(after_kill.path().join(journal::JOURNAL_FILE)).unwrap_or_default();
    assert!(!journal.contains("\"renamed\""), "{journal}");
    reopened.handle.stop().await;
    cloud.handle.stop().await;
}

#[tokio::test]
async fn a_write_journals_what_it_changed_not_the_world() {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("no temp dir: {err}"));
    let cloud = serve(in_dir(dir.path())).await;
    let journal = dir.path().join(journal::JOURNAL_FILE);
    let growth_of_one_create = |before: u64| size(&journal) - before;

    let before = size(&journal);
    cloud.create_network("small-world").await;
    let small = growth_of_one_create(before);
    for index in 0..90 {
        cloud.create_network(&format!("filler-{index}")).await;
    }
    let before = size(&journal);
    cloud.create_network("larger-world").await;
    let large = growth_of_one_create(before);

    assert!(small > 0, "the write reached the journal before its answer");
    assert!(
        large < 2 * small,
        "one create journaled {small} bytes in a small cloud and {large} in a larger one"
    );
    cloud.handle.stop().await;
    // A clean stop leaves the snapshot only.
    assert!(!journal.exists());
    assert!(size(&dir.path().join(journal::STATE_FILE)) > 90 * small / 2);
}

#[tokio::test]
async fn compactions_leave_a_world_that_opens() {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("no temp dir: {err}"));
    // Every write is over this threshold: each starts a compaction unless one is running.
    journal::compact_after(1);
    let cloud = serve(in_dir(dir.path())).await;
    journal::compact_after(0);
    let mut expected = vec!["public".to_string()];
    for index in 0..40 {
        let name = format!("n{index:02}");
        cloud.create_network(&name).await;
        expected.push(name);
    }
    expected.sort();
    // Let the last compaction finish writing: a kill mid-rename is covered by replaying both
    // journals, but a copy made file by file is not a kill.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let snapshot =
        std::fs::read_to_string(dir.path().join(journal::STATE_FILE)).unwrap_or_default();
    assert!(
        snapshot.contains("\"n00\""),
        "compactions ran while serving"
    );
    let after_kill = tempfile::tempdir().unwrap_or_else(|err| panic!("no temp dir: {err}"));
    copy_as_killed(dir.path(), after_kill.path());
    let reopened = serve(in_dir(after_kill.path())).await;
    assert_eq!(reopened.network_names().await, expected);
    reopened.handle.stop().await;

    cloud.handle.stop().await;
    let again = serve(in_dir(dir.path())).await;
    assert_eq!(again.network_names().await, expected);
    again.handle.stop().await;
}

#[tokio::test]
async fn a_cut_short_last_line_is_ignored_on_open() {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("no temp dir: {err}"));
    let cloud = serve(in_dir(dir.path())).await;
    cloud.create_network("whole").await;
    let after_kill = tempfile::tempdir().unwrap_or_else(|err| panic!("no temp dir: {err}"));
    copy_as_killed(dir.path(), after_kill.path());
    cloud.handle.stop().await;
    let mut journal = std::fs::OpenOptions::new()
        .append(true)
        .open(after_kill.path().join(journal::JOURNAL_FILE))
        .unwrap_or_else(|err| panic!("no journal: {err}"));
    journal
        .write_all(b"{\"rows\":[[\"network.networks\",\"x\",{\"me")
        .unwrap_or_else(|err| panic!("cannot write: {err}"));
    let reopened = serve(in_dir(after_kill.path())).await;
    assert_eq!(reopened.network_names().await, ["public", "whole"]);
    reopened.handle.stop().await;
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("no temp dir: {err}"));
    let cloud = serve(in_dir(dir.path())).await;
    cloud.create_network("n").await;
    for name in [journal::STATE_FILE, journal::JOURNAL_FILE] {
        let mode = std::fs::metadata(dir.path().join(name))
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or_default();
        assert_eq!(mode, 0o600, "{name}");
    }
    cloud.handle.stop().await;
}

#[tokio::test]
async fn the_request_log_is_capped_and_its_totals_are_not() {
    let cloud = serve(SimConfig {
        request_log_limit: 2,
        ..SimConfig::default()
    })
    .await;
    for _ in 0..4 {
        cloud
            .call(reqwest::Method::GET, "/networking/v2.0/networks", None)
            .await;
    }
    cloud.create_network("n").await;
    let (status, log) = cloud
        .call(reqwest::Method::GET, "/_sim/requests", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(log["requests"].as_array().map(Vec::len), Some(2));
    // The token request counts too.
    assert_eq!(log["total"], json!(6));
    assert_eq!(log["by_method"], json!({"GET": 4, "POST": 2}));
    cloud.handle.stop().await;
}
