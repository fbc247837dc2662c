//! `instance.flavor` resized in place, on both targets, with a volume attached (this harness's
//! reason to be here): the server keeps its id, its port and its volume through the API; a
//! stopped server resizes and stays stopped; a resize that fails is reported in one line and
//! leaves the server on its old flavor (embedded: injected failures, at the scheduler and at
//! confirmResize, which is then reverted; real: a flavor no host can take).

use reqwest::Method;
use serde_json::{Value, json};

use super::{Cloud, Target, sized};
use crate::real_common;

/// The spec's instance on `flavor`, with a volume, in `power` state.
fn spec(flavor: &str, power: &str) -> String {
    format!(
        r#"
[network.net]
tenant = "t"

[subnet.sub]
network = "net"
cidr = "10.51.0.0/24"

[instance.vm]
tenant = "t"
flavor = "{flavor}"
image = "cirros"
subnet = "sub"
power_state = "{power}"
volumes = ["d1"]
{}"#,
        sized("d1", 1, "")
    )
}

/// The server `vm` of the tenant (exactly one).
async fn server(cloud: &Cloud, project: &str) -> Value {
    let servers = cloud
        .api
        .list(
            "compute",
            &format!("/servers/detail?all_tenants=1&project_id={project}&name=vm"),
            "servers",
        )
        .await;
    assert_eq!(servers.len(), 1, "{servers:?}");
    servers.into_iter().next().unwrap_or(Value::Null)
}

/// What must survive a resize: id, status, flavor, attached volumes, the ports on it.
async fn shape(cloud: &Cloud, project: &str) -> (Value, Value, Value, Vec<Value>, Vec<Value>) {
    let server = server(cloud, project).await;
    let id = server["id"].as_str().unwrap_or_default().to_string();
    let ports = cloud
        .api
        .list("network", &format!("/ports?device_id={id}"), "ports")
        .await
        .iter()
        .map(|p| p["id"].clone())
        .collect();
    let volumes = server["os-extended-volumes:volumes_attached"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|v| v["id"].clone())
        .collect();
    (
        json!(id),
        server["status"].clone(),
        server["flavor"]["original_name"].clone(),
        volumes,
        ports,
    )
}

/// The output's lines that report the failed resize.
fn resize_failures(out: &str, err: &str) -> Vec<String> {
    format!("{out}\n{err}")
        .lines()
        .filter(|l| l.contains("resize") && l.contains("failed"))
        .map(str::to_string)
        .collect()
}

async fn resize(target: Target) {
    let Some(mut cloud) = Cloud::start(target).await else {
        return;
    };
    let (small, large) = match target {
        Target::Embedded => ("m1.tiny".to_string(), "m1.small".to_string()),
        Target::Real => {
            real_common::ensure_admin_setup(&cloud.api).await;
            let name = real_common::unique_name("sf-resize");
            cloud
                .api
                .send(
                    Method::POST,
                    "compute",
                    "/flavors",
                    json!({"flavor": {"name": name, "vcpus": 2, "ram": 1024, "disk": 1}}),
                    &[200],
                )
                .await;
            (real_common::FLAVOR.to_string(), name)
        }
    };
    // RAM unlimited, so that on the real cloud the unschedulable flavor gets to the scheduler.
    let with = |body: String| cloud.spec_with("", "ram = -1", &body);
    with(spec(&small, "running"));
    cloud.apply();
    let project = cloud.project_id().await;
    let (id, status, flavor, volumes, ports) = shape(&cloud, &project).await;
    assert_eq!((status, flavor), (json!("ACTIVE"), json!(small)));
    assert_eq!(
        (volumes.len(), ports.len()),
        (1, 1),
        "{volumes:?} {ports:?}"
    );

    with(spec(&large, "running"));
    let (code, out, err) = cloud.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    let line = format!("# instance.vm will be resized in place (flavor {small} → {large})");
    assert!(out.contains(&line), "{line}:\n{out}");
    assert!(out.contains("0 to add, 1 to change, 0 to destroy"), "{out}");
    cloud.apply();
    assert_eq!(
        shape(&cloud, &project).await,
        (
            id.clone(),
            json!("ACTIVE"),
            json!(large),
            volumes.clone(),
            ports.clone()
        )
    );
    cloud.assert_converged("after the resize");

    // Stopped, then resized back: it stays stopped.
    with(spec(&large, "stopped"));
    cloud.apply();
    with(spec(&small, "stopped"));
    cloud.apply();
    assert_eq!(
        shape(&cloud, &project).await,
        (
            id.clone(),
            json!("SHUTOFF"),
            json!(small),
            volumes.clone(),
            ports.clone()
        )
    );
    cloud.assert_converged("after the resize of the stopped server");

    // A resize that fails: one line, the server as it was.
    with(spec(&small, "running"));
    cloud.apply();
    let failing = match target {
        Target::Embedded => {
            inject(&cloud, "schedule").await;
            large.clone()
        }
        Target::Real => real_common::UNSCHEDULABLE_FLAVOR.to_string(),
    };
    with(spec(&failing, "running"));
    let (code, out, err) = cloud.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{out}\n{err}");
    let failures = resize_failures(&out, &err);
    let expected = format!(
        "instance.vm: resize {small} → {failing} failed: Nova left the server ACTIVE on {small} \
         (its instance actions say why)"
    );
    assert_eq!(failures.len(), 1, "{out}\n{err}");
    assert!(
        failures[0].ends_with(&expected),
        "{expected}:\n{out}\n{err}"
    );
    assert_eq!(
        shape(&cloud, &project).await,
        (
            id.clone(),
            json!("ACTIVE"),
            json!(small),
            volumes.clone(),
            ports.clone()
        )
    );

    if target == Target::Embedded {
        // Refused at confirmResize: reverted.
        inject(&cloud, "confirm").await;
        let (code, out, err) = cloud.run(&["apply", "--auto-approve"]);
        assert_eq!(code, 1, "{out}\n{err}");
        let failures = resize_failures(&out, &err);
        assert_eq!(failures.len(), 1, "{out}\n{err}");
        assert!(
            failures[0].contains(&format!(
                "instance.vm: resize {small} → {large} failed: confirmResize was refused ("
            )) && failures[0].ends_with(&format!("): reverted, on {small}")),
            "{out}\n{err}"
        );
        assert_eq!(
            shape(&cloud, &project).await,
            (id.clone(), json!("ACTIVE"), json!(small), volumes, ports)
        );
        // Nothing injected any more: the next apply resizes.
        cloud.apply();
        assert_eq!(shape(&cloud, &project).await.2, json!(large));
    }

    let (code, out, err) = cloud.run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    cloud.destroyed = true;
    if target == Target::Real {
        let flavors = cloud.api.list("compute", "/flavors", "flavors").await;
        if let Some(flavor) = flavors.iter().find(|f| f["name"] == json!(large)) {
            let id = flavor["id"].as_str().unwrap_or_default();
            let (status, body) = cloud
                .api
                .request(Method::DELETE, "compute", &format!("/flavors/{id}"), None)
                .await;
            assert_eq!(status, 202, "{body}");
        }
    }
}

/// The embedded cloud's next resize fails `at` the scheduler or the confirm.
async fn inject(cloud: &Cloud, at: &str) {
    let (status, body) = cloud
        .api
        .request(
            Method::POST,
            "identity",
            "/../../_sim/faults",
            Some(json!({ "fail_resize": { "count": 1, "at": at } })),
        )
        .await;
    assert_eq!(status, 204, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flavor_change_resizes_in_place_keeping_id_port_and_volume() {
    resize(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_a_flavor_change_resizes_in_place_keeping_id_port_and_volume() {
    resize(Target::Real).await;
}

/// `instance.metadata` and `instance.description` in place: the user's keys beside
/// stackform's address mark (never removed), drift on the user's keys only, Nova's limits as
/// located errors.
async fn server_attrs(target: Target) {
    let Some(mut cloud) = Cloud::start(target).await else {
        return;
    };
    let flavor = match target {
        Target::Embedded => "m1.tiny",
        Target::Real => {
            real_common::ensure_admin_setup(&cloud.api).await;
            real_common::FLAVOR
        }
    };
    let spec = |attrs: &str| {
        format!(
            r#"
[network.net]
tenant = "t"

[subnet.sub]
network = "net"
cidr = "10.52.0.0/24"

[instance.vm]
tenant = "t"
flavor = "{flavor}"
image = "cirros"
subnet = "sub"
{attrs}
"#
        )
    };
    // Metadata, description and the user's tags (stackform's marks left out, sorted).
    let observed = |server: &Value| {
        let mut tags: Vec<String> = server["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|t| !t.starts_with("stackform"))
            .map(str::to_string)
            .collect();
        tags.sort();
        (
            server["metadata"].clone(),
            server["description"].clone(),
            json!(tags),
        )
    };
    let marked = |server: &Value| {
        server["tags"].as_array().is_some_and(|tags| {
            tags.iter().any(|t| {
                t.as_str()
                    .is_some_and(|t| t.starts_with("stackform-lineage:"))
            })
        })
    };
    cloud.spec(&spec(
        "metadata = { role = \"web\" }\ndescription = \"the front\"\ntags = [\"web\", \"blue\"]",
    ));
    cloud.apply();
    let project = cloud.project_id().await;
    let first = server(&cloud, &project).await;
    assert_eq!(
        observed(&first),
        (
            json!({ "role": "web", "stackform_address": "instance.vm" }),
            json!("the front"),
            json!(["blue", "web"])
        )
    );
    assert!(marked(&first), "{first}");
    cloud.assert_converged("after the create");

    let second_spec =
        spec("metadata = { tier = \"1\" }\ndescription = \"the back\"\ntags = [\"green\"]");
    cloud.spec(&second_spec);
    let (code, out, err) = cloud.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        out.contains("# instance.vm will be updated in place"),
        "{out}"
    );
    assert!(out.contains("0 to add, 1 to change, 0 to destroy"), "{out}");
    cloud.apply();
    let second = server(&cloud, &project).await;
    assert_eq!(second["id"], first["id"]);
    assert_eq!(
        observed(&second),
        (
            json!({ "tier": "1", "stackform_address": "instance.vm" }),
            json!("the back"),
            json!(["green"])
        )
    );
    assert!(marked(&second), "{second}");
    cloud.assert_converged("after the update");

    // A key added by hand is drift; the apply removes it and keeps the mark.
    let id = second["id"].as_str().unwrap_or_default();
    let (status, body) = cloud
        .api
        .request(
            Method::PUT,
            "compute",
            &format!("/servers/{id}/metadata/owner"),
            Some(json!({ "meta": { "owner": "ops" } })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = cloud
        .api
        .request(
            Method::PUT,
            "compute",
            &format!("/servers/{id}/tags/by-hand"),
            None,
        )
        .await;
    assert!(status == 201 || status == 204, "{status} {body}");
    let (code, out, err) = cloud.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("owner") && out.contains("by-hand"), "{out}");
    assert!(!out.contains("stackform_address"), "{out}");
    cloud.apply();
    let third = server(&cloud, &project).await;
    assert_eq!(
        observed(&third),
        (
            json!({ "tier": "1", "stackform_address": "instance.vm" }),
            json!("the back"),
            json!(["green"])
        )
    );
    assert!(marked(&third), "{third}");
    cloud.assert_converged("after the drift is undone");

    // Nova's tag limits, located.
    cloud.spec(&spec("tags = [\"a/b\"]"));
    // At the tag itself, one column after the list's `[`.
    let bracket = cloud.position_of("tags = [");
    let (line, column) = bracket.rsplit_once(':').unwrap_or_default();
    let at = format!("{line}:{}", column.parse::<u32>().unwrap_or_default() + 1);
    let (code, out, err) = cloud.run(&["plan"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("error: tag `a/b` in `tags` holds `/`"),
        "{err}"
    );
    assert!(err.contains(&at), "located at {at}:\n{err}");

    // Nova's limits, located, nothing changed.
    let long_key = "k".repeat(256);
    cloud.spec(&spec(&format!("metadata = {{ {long_key} = \"v\" }}")));
    let at = cloud.position_of("metadata = ");
    let (code, out, err) = cloud.run(&["plan"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains(&format!(
            "instance.vm: metadata key `{long_key}` has 256 characters: Nova takes 1 to 255"
        )),
        "{err}"
    );
    assert!(err.contains(&at), "located at {at}:\n{err}");

    cloud.spec(&spec(""));
    let (code, out, err) = cloud.run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    cloud.destroyed = true;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_metadata_and_description_change_in_place_beside_the_mark() {
    server_attrs(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_instance_metadata_and_description_change_in_place_beside_the_mark() {
    server_attrs(Target::Real).await;
}
