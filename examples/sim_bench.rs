//! How the embedded cloud holds up at 10,000 objects: seeds a cloud in-process (through its
//! HTTP API, as any client would) over 100 projects, then times one-project lists and writes,
//! and how many bytes each write sends to the data folder.
//!
//! `cargo run --release --example sim_bench [-- PROJECTS]`

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stackform::sim::{ADMIN_PASSWORD, ADMIN_PROJECT, ADMIN_USER, Sim, SimConfig};

/// The allocator of the `stackform` binary, so the figures are its own.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Failure = Box<dyn std::error::Error>;

/// Objects each project gets; with the groups' automatic rules and the servers' ports this is
/// about 100 Neutron/Nova objects per project.
const GROUPS_PER_PROJECT: usize = 10;
const RULES_PER_GROUP: usize = 5;
const PORTS_PER_PROJECT: usize = 20;
const SERVERS_PER_PROJECT: usize = 2;
const SAMPLES: usize = 200;

struct Cloud {
    http: reqwest::Client,
    base: String,
}

struct Tenant {
    project_id: String,
    token: String,
    network_id: String,
    group_id: String,
}

impl Cloud {
    async fn token(&self, user: &str, password: &str, project: &str) -> Result<String, Failure> {
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"name": "Default"}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}});
        let reply = self
            .http
            .post(format!("{}/identity/v3/auth/tokens", self.base))
            .json(&body)
            .send()
            .await?
            .error_for_status()?;
        let token = reply
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .ok_or("no token")?;
        Ok(token.to_string())
    }

    async fn call(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Failure> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("x-auth-token", token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = request.send().await?;
        let status = reply.status();
        let text = reply.text().await?;
        if !status.is_success() {
            return Err(format!("{path}: {status} {text}").into());
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn post(&self, token: &str, path: &str, body: Value) -> Result<Value, Failure> {
        self.call(token, reqwest::Method::POST, path, Some(body))
            .await
    }

    async fn get(&self, token: &str, path: &str) -> Result<Value, Failure> {
        self.call(token, reqwest::Method::GET, path, None).await
    }
}

fn id(value: &Value, key: &str) -> Result<String, Failure> {
    value[key]["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("no {key}.id in {value}").into())
}

async fn seed_project(
    cloud: &Cloud,
    admin: &str,
    index: usize,
    member_role: &str,
) -> Result<Tenant, Failure> {
    let name = format!("bench-{index}");
    let project = cloud
        .post(
            admin,
            "/identity/v3/projects",
            json!({"project": {"name": name, "domain_id": "default"}}),
        )
        .await?;
    let project_id = id(&project, "project")?;
    let user = cloud
        .post(
            admin,
            "/identity/v3/users",
            json!({"user": {"name": name, "password": "secret", "domain_id": "default",
                "default_project_id": project_id}}),
        )
        .await?;
    let user_id = id(&user, "user")?;
    unlimited_quotas(cloud, admin, &project_id).await?;
    cloud
        .call(
            admin,
            reqwest::Method::PUT,
            &format!("/identity/v3/projects/{project_id}/users/{user_id}/roles/{member_role}"),
            None,
        )
        .await?;
    let token = cloud.token(&name, "secret", &name).await?;
    let lineage = format!("stackform-lineage:{index}");
    let network = cloud
        .post(
            &token,
            "/networking/v2.0/networks",
            json!({"network": {"name": "net", "tags": [lineage]}}),
        )
        .await?;
    let network_id = id(&network, "network")?;
    cloud
        .post(
            &token,
            "/networking/v2.0/subnets",
            json!({"subnet": {"network_id": network_id, "ip_version": 4,
                "cidr": "10.0.0.0/16", "name": "sub"}}),
        )
        .await?;
    let mut group_id = String::new();
    for g in 0..GROUPS_PER_PROJECT {
        let group = cloud
            .post(
                &token,
                "/networking/v2.0/security-groups",
                json!({"security_group": {"name": format!("g{g}"), "tags": [lineage]}}),
            )
            .await?;
        group_id = id(&group, "security_group")?;
        for r in 0..RULES_PER_GROUP {
            cloud
                .post(
                    &token,
                    "/networking/v2.0/security-group-rules",
                    json!({"security_group_rule": {"security_group_id": group_id,
                        "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
                        "port_range_min": 1000 + r, "port_range_max": 1000 + r}}),
                )
                .await?;
        }
    }
    for p in 0..PORTS_PER_PROJECT {
        cloud
            .post(
                &token,
                "/networking/v2.0/ports",
                json!({"port": {"network_id": network_id, "name": format!("p{p}"),
                    "tags": [lineage]}}),
            )
            .await?;
    }
    Ok(Tenant {
        project_id,
        token,
        network_id,
        group_id,
    })
}

/// Ten groups and a few hundred rules per project are over Neutron's default quotas.
async fn unlimited_quotas(cloud: &Cloud, admin: &str, project_id: &str) -> Result<(), Failure> {
    cloud
        .call(
            admin,
            reqwest::Method::PUT,
            &format!("/networking/v2.0/quotas/{project_id}"),
            Some(
                json!({"quota": {"network": -1, "port": -1, "security_group": -1,
                "security_group_rule": -1}}),
            ),
        )
        .await?;
    Ok(())
}

async fn seed_servers(cloud: &Cloud, tenant: &Tenant, image: &str) -> Result<(), Failure> {
    for s in 0..SERVERS_PER_PROJECT {
        cloud
            .post(
                &tenant.token,
                "/compute/v2.1/servers",
                json!({"server": {"name": format!("s{s}"), "flavorRef": "1",
                    "imageRef": image, "networks": [{"uuid": tenant.network_id}]}}),
            )
            .await?;
    }
    Ok(())
}

/// Bytes this process has caused to be written to storage so far (Linux), if known.
fn bytes_written() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines()
        .find_map(|line| line.strip_prefix("write_bytes: "))
        .and_then(|n| n.trim().parse().ok())
}

fn folder_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

struct Timing {
    label: &'static str,
    samples: Vec<Duration>,
    bytes_per_call: Option<u64>,
}

impl Timing {
    fn row(&mut self) -> String {
        self.samples.sort();
        let at = |q: f64| {
            let index = ((self.samples.len() as f64 - 1.0) * q).round() as usize;
            self.samples[index].as_secs_f64() * 1000.0
        };
        let bytes = self
            .bytes_per_call
            .map_or("-".to_string(), |b| b.to_string());
        format!(
            "{:<34} {:>9.3} {:>9.3} {:>14}",
            self.label,
            at(0.5),
            at(0.99),
            bytes
        )
    }
}

async fn time<F, Fut>(label: &'static str, write: bool, mut call: F) -> Result<Timing, Failure>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<Value, Failure>>,
{
    let before = bytes_written();
    let mut samples = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES {
        let start = Instant::now();
        call(i).await?;
        samples.push(start.elapsed());
    }
    let bytes_per_call = match (write, before, bytes_written()) {
        (true, Some(before), Some(after)) => Some((after - before) / SAMPLES as u64),
        _ => None,
    };
    Ok(Timing {
        label,
        samples,
        bytes_per_call,
    })
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let projects: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(100);
    // On disk (not tmpfs), so that the kernel accounts the bytes written.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let data = tempfile::Builder::new()
        .prefix("sim_bench")
        .tempdir_in(concat!(env!("CARGO_MANIFEST_DIR"), "/target"))?;
    let sim = Sim::start_on_loopback(SimConfig {
        data_dir: Some(data.path().to_path_buf()),
        build_delay: Duration::from_millis(1),
        action_delay: Duration::from_millis(1),
        ..SimConfig::default()
    })
    .await?;
    let cloud = Cloud {
        http: reqwest::Client::new(),
        base: sim.base_url.clone(),
    };
    let admin = cloud
        .token(ADMIN_USER, ADMIN_PASSWORD, ADMIN_PROJECT)
        .await?;
    let roles = cloud.get(&admin, "/identity/v3/roles?name=member").await?;
    let member = roles["roles"][0]["id"]
        .as_str()
        .ok_or("no member role")?
        .to_string();
    let images = cloud.get(&admin, "/image/v2/images").await?;
    let image = images["images"][0]["id"]
        .as_str()
        .ok_or("no image")?
        .to_string();

    let projects_of_admin = cloud
        .get(&admin, "/identity/v3/projects?name=admin")
        .await?;
    let admin_project = projects_of_admin["projects"][0]["id"]
        .as_str()
        .ok_or("no admin project")?
        .to_string();
    unlimited_quotas(&cloud, &admin, &admin_project).await?;

    let seeding = Instant::now();
    let mut tenants = Vec::new();
    for index in 0..projects {
        let tenant = seed_project(&cloud, &admin, index, &member).await?;
        seed_servers(&cloud, &tenant, &image).await?;
        tenants.push(tenant);
    }
    let all = cloud.get(&admin, "/networking/v2.0/ports").await?;
    let ports = all["ports"].as_array().map_or(0, Vec::len);
    let counts: Vec<usize> = object_counts(&cloud, &admin).await?;
    let objects: usize = counts.iter().sum::<usize>();
    println!(
        "seeded {projects} projects, {objects} objects ({ports} ports; networks, subnets, \
         ports, groups, rules, servers = {counts:?}) in {:.1} s; data folder {} bytes",
        seeding.elapsed().as_secs_f64(),
        folder_size(data.path())
    );

    // Measure the steady state: a compaction the seeding started may still be running.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let tenant = &tenants[projects / 2];
    // stackform's admin refresh: one list per kind across projects, by lineage tag.
    let groups_of_lineage = format!(
        "/networking/v2.0/security-groups?tags=stackform-lineage:{}",
        projects / 2
    );
    let servers_of_tenant = format!(
        "/compute/v2.1/servers/detail?all_tenants=1&project_id={}",
        tenant.project_id
    );
    let mut rows = vec![
        time("security-group list (one project)", false, |_| {
            cloud.get(&tenant.token, "/networking/v2.0/security-groups")
        })
        .await?,
        time("security-group list (admin, by tag)", false, |_| {
            cloud.get(&admin, &groups_of_lineage)
        })
        .await?,
        time("port list (one project)", false, |_| {
            cloud.get(&tenant.token, "/networking/v2.0/ports")
        })
        .await?,
        time("server list (admin, by project)", false, |_| {
            cloud.get(&admin, &servers_of_tenant)
        })
        .await?,
        time("network create", true, |i| {
            cloud.post(
                &admin,
                "/networking/v2.0/networks",
                json!({"network": {"name": format!("bench-{i}")}}),
            )
        })
        .await?,
        time("rule create", true, |i| {
            cloud.post(
                &tenant.token,
                "/networking/v2.0/security-group-rules",
                json!({"security_group_rule": {"security_group_id": tenant.group_id,
                    "direction": "ingress", "ethertype": "IPv4", "protocol": "udp",
                    "port_range_min": 2000 + i, "port_range_max": 2000 + i}}),
            )
        })
        .await?,
    ];
    println!(
        "{:<34} {:>9} {:>9} {:>14}",
        "call", "p50 ms", "p99 ms", "bytes/write"
    );
    for row in &mut rows {
        println!("{}", row.row());
    }
    sim.stop().await;
    println!("data folder after stop: {} bytes", folder_size(data.path()));
    Ok(())
}

/// How many networks, subnets, ports, groups, rules and servers the cloud holds.
async fn object_counts(cloud: &Cloud, admin: &str) -> Result<Vec<usize>, Failure> {
    let mut counts = Vec::new();
    for (path, key) in [
        ("/networking/v2.0/networks", "networks"),
        ("/networking/v2.0/subnets", "subnets"),
        ("/networking/v2.0/ports", "ports"),
        ("/networking/v2.0/security-groups", "security_groups"),
        (
            "/networking/v2.0/security-group-rules",
            "security_group_rules",
        ),
        ("/compute/v2.1/servers?all_tenants=1", "servers"),
    ] {
        let listed = cloud.get(admin, path).await?;
        counts.push(listed[key].as_array().map_or(0, Vec::len));
    }
    Ok(counts)
}
