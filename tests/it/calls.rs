//! How many API calls an apply makes, counted in the embedded cloud's request log. What an
//! apply makes beyond its refresh is the apply's log minus the log of a `plan` run just
//! before it (a plan is the same refresh with nothing applied).

use std::path::Path;

use reqwest::Method;
use serde_json::{Value, json};

use crate::cloud_api::CloudApi;
use crate::support::{SimProcess, run_env, write_specs};

/// One logged request: method and path.
type Call = (String, String);

struct Counted {
    sim: SimProcess,
    api: CloudApi,
    dir: tempfile::TempDir,
}

impl Counted {
    async fn start() -> Counted {
        let dir = tempfile::tempdir().unwrap();
        let sim = SimProcess::start(&dir.path().join("cloud"));
        let api = CloudApi::admin(sim.auth_url()).await;
        Counted { sim, api, dir }
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The next plan has nothing to do.
    fn converged(&self) {
        let (code, out, err) = run_env(self.dir(), &["plan"], &self.sim.env);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("No changes"), "{out}");
    }

    fn spec(&self, text: &str) {
        write_specs(self.dir(), &[("all.toml", text)]);
    }

    /// Runs `stackform ARGS` against the cloud and returns the calls it made (token requests
    /// left out: every process authenticates, and tenant sessions add their own).
    async fn calls_of(&self, args: &[&str]) -> Vec<Call> {
        let (status, _) = self
            .api
            .request(Method::DELETE, "identity", "/../../_sim/requests", None)
            .await;
        assert_eq!(status, 204);
        let (code, out, err) = run_env(self.dir(), args, &self.sim.env);
        assert_eq!(code, 0, "stackform {args:?}\n{out}\n{err}");
        let (status, log) = self
            .api
            .request(Method::GET, "identity", "/../../_sim/requests", None)
            .await;
        assert_eq!(status, 200);
        log["requests"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|r| {
                (
                    r["method"].as_str().unwrap_or_default().to_string(),
                    r["path"].as_str().unwrap_or_default().to_string(),
                )
            })
            .filter(|(_, path)| !path.ends_with("/auth/tokens") && !path.contains("/_sim/"))
            .collect()
    }

    /// The calls `apply` makes beyond the refresh that `plan` makes for the same spec.
    async fn apply_beyond_refresh(&self) -> Vec<Call> {
        let refresh = self.calls_of(&["plan"]).await;
        let apply = self.calls_of(&["apply", "--auto-approve"]).await;
        beyond(apply, &refresh)
    }

    async fn apply(&self) {
        self.calls_of(&["apply", "--auto-approve"]).await;
    }
}

/// `all` without one occurrence of each call of `refresh`.
fn beyond(mut all: Vec<Call>, refresh: &[Call]) -> Vec<Call> {
    for call in refresh {
        if let Some(at) = all.iter().position(|c| c == call) {
            all.remove(at);
        }
    }
    all
}

fn is(call: &Call, method: &str, path_end: &str) -> bool {
    call.0 == method && call.1.ends_with(path_end)
}

fn group_spec(rules: &str) -> String {
    format!(
        r#"
[provider]
cloud = "env"

[tenant.calls]
quotas = {{ security_group_count = 10, security_group_rule_count = 2000 }}

[security_group.web]
tenant = "calls"
rules = [
{rules}]
"#
    )
}

fn tcp_rules(ports: impl Iterator<Item = u32>) -> String {
    ports
        .map(|p| {
            format!("  {{ protocol = \"tcp\", port_range = \"{p}\", cidr = \"10.0.0.0/8\" }},\n")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_rules_are_created_in_at_most_two_posts() {
    let cloud = Counted::start().await;
    cloud.spec(&group_spec(&tcp_rules(1..=1000)));
    let calls = cloud.calls_of(&["apply", "--auto-approve"]).await;
    let rule_posts = calls
        .iter()
        .filter(|c| is(c, "POST", "/security-group-rules"))
        .count();
    assert!(
        (1..=2).contains(&rule_posts),
        "{rule_posts} POSTs of rules for 1,000 rules"
    );
    // All of them made: a second apply has nothing to do.
    cloud.converged();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_one_rule_of_ten_is_one_delete_and_one_post() {
    let cloud = Counted::start().await;
    let ten = [22, 80, 443, 5432, 6379, 8000, 8443, 9000, 9090, 9100];
    cloud.spec(&group_spec(&tcp_rules(ten.into_iter())));
    cloud.apply().await;
    let edited = ten.map(|port| if port == 80 { 8080 } else { port });
    cloud.spec(&group_spec(&tcp_rules(edited.into_iter())));
    let calls = cloud.apply_beyond_refresh().await;
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(
        calls
            .iter()
            .any(|c| c.0 == "DELETE" && c.1.contains("/security-group-rules/")),
        "{calls:?}"
    );
    assert!(
        calls.iter().any(|c| is(c, "POST", "/security-group-rules")),
        "{calls:?}"
    );
    cloud.converged();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_group_is_at_most_two_calls() {
    let cloud = Counted::start().await;
    cloud.spec(&group_spec(&tcp_rules([22, 80].into_iter())));
    cloud.apply().await;
    let without_group = "[provider]\ncloud = \"env\"\n\n[tenant.calls]\n\
                         quotas = { security_group_count = 10, security_group_rule_count = 2000 }\n";
    write_specs(cloud.dir(), &[("all.toml", without_group)]);
    let calls = cloud.apply_beyond_refresh().await;
    assert!(calls.len() <= 2, "{calls:?}");
    assert!(
        calls
            .iter()
            .any(|c| c.0 == "DELETE" && c.1.contains("/security-groups/")),
        "{calls:?}"
    );
    cloud.converged();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_instances_lists_no_flavors_or_images_beyond_the_refresh() {
    let cloud = Counted::start().await;
    let spec = r#"
[provider]
cloud = "env"

[tenant.calls]
quotas = { vcpu = 8, instances = 4 }

[network.net]
tenant = "calls"

[subnet.sub]
network = "net"
cidr = "10.30.0.0/24"

[instance.a]
tenant = "calls"
flavor = "m1.tiny"
image = "cirros"
subnet = "sub"

[instance.b]
tenant = "calls"
flavor = "m1.tiny"
image = "cirros"
subnet = "sub"
"#;
    write_specs(cloud.dir(), &[("all.toml", spec)]);
    let calls = cloud.apply_beyond_refresh().await;
    let catalog: Vec<&Call> = calls
        .iter()
        .filter(|c| c.0 == "GET" && (c.1.contains("/flavors") || c.1.contains("/images")))
        .collect();
    assert!(
        catalog.is_empty(),
        "catalog reads beyond the refresh: {catalog:?}"
    );
    let servers = calls.iter().filter(|c| is(c, "POST", "/servers")).count();
    assert_eq!(servers, 2, "{calls:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_bulk_reply_is_adopted_not_sent_again() {
    let cloud = Counted::start().await;
    cloud.spec(&group_spec(&tcp_rules([22, 80, 443].into_iter())));
    let lose = json!({"lose_reply": {"method": "POST", "path_suffix": "/security-group-rules",
                                     "count": 1}});
    let (status, _) = cloud
        .api
        .request(Method::POST, "identity", "/../../_sim/faults", Some(lose))
        .await;
    assert_eq!(status, 204);
    let calls = cloud.calls_of(&["apply", "--auto-approve"]).await;
    let rule_posts = calls
        .iter()
        .filter(|c| is(c, "POST", "/security-group-rules"))
        .count();
    assert_eq!(
        rule_posts, 1,
        "the lost bulk create made them all: {calls:?}"
    );
    cloud.converged();
}

/// The embedded cloud's bulk create of rules, as real Neutron's: all in one group, validated
/// rule by rule, no rule twice, and all made or none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_cloud_creates_rules_in_bulk_all_or_nothing() {
    let cloud = Counted::start().await;
    let api = &cloud.api;
    let group = |name: &str| {
        let body = json!({"security_group": {"name": name}});
        async move {
            let (status, made) = api
                .request(Method::POST, "network", "/security-groups", Some(body))
                .await;
            assert_eq!(status, 201, "{made}");
            made["security_group"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
    };
    let (web, db) = (group("bulk-web").await, group("bulk-db").await);
    let rule = |group: &str, port: i64| {
        json!({"security_group_id": group, "direction": "ingress", "protocol": "tcp",
               "port_range_min": port, "port_range_max": port})
    };
    let post = |rules: Value| async move {
        api.request(
            Method::POST,
            "network",
            "/security-group-rules",
            Some(json!({ "security_group_rules": rules })),
        )
        .await
    };
    let ports_of = |group: String| async move {
        let path = format!("/security-group-rules?security_group_id={group}");
        let (status, listed) = api.request(Method::GET, "network", &path, None).await;
        assert_eq!(status, 200, "{listed}");
        let mut ports: Vec<i64> = listed["security_group_rules"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|r| r["port_range_min"].as_i64())
            .collect();
        ports.sort();
        ports
    };
    let error_type = |body: &Value| body["NeutronError"]["type"].as_str().map(str::to_string);

    // Made in order, each answered in full; an item may also be wrapped in its singular key.
    let (status, made) =
        post(json!([rule(&web, 22), {"security_group_rule": rule(&web, 80)}])).await;
    assert_eq!(status, 201, "{made}");
    let answered: Vec<i64> = made["security_group_rules"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r["port_range_min"].as_i64())
        .collect();
    assert_eq!(answered, [22, 80]);
    assert!(made["security_group_rules"][0]["id"].is_string(), "{made}");

    for (rules, status_wanted, type_wanted) in [
        // A rule twice in one request.
        (
            json!([rule(&web, 443), rule(&web, 443)]),
            409,
            "DuplicateSecurityGroupRuleInPost",
        ),
        // A rule the group has: the valid one before it is not made either.
        (
            json!([rule(&web, 443), rule(&web, 22)]),
            409,
            "SecurityGroupRuleExists",
        ),
        // An invalid rule after a valid one.
        (
            json!([rule(&web, 443), rule(&web, 70000)]),
            400,
            "SecurityGroupInvalidPortValue",
        ),
        // Rules of two groups.
        (
            json!([rule(&web, 443), rule(&db, 443)]),
            400,
            "SecurityGroupNotSingleGroupRules",
        ),
        (json!([]), 400, "HTTPBadRequest"),
    ] {
        let (status, body) = post(rules.clone()).await;
        assert_eq!(
            (status, error_type(&body).as_deref()),
            (status_wanted, Some(type_wanted)),
            "{rules}: {body}"
        );
    }
    assert_eq!(
        ports_of(web.clone()).await,
        [22, 80],
        "nothing of a refused request is made"
    );
    assert_eq!(ports_of(db).await, Vec::<i64>::new());
}

/// The ports of the spec's projects are listed once per refresh: the port kind and the kinds
/// that read ports (routers' interfaces, instances' NICs) share that list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_lists_the_ports_once() {
    let cloud = Counted::start().await;
    cloud.spec(
        r#"
[provider]
cloud = "env"

[tenant.calls]

[network.net]
tenant = "calls"

[subnet.sub]
network = "net"
cidr = "10.31.0.0/24"

[port.vip]
network = "net"
fixed_ips = [ { subnet = "sub" } ]

[router.r]
tenant = "calls"
subnets = ["sub"]
"#,
    );
    cloud.apply().await;
    cloud.converged();
    let refresh = cloud.calls_of(&["plan"]).await;
    let port_lists: Vec<&Call> = refresh
        .iter()
        .filter(|c| is(c, "GET", "/v2.0/ports"))
        .collect();
    assert_eq!(port_lists.len(), 1, "{refresh:?}");
}

/// Real Neutron refuses `tags` in the POST of networks, subnets, routers and security groups
/// (and so does the embedded cloud): the first refusal is learned for the run, so the creates
/// after it send no tags, and no create looks its network up again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_of_tags_at_create_is_met_once_per_run() {
    let cloud = Counted::start().await;
    cloud.spec(
        r#"
[provider]
cloud = "env"
external_network = "public"

[tenant.calls]

[network.net]
tenant = "calls"

[subnet.a]
network = "net"
cidr = "10.31.1.0/24"

[subnet.b]
network = "net"
cidr = "10.31.2.0/24"

[router.edge]
tenant = "calls"
external_gateway = true
subnets = ["a", "b"]
"#,
    );
    cloud
        .api
        .request(Method::DELETE, "identity", "/../../_sim/requests", None)
        .await;
    let (code, out, err) = run_env(cloud.dir(), &["apply", "--auto-approve"], &cloud.sim.env);
    assert_eq!(code, 0, "{out}\n{err}");
    let (_, log) = cloud
        .api
        .request(Method::GET, "identity", "/../../_sim/requests", None)
        .await;
    let requests = log["requests"].as_array().cloned().unwrap_or_default();
    let refused: Vec<String> = requests
        .iter()
        .filter(|r| r["method"] == "POST" && r["status"] == 400)
        .map(|r| r["path"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].ends_with("/v2.0/networks"), "{refused:?}");
    let network_reads = requests
        .iter()
        .filter(|r| {
            r["method"] == "GET"
                && r["path"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("/v2.0/networks/")
        })
        .count();
    assert_eq!(network_reads, 0, "{requests:?}");
    // Everything made is tagged, so the next plan has nothing to do.
    cloud.converged();
}
