//! What every test against a real OpenStack cloud shares: the `REAL_OS_OPENRC` gate (the path
//! of an openrc file; unset means "not run", except under CI where it is a failure), parsing
//! that openrc into OS_* pairs, unique per-run names, and the idempotent admin setup the
//! scenarios need (an external network, flavors, an image), done once per test binary.

use reqwest::Method;
use serde_json::{Value, json};

use crate::cloud_api::CloudApi;

/// The external network the setup provides (a vlan network on physnet `public`).
pub const EXTERNAL_NETWORK: &str = "sf-ext";
const EXTERNAL_SUBNET: &str = "sf-ext-subnet";
const EXTERNAL_CIDR: &str = "172.24.4.0/24";
pub const FLAVOR: &str = "m1.small";
/// A flavor no host can take (100 TB of RAM): its servers end in ERROR, "No valid host".
pub const UNSCHEDULABLE_FLAVOR: &str = "sf-unschedulable";
pub const IMAGE: &str = "cirros";

/// The OS_* pairs of the real cloud, or None (after saying so) when it is not configured.
/// Under CI an unconfigured real cloud is a failure: CI must never skip silently.
pub fn real_cloud_env() -> Option<Vec<(String, String)>> {
    let Some(path) = std::env::var_os("REAL_OS_OPENRC") else {
        if std::env::var_os("CI").is_some() {
            panic!("real OpenStack not configured (REAL_OS_OPENRC unset) under CI");
        }
        println!("real OpenStack not configured (REAL_OS_OPENRC unset): not run");
        return None;
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "REAL_OS_OPENRC={}: cannot read it: {e}",
            path.to_string_lossy()
        )
    });
    let env = parse_openrc(&text);
    assert!(
        env.iter().any(|(k, _)| k == "OS_AUTH_URL"),
        "REAL_OS_OPENRC={}: no OS_AUTH_URL in it",
        path.to_string_lossy()
    );
    Some(env)
}

/// The `K=V` pairs of an openrc's `export` lines (several pairs per line allowed, values
/// optionally quoted); comments and other lines are ignored.
pub fn parse_openrc(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("export ") else {
            continue;
        };
        for word in split_words(rest) {
            if let Some((k, v)) = word.split_once('=') {
                pairs.push((k.to_string(), v.to_string()));
            }
        }
    }
    pairs
}

/// Splits on whitespace outside quotes and removes the quotes (no escapes: openrc values
/// are plain), stopping at a `#` comment.
fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '#') if !in_word => break,
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// A name unique to this run: `{prefix}-{8 hex}`.
pub fn unique_name(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &id[..8])
}

/// Serialises the setup between tests of one binary (each test has its own runtime, so a
/// runtime-independent async mutex).
static SETUP_DONE: tokio::sync::Mutex<bool> = tokio::sync::Mutex::const_new(false);

/// Makes sure the cloud has what the scenarios need, as an admin would have set it up:
/// reuses what exists, creates what is missing.
pub async fn ensure_admin_setup(admin: &CloudApi) {
    let mut done = SETUP_DONE.lock().await;
    if *done {
        return;
    }
    ensure_external_network(admin).await;
    ensure_flavors(admin).await;
    ensure_image(admin).await;
    *done = true;
}

async fn ensure_external_network(admin: &CloudApi) {
    let existing = admin
        .list(
            "network",
            &format!("/networks?name={EXTERNAL_NETWORK}&router:external=true"),
            "networks",
        )
        .await;
    let network_id = match existing.first() {
        Some(net) => id_of(net),
        None => create_external_network(admin).await,
    };
    let subnets = admin
        .list(
            "network",
            &format!("/subnets?network_id={network_id}"),
            "subnets",
        )
        .await;
    if subnets.is_empty() {
        admin
            .send(
                Method::POST,
                "network",
                "/subnets",
                json!({"subnet": {
                    "name": EXTERNAL_SUBNET,
                    "network_id": network_id,
                    "ip_version": 4,
                    "cidr": EXTERNAL_CIDR,
                    "enable_dhcp": false,
                }}),
                &[201],
            )
            .await;
    }
}

/// A vlan network on physnet `public`: the segment is random in 3000..3999 and retried when
/// another network holds it (409), since the cloud is shared.
async fn create_external_network(admin: &CloudApi) -> String {
    for _ in 0..10 {
        let segment = 3000 + (uuid::Uuid::new_v4().as_u128() % 1000) as u64;
        let (status, body) = admin
            .request(
                Method::POST,
                "network",
                "/networks",
                Some(json!({"network": {
                    "name": EXTERNAL_NETWORK,
                    "router:external": true,
                    "provider:network_type": "vlan",
                    "provider:physical_network": "public",
                    "provider:segmentation_id": segment,
                }})),
            )
            .await;
        match status {
            201 => return id_of(&body["network"]),
            409 => continue,
            _ => panic!("creating {EXTERNAL_NETWORK}: {status} {body}"),
        }
    }
    panic!("no free vlan segment in 3000..3999 after 10 tries");
}

async fn ensure_flavors(admin: &CloudApi) {
    let flavors = admin.list("compute", "/flavors/detail", "flavors").await;
    for (name, ram_mib) in [(FLAVOR, 512_u64), (UNSCHEDULABLE_FLAVOR, 100_000_000)] {
        if flavors.iter().any(|f| f["name"] == name) {
            continue;
        }
        admin
            .send(
                Method::POST,
                "compute",
                "/flavors",
                json!({"flavor": {"name": name, "vcpus": 1, "ram": ram_mib, "disk": 1}}),
                &[200],
            )
            .await;
    }
}

async fn ensure_image(admin: &CloudApi) {
    let images = admin
        .list("image", &format!("/images?name={IMAGE}"), "images")
        .await;
    if images.iter().any(|i| i["status"] == "active") {
        return;
    }
    // An image left `queued` by an interrupted setup only lacks its data.
    let image_id = match images.iter().find(|i| i["status"] == "queued") {
        Some(queued) => id_of(queued),
        None => {
            let created = admin
                .send(
                    Method::POST,
                    "image",
                    "/images",
                    json!({"name": IMAGE, "disk_format": "raw",
                           "container_format": "bare", "visibility": "public"}),
                    &[201],
                )
                .await;
            id_of(&created)
        }
    };
    let data: Vec<u8> = (0..6 * 1024).map(|i| (i % 251) as u8).collect();
    let status = admin
        .put_bytes("image", &format!("/images/{image_id}/file"), data)
        .await;
    assert_eq!(status, 204, "uploading the {IMAGE} image data");
    let image = admin.get("image", &format!("/images/{image_id}")).await;
    assert_eq!(image["status"], "active", "{image}");
}

fn id_of(item: &Value) -> String {
    item["id"].as_str().unwrap_or_default().to_string()
}

#[test]
fn openrc_pairs_are_parsed_with_several_per_line_and_quotes() {
    let text = "# source run/openrc\n\
        export OS_AUTH_URL=http://127.0.0.1:5000/v3 OS_IDENTITY_API_VERSION=3\n\
        export OS_USERNAME=admin OS_PASSWORD='se cret'  # trailing comment\n\
        export OS_PROJECT_NAME=\"admin\"\n\
        unset OS_CLOUD\n";
    let pairs = parse_openrc(text);
    let expected = [
        ("OS_AUTH_URL", "http://127.0.0.1:5000/v3"),
        ("OS_IDENTITY_API_VERSION", "3"),
        ("OS_USERNAME", "admin"),
        ("OS_PASSWORD", "se cret"),
        ("OS_PROJECT_NAME", "admin"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    assert_eq!(pairs, expected);
}

#[test]
fn unique_names_carry_eight_hex_digits() {
    let a = unique_name("sf");
    let b = unique_name("sf");
    assert_ne!(a, b);
    assert_eq!(a.len(), 11, "{a}");
    assert!(a[3..].chars().all(|c| c.is_ascii_hexdigit()), "{a}");
}

/// Admin credentials of the real cloud, read from its openrc (for tests that speak raw HTTP).
pub struct RealCloud {
    pub auth_url: String,
    pub user: String,
    pub password: String,
    pub project: String,
    pub user_domain: String,
    pub project_domain: String,
}

impl std::fmt::Debug for RealCloud {
    // The password stays out of test output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealCloud")
            .field("auth_url", &self.auth_url)
            .field("user", &self.user)
            .field("project", &self.project)
            .finish_non_exhaustive()
    }
}

/// `Some` when the real cloud is configured; the same gate as [`real_cloud_env`].
pub fn real_cloud() -> Option<RealCloud> {
    let env = real_cloud_env()?;
    let get = |key: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let required =
        |key: &str| get(key).unwrap_or_else(|| panic!("{key} missing from REAL_OS_OPENRC"));
    Some(RealCloud {
        auth_url: required("OS_AUTH_URL"),
        user: required("OS_USERNAME"),
        password: required("OS_PASSWORD"),
        project: required("OS_PROJECT_NAME"),
        user_domain: get("OS_USER_DOMAIN_NAME").unwrap_or_else(|| "Default".into()),
        project_domain: get("OS_PROJECT_DOMAIN_NAME").unwrap_or_else(|| "Default".into()),
    })
}
