//! THE sequence of calls run against both clouds: every operation the embedded cloud
//! implements, with its error cases. The script never branches on a reply, so both recordings
//! line up step by step; ids flow between steps through the recorder's variables.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::recorder::{Auth, Recorder, Reply, Req, Svc};

/// Who logs in (admin of the cloud) and the per-run suffix of every name.
pub struct Login {
    pub user: String,
    pub password: String,
    pub project: String,
    pub user_domain: String,
    pub project_domain: String,
    pub run: String,
    /// VLAN segment of this run's external network (the real cloud is shared).
    pub segment: u16,
}

const NO_SUCH_ID: &str = "0b6c2a4e-9d1f-4c5e-8a7b-3f2e1d0c9b8a";
const BOGUS_TOKEN: &str = "gAAAAABnot-a-real-token";
pub(super) const TIMEOUT: Duration = Duration::from_secs(90);

pub(super) fn get(label: &str, svc: Svc, path: &str) -> Req {
    Req::new(label, svc, Method::GET, path)
}
pub(super) fn post(label: &str, svc: Svc, path: &str, body: Value) -> Req {
    Req::new(label, svc, Method::POST, path).json(body)
}
pub(super) fn put(label: &str, svc: Svc, path: &str, body: Value) -> Req {
    Req::new(label, svc, Method::PUT, path).json(body)
}
pub(super) fn put_empty(label: &str, svc: Svc, path: &str) -> Req {
    Req::new(label, svc, Method::PUT, path)
}
pub(super) fn delete(label: &str, svc: Svc, path: &str) -> Req {
    Req::new(label, svc, Method::DELETE, path)
}

pub(super) fn token_request(
    user: &str,
    password: &str,
    domain: &str,
    project: &str,
    pdomain: &str,
) -> Value {
    json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"name": domain}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"name": pdomain}}}
    }})
}

pub(super) fn subject_token(reply: &Reply) -> String {
    reply
        .headers
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("<missing>")
        .to_string()
}

pub async fn run(rec: &mut Recorder, login: &Login) {
    identity(rec, login).await;
    image(rec, login).await;
    super::glance::glance(rec, login).await;
    network(rec, login).await;
    network_rbac(rec).await;
    super::bodies::creates(rec, login).await;
    compute(rec, login).await;
    super::server_groups::server_groups(rec, &login.run).await;
    super::keypairs::keypairs(rec, &login.run).await;
    super::flavors::flavors(rec, &login.run).await;
    super::cinder::cinder(rec, login).await;
    super::boot::boot_from_volume(rec, login).await;
    teardown(rec).await;
}

/// The `port` kind's operations: a fixed IP asked for (taken, outside its subnet, on a subnet
/// of another network), allowed address pairs (valid, invalid, duplicated), port security
/// against groups and pairs, and fixed IPs and pairs changed in place. Runs on `{net}` and
/// `{subnet}` (10.77.0.0/24) with the group `{sg}`.
async fn port_addresses(rec: &mut Recorder, run: &str) {
    use Svc::Network as N;
    let reply = rec
        .call(post(
            "neutron.port.create.fixed_ip_and_pairs",
            N,
            "/v2.0/ports",
            json!({"port": {"name": format!("sfd-vip-{run}"), "network_id": "{net}",
                "fixed_ips": [{"subnet_id": "{subnet}", "ip_address": "10.77.0.10"}],
                "allowed_address_pairs": [{"ip_address": "10.77.0.100"},
                    {"ip_address": "10.78.0.0/24", "mac_address": "fa:16:3e:00:00:01"}]}}),
        ))
        .await;
    rec.bind("vip", reply.str_at("/port/id"));
    rec.on_cleanup(N, "/v2.0/ports/{vip}");
    rec.call(post(
        "neutron.port.create.fixed_ip_taken",
        N,
        "/v2.0/ports",
        json!({"port": {"network_id": "{net}",
            "fixed_ips": [{"subnet_id": "{subnet}", "ip_address": "10.77.0.10"}]}}),
    ))
    .await;
    rec.call(post(
        "neutron.port.create.fixed_ip_outside_subnet",
        N,
        "/v2.0/ports",
        json!({"port": {"network_id": "{net}",
            "fixed_ips": [{"subnet_id": "{subnet}", "ip_address": "10.99.0.10"}]}}),
    ))
    .await;
    rec.call(post(
        "neutron.port.create.fixed_ip_network_address",
        N,
        "/v2.0/ports",
        json!({"port": {"network_id": "{net}",
            "fixed_ips": [{"subnet_id": "{subnet}", "ip_address": "10.77.0.0"}]}}),
    ))
    .await;
    for (label, pairs) in [
        (
            "neutron.port.create.pair_bad_ip",
            json!([{"ip_address": "nonsense"}]),
        ),
        (
            "neutron.port.create.pair_bad_cidr",
            json!([{"ip_address": "10.0.0.1/33"}]),
        ),
        (
            "neutron.port.create.pair_bad_mac",
            json!([{"ip_address": "10.0.0.1", "mac_address": "zz"}]),
        ),
        (
            "neutron.port.create.pair_without_ip",
            json!([{"mac_address": "fa:16:3e:00:00:01"}]),
        ),
        (
            "neutron.port.create.pair_twice",
            json!([{"ip_address": "10.0.0.1"}, {"ip_address": "10.0.0.1"}]),
        ),
        (
            "neutron.port.create.pair_unknown_key",
            json!([{"ip_address": "10.0.0.1", "colour": "red"}]),
        ),
        ("neutron.port.create.pairs_not_a_list", json!("10.0.0.1")),
    ] {
        rec.call(post(
            label,
            N,
            "/v2.0/ports",
            json!({"port": {"network_id": "{net}", "allowed_address_pairs": pairs}}),
        ))
        .await;
    }
    rec.call(post(
        "neutron.port.create.no_port_security_with_groups",
        N,
        "/v2.0/ports",
        json!({"port": {"network_id": "{net}", "port_security_enabled": false,
            "security_groups": ["{sg}"]}}),
    ))
    .await;
    rec.call(post(
        "neutron.port.create.no_port_security_with_pairs",
        N,
        "/v2.0/ports",
        json!({"port": {"network_id": "{net}", "port_security_enabled": false,
            "allowed_address_pairs": [{"ip_address": "10.0.0.1"}]}}),
    ))
    .await;
    rec.call(put(
        "neutron.port.update.fixed_ip_and_pairs",
        N,
        "/v2.0/ports/{vip}",
        json!({"port": {"fixed_ips": [{"subnet_id": "{subnet}", "ip_address": "10.77.0.11"}],
            "allowed_address_pairs": [{"ip_address": "10.77.0.101"}],
            "description": "moved", "admin_state_up": false}}),
    ))
    .await;
    rec.call(put(
        "neutron.port.update.port_security_off_with_pairs",
        N,
        "/v2.0/ports/{vip}",
        json!({"port": {"port_security_enabled": false}}),
    ))
    .await;
    rec.call(put(
        "neutron.port.update.port_security_off_cleared",
        N,
        "/v2.0/ports/{vip}",
        json!({"port": {"port_security_enabled": false, "security_groups": [],
            "allowed_address_pairs": []}}),
    ))
    .await;
    rec.call(get("neutron.port.show.vip", N, "/v2.0/ports/{vip}"))
        .await;
    rec.call(delete("neutron.port.delete.vip", N, "/v2.0/ports/{vip}"))
        .await;
}

async fn identity(rec: &mut Recorder, login: &Login) {
    use Svc::Identity as I;
    let run = &login.run;
    rec.call(get("keystone.versions", I, "/").auth(Auth::None))
        .await;
    rec.call(get("keystone.version", I, "/v3").auth(Auth::None))
        .await;
    let body = token_request(
        &login.user,
        &login.password,
        &login.user_domain,
        &login.project,
        &login.project_domain,
    );
    let reply = rec
        .call(post("keystone.token.issue", I, "/v3/auth/tokens", body).auth(Auth::None))
        .await;
    rec.bind("token", subject_token(&reply));
    rec.bind("admin_project", reply.str_at("/token/project/id"));
    rec.bind("admin_user", reply.str_at("/token/user/id"));
    rec.learn_catalog(&reply.body);
    let bad = token_request(
        &login.user,
        "wrong-password",
        &login.user_domain,
        &login.project,
        &login.project_domain,
    );
    rec.call(
        post(
            "keystone.token.issue.bad_password",
            I,
            "/v3/auth/tokens",
            bad,
        )
        .auth(Auth::None),
    )
    .await;
    rec.call(
        get("keystone.token.validate", I, "/v3/auth/tokens").header("X-Subject-Token", "{token}"),
    )
    .await;
    rec.call(
        Req::new("keystone.token.check", I, Method::HEAD, "/v3/auth/tokens")
            .header("X-Subject-Token", "{token}"),
    )
    .await;
    rec.call(get("keystone.bad_token", I, "/v3/projects").auth(Auth::Raw(BOGUS_TOKEN.into())))
        .await;
    rec.call(get("keystone.auth.projects", I, "/v3/auth/projects"))
        .await;
    rec.call(get("keystone.auth.catalog", I, "/v3/auth/catalog"))
        .await;
    rec.call(get("keystone.domains.list", I, "/v3/domains"))
        .await;
    rec.call(get("keystone.domain.show", I, "/v3/domains/default"))
        .await;
    rec.call(get("keystone.unknown_path", I, "/v3/nothing"))
        .await;
    rec.call(get(
        "keystone.domain.not_found",
        I,
        &format!("/v3/domains/{NO_SUCH_ID}"),
    ))
    .await;

    let project = format!("sfd-{run}");
    let body = json!({"project": {"name": project, "description": "differential", "domain_id": "default"}});
    let reply = rec
        .call(post(
            "keystone.project.create",
            I,
            "/v3/projects",
            body.clone(),
        ))
        .await;
    rec.bind("project", reply.str_at("/project/id"));
    rec.on_cleanup(I, "/v3/projects/{project}");
    rec.call(post(
        "keystone.project.create.duplicate",
        I,
        "/v3/projects",
        body,
    ))
    .await;
    rec.call(get("keystone.project.show", I, "/v3/projects/{project}"))
        .await;
    rec.call(get(
        "keystone.project.list",
        I,
        &format!("/v3/projects?name={project}"),
    ))
    .await;
    rec.call(
        Req::new(
            "keystone.project.update",
            I,
            Method::PATCH,
            "/v3/projects/{project}",
        )
        .json(json!({"project": {"description": "changed"}})),
    )
    .await;
    rec.call(get(
        "keystone.project.not_found",
        I,
        &format!("/v3/projects/{NO_SUCH_ID}"),
    ))
    .await;
    rec.call(put_empty(
        "keystone.project.tag.add",
        I,
        "/v3/projects/{project}/tags/blue",
    ))
    .await;
    rec.call(get(
        "keystone.project.tags.list",
        I,
        "/v3/projects/{project}/tags",
    ))
    .await;
    rec.call(get(
        "keystone.project.tag.check",
        I,
        "/v3/projects/{project}/tags/blue",
    ))
    .await;
    rec.call(get(
        "keystone.project.tag.check.missing",
        I,
        "/v3/projects/{project}/tags/green",
    ))
    .await;
    rec.call(put(
        "keystone.project.tags.replace",
        I,
        "/v3/projects/{project}/tags",
        json!({"tags": ["red", "yellow"]}),
    ))
    .await;
    rec.call(delete(
        "keystone.project.tag.remove",
        I,
        "/v3/projects/{project}/tags/red",
    ))
    .await;
    rec.call(delete(
        "keystone.project.tags.clear",
        I,
        "/v3/projects/{project}/tags",
    ))
    .await;
    rec.call(get(
        "keystone.project.tags.after_clear",
        I,
        "/v3/projects/{project}/tags",
    ))
    .await;

    let user = format!("sfd-user-{run}");
    let reply = rec
        .call(post(
            "keystone.user.create",
            I,
            "/v3/users",
            json!({"user": {"name": user, "password": "sfd-secret-pw", "default_project_id": "{project}", "domain_id": "default"}}),
        ))
        .await;
    rec.bind("user", reply.str_at("/user/id"));
    rec.on_cleanup(I, "/v3/users/{user}");
    rec.call(get("keystone.user.show", I, "/v3/users/{user}"))
        .await;
    rec.call(get(
        "keystone.user.list",
        I,
        &format!("/v3/users?name={user}"),
    ))
    .await;
    rec.call(
        Req::new("keystone.user.update", I, Method::PATCH, "/v3/users/{user}")
            .json(json!({"user": {"email": "sfd@example.org"}})),
    )
    .await;
    rec.call(get(
        "keystone.user.not_found",
        I,
        &format!("/v3/users/{NO_SUCH_ID}"),
    ))
    .await;
    let reply = rec
        .call(get("keystone.roles.list", I, "/v3/roles?name=member"))
        .await;
    rec.bind("member_role", reply.str_at("/roles/0/id"));
    let reply = rec
        .call(get("keystone.roles.list.admin", I, "/v3/roles?name=admin"))
        .await;
    rec.bind("admin_role", reply.str_at("/roles/0/id"));
    rec.call(get("keystone.role.show", I, "/v3/roles/{member_role}"))
        .await;
    rec.call(get(
        "keystone.role.not_found",
        I,
        &format!("/v3/roles/{NO_SUCH_ID}"),
    ))
    .await;
    rec.call(put_empty(
        "keystone.grant.add",
        I,
        "/v3/projects/{project}/users/{user}/roles/{member_role}",
    ))
    .await;
    rec.call(put_empty(
        "keystone.grant.add.admin",
        I,
        "/v3/projects/{project}/users/{admin_user}/roles/{admin_role}",
    ))
    .await;
    rec.call(get(
        "keystone.grant.check",
        I,
        "/v3/projects/{project}/users/{user}/roles/{member_role}",
    ))
    .await;
    rec.call(get(
        "keystone.grant.check.missing",
        I,
        "/v3/projects/{project}/users/{user}/roles/{admin_role}",
    ))
    .await;
    rec.call(get(
        "keystone.grants.list",
        I,
        "/v3/projects/{project}/users/{user}/roles",
    ))
    .await;
    rec.call(get(
        "keystone.role_assignments",
        I,
        "/v3/role_assignments?scope.project.id={project}&user.id={user}",
    ))
    .await;
    rec.call(get(
        "keystone.role_assignments.names",
        I,
        "/v3/role_assignments?scope.project.id={project}&include_names=true",
    ))
    .await;

    let body = token_request(&user, "sfd-secret-pw", "Default", &project, "Default");
    let reply = rec
        .call(post("keystone.token.issue.user", I, "/v3/auth/tokens", body).auth(Auth::None))
        .await;
    rec.bind("user_token", subject_token(&reply));
    rec.call(
        get("keystone.user.projects", I, "/v3/users/{user}/projects").auth(Auth::Var("user_token")),
    )
    .await;
    rec.call(
        get("keystone.auth.projects.user", I, "/v3/auth/projects").auth(Auth::Var("user_token")),
    )
    .await;
    rec.call(
        get("keystone.token.validate.other_user", I, "/v3/auth/tokens")
            .header("X-Subject-Token", "{token}")
            .auth(Auth::Var("user_token")),
    )
    .await;
    rec.call(
        delete("keystone.token.revoke", I, "/v3/auth/tokens")
            .header("X-Subject-Token", "{user_token}"),
    )
    .await;
    rec.call(
        get("keystone.token.validate.revoked", I, "/v3/auth/tokens")
            .header("X-Subject-Token", "{user_token}"),
    )
    .await;
    rec.call(
        get("nova.revoked_token", Svc::Compute, "/v2.1/servers").auth(Auth::Var("user_token")),
    )
    .await;

    let body = token_request(
        &login.user,
        &login.password,
        &login.user_domain,
        &project,
        "Default",
    );
    let reply = rec
        .call(post("keystone.token.issue.project", I, "/v3/auth/tokens", body).auth(Auth::None))
        .await;
    rec.bind("project_token", subject_token(&reply));
    grants(rec).await;
}

/// A tenant's `users`: a grant made, listed with names, revoked, and revoked again (404).
async fn grants(rec: &mut Recorder) {
    use Svc::Identity as I;
    let reply = rec
        .call(get(
            "keystone.roles.list.reader",
            I,
            "/v3/roles?name=reader",
        ))
        .await;
    rec.bind("reader_role", reply.str_at("/roles/0/id"));
    rec.call(put_empty(
        "keystone.grant.add.reader",
        I,
        "/v3/projects/{project}/users/{user}/roles/{reader_role}",
    ))
    .await;
    rec.call(get(
        "keystone.role_assignments.user.names",
        I,
        "/v3/role_assignments?scope.project.id={project}&user.id={user}&include_names=true",
    ))
    .await;
    rec.call(delete(
        "keystone.grant.revoke",
        I,
        "/v3/projects/{project}/users/{user}/roles/{reader_role}",
    ))
    .await;
    rec.call(delete(
        "keystone.grant.revoke.absent",
        I,
        "/v3/projects/{project}/users/{user}/roles/{reader_role}",
    ))
    .await;
    rec.call(delete(
        "keystone.grant.revoke.no_role",
        I,
        &format!("/v3/projects/{{project}}/users/{{user}}/roles/{NO_SUCH_ID}"),
    ))
    .await;
    rec.call(get(
        "keystone.role_assignments.after_revoke",
        I,
        "/v3/role_assignments?scope.project.id={project}&role.id={reader_role}",
    ))
    .await;
}

async fn image(rec: &mut Recorder, login: &Login) {
    use Svc::Image as G;
    rec.call(get("glance.versions.root", G, "/").auth(Auth::None))
        .await;
    rec.call(get("glance.versions", G, "/versions").auth(Auth::None))
        .await;
    rec.call(get("glance.schema.image", G, "/v2/schemas/image"))
        .await;
    rec.call(get("glance.bad_token", G, "/v2/images").auth(Auth::Raw(BOGUS_TOKEN.into())))
        .await;
    let name = format!("sfd-image-{}", login.run);
    let reply = rec
        .call(post(
            "glance.image.create",
            G,
            "/v2/images",
            json!({"name": name, "disk_format": "raw", "container_format": "bare", "min_disk": 0, "min_ram": 0}),
        ))
        .await;
    rec.bind("image", reply.str_at("/id"));
    rec.on_cleanup(G, "/v2/images/{image}");
    rec.call(get("glance.image.show.queued", G, "/v2/images/{image}"))
        .await;
    let bytes: Vec<u8> = (0..4096u32).map(|i| (i % 251) as u8).collect();
    rec.call(
        Req::new(
            "glance.image.upload",
            G,
            Method::PUT,
            "/v2/images/{image}/file",
        )
        .raw(bytes.clone(), "application/octet-stream"),
    )
    .await;
    rec.call(get("glance.image.show.active", G, "/v2/images/{image}"))
        .await;
    rec.call(
        Req::new(
            "glance.image.upload.again",
            G,
            Method::PUT,
            "/v2/images/{image}/file",
        )
        .raw(bytes, "application/octet-stream"),
    )
    .await;
    let patch = json!([
        {"op": "replace", "path": "/min_disk", "value": 1},
        {"op": "add", "path": "/os_distro", "value": "cirros"}
    ]);
    rec.call(
        Req::new("glance.image.patch", G, Method::PATCH, "/v2/images/{image}").raw(
            patch.to_string().into_bytes(),
            "application/openstack-images-v2.1-json-patch",
        ),
    )
    .await;
    rec.call(
        Req::new(
            "glance.image.patch.wrong_media_type",
            G,
            Method::PATCH,
            "/v2/images/{image}",
        )
        .json(json!([{"op": "replace", "path": "/min_disk", "value": 2}])),
    )
    .await;
    rec.call(put_empty(
        "glance.image.tag.add",
        G,
        "/v2/images/{image}/tags/blue",
    ))
    .await;
    rec.call(get("glance.image.show.tagged", G, "/v2/images/{image}"))
        .await;
    rec.call(delete(
        "glance.image.tag.remove",
        G,
        "/v2/images/{image}/tags/blue",
    ))
    .await;
    rec.call(get(
        "glance.images.list.name",
        G,
        &format!("/v2/images?name={name}"),
    ))
    .await;
    rec.call(get("glance.images.list.limit", G, "/v2/images?limit=1"))
        .await;
    rec.call(get(
        "glance.image.not_found",
        G,
        &format!("/v2/images/{NO_SUCH_ID}"),
    ))
    .await;
    rec.call(
        Req::new(
            "glance.method_not_allowed",
            G,
            Method::POST,
            "/v2/images/{image}",
        )
        .header("Accept", "application/json"),
    )
    .await;
    rec.call(
        post(
            "glance.image.create.bad_disk_format",
            G,
            "/v2/images",
            json!({"name": format!("sfd-bad-{}", login.run), "disk_format": "floppy", "container_format": "bare"}),
        )
        .header("Accept", "application/json"),
    )
    .await;
    rec.call(
        get(
            "glance.image.not_found.json",
            G,
            &format!("/v2/images/{NO_SUCH_ID}"),
        )
        .header("Accept", "application/json"),
    )
    .await;
}

/// Floating IPs of this run's external network, with the port `{port}` on `{subnet}`, which
/// the router `{router}` (gateway on `{ext_net}`) connects: allocation, tags, association and
/// its rules, the interface it holds, disassociation and release.
async fn floating_ips(rec: &mut Recorder) {
    use Svc::Network as N;
    rec.call(post(
        "neutron.floatingip.create.not_external",
        N,
        "/v2.0/floatingips",
        json!({"floatingip": {"floating_network_id": "{net}"}}),
    ))
    .await;
    rec.call(post(
        "neutron.floatingip.create.tags_refused",
        N,
        "/v2.0/floatingips",
        json!({"floatingip": {"floating_network_id": "{ext_net}", "tags": ["blue"]}}),
    ))
    .await;
    let reply = rec
        .call(post(
            "neutron.floatingip.create",
            N,
            "/v2.0/floatingips",
            json!({"floatingip": {"floating_network_id": "{ext_net}"}}),
        ))
        .await;
    rec.bind("fip", reply.str_at("/floatingip/id"));
    rec.bind(
        "fip_address",
        reply.str_at("/floatingip/floating_ip_address"),
    );
    rec.on_cleanup(N, "/v2.0/floatingips/{fip}");
    rec.call(post(
        "neutron.floatingip.create.address_taken",
        N,
        "/v2.0/floatingips",
        json!({"floatingip": {"floating_network_id": "{ext_net}",
                              "floating_ip_address": "{fip_address}"}}),
    ))
    .await;
    rec.call(put(
        "neutron.floatingip.tags.set",
        N,
        "/v2.0/floatingips/{fip}/tags",
        json!({"tags": ["blue", "green"]}),
    ))
    .await;
    rec.call(put(
        "neutron.floatingip.associate",
        N,
        "/v2.0/floatingips/{fip}",
        json!({"floatingip": {"port_id": "{port}"}}),
    ))
    .await;
    rec.call(post(
        "neutron.floatingip.create.port_already_associated",
        N,
        "/v2.0/floatingips",
        json!({"floatingip": {"floating_network_id": "{ext_net}", "port_id": "{port}"}}),
    ))
    .await;
    rec.call(get(
        "neutron.floatingips.list.by_port",
        N,
        "/v2.0/floatingips?port_id={port}",
    ))
    .await;
    rec.call(get(
        "neutron.floatingips.list.by_tag",
        N,
        "/v2.0/floatingips?tags=blue&floating_network_id={ext_net}",
    ))
    .await;
    rec.call(get(
        "neutron.floatingips.list.by_address",
        N,
        "/v2.0/floatingips?floating_ip_address={fip_address}",
    ))
    .await;
    rec.call(get(
        "neutron.floatingips.list.bad_filter",
        N,
        "/v2.0/floatingips?no_such_attribute=1",
    ))
    .await;
    rec.call(put(
        "neutron.router.interface.remove.in_use_by_floatingip",
        N,
        "/v2.0/routers/{router}/remove_router_interface",
        json!({"subnet_id": "{subnet}"}),
    ))
    .await;
    rec.call(put(
        "neutron.router.gateway.clear.in_use_by_floatingip",
        N,
        "/v2.0/routers/{router}",
        json!({"router": {"external_gateway_info": {}}}),
    ))
    .await;
    rec.call(put(
        "neutron.floatingip.disassociate",
        N,
        "/v2.0/floatingips/{fip}",
        json!({"floatingip": {"port_id": null}}),
    ))
    .await;
    rec.call(get("neutron.floatingip.show", N, "/v2.0/floatingips/{fip}"))
        .await;
    rec.call(delete(
        "neutron.floatingip.delete",
        N,
        "/v2.0/floatingips/{fip}",
    ))
    .await;
    rec.call(delete(
        "neutron.floatingip.delete.again",
        N,
        "/v2.0/floatingips/{fip}",
    ))
    .await;
}

async fn network(rec: &mut Recorder, login: &Login) {
    use Svc::Network as N;
    let run = &login.run;
    rec.call(get("neutron.versions", N, "/").auth(Auth::None))
        .await;
    rec.call(get("neutron.resources", N, "/v2.0/")).await;
    rec.call(get("neutron.extensions", N, "/v2.0/extensions"))
        .await;
    rec.call(get(
        "neutron.extension.router",
        N,
        "/v2.0/extensions/router",
    ))
    .await;
    rec.call(get(
        "neutron.extension.not_found",
        N,
        "/v2.0/extensions/no-such-ext",
    ))
    .await;
    rec.call(get("neutron.bad_token", N, "/v2.0/networks").auth(Auth::Raw(BOGUS_TOKEN.into())))
        .await;
    rec.call(get("neutron.unknown_path", N, "/v2.0/nothings"))
        .await;
    rec.call(Req::new(
        "neutron.method_not_allowed",
        N,
        Method::PATCH,
        "/v2.0/networks",
    ))
    .await;
    rec.call(get("neutron.quotas.list", N, "/v2.0/quotas"))
        .await;
    rec.call(post(
        "neutron.network.create.unknown_attribute",
        N,
        "/v2.0/networks",
        json!({"network": {"name": "sfd-bogus", "bogus": 1}}),
    ))
    .await;
    rec.call(post(
        "neutron.port.create.no_network",
        N,
        "/v2.0/ports",
        json!({"port": {"network_id": NO_SUCH_ID}}),
    ))
    .await;
    rec.call(get(
        "neutron.network.not_found",
        N,
        &format!("/v2.0/networks/{NO_SUCH_ID}"),
    ))
    .await;

    // This run's external network: a VLAN on physnet `public` (a flat one can exist only once).
    let reply = rec
        .call(post(
            "neutron.network.create.external",
            N,
            "/v2.0/networks",
            json!({"network": {"name": format!("sfd-ext-{run}"), "router:external": true,
                "provider:network_type": "vlan", "provider:physical_network": "public",
                "provider:segmentation_id": login.segment}}),
        ))
        .await;
    rec.bind("ext_net", reply.str_at("/network/id"));
    rec.on_cleanup(N, "/v2.0/networks/{ext_net}");
    let reply = rec
        .call(post(
            "neutron.subnet.create.external",
            N,
            "/v2.0/subnets",
            json!({"subnet": {"name": format!("sfd-ext-sub-{run}"), "network_id": "{ext_net}",
                "cidr": "198.51.100.0/24", "ip_version": 4, "enable_dhcp": false}}),
        ))
        .await;
    rec.bind("ext_subnet", reply.str_at("/subnet/id"));
    rec.on_cleanup(N, "/v2.0/subnets/{ext_subnet}");

    let reply = rec
        .call(post(
            "neutron.network.create",
            N,
            "/v2.0/networks",
            json!({"network": {"name": format!("sfd-net-{run}")}}),
        ))
        .await;
    rec.bind("net", reply.str_at("/network/id"));
    rec.on_cleanup(N, "/v2.0/networks/{net}");
    rec.call(get("neutron.network.show", N, "/v2.0/networks/{net}"))
        .await;
    // `tag-creation` is advertised, yet tags in a POST are refused (ports: dropped).
    for (step, path, body) in [
        (
            "neutron.network.create.tags_refused",
            "/v2.0/networks",
            json!({"network": {"name": "sfd-tagged", "tags": ["blue"]}}),
        ),
        (
            "neutron.subnet.create.tags_refused",
            "/v2.0/subnets",
            json!({"subnet": {"network_id": "{net}", "cidr": "10.98.0.0/24", "ip_version": 4,
                "tags": ["blue"]}}),
        ),
        (
            "neutron.router.create.tags_refused",
            "/v2.0/routers",
            json!({"router": {"name": "sfd-tagged", "tags": ["blue"]}}),
        ),
        (
            "neutron.security_group.create.tags_refused",
            "/v2.0/security-groups",
            json!({"security_group": {"name": "sfd-tagged", "tags": ["blue"]}}),
        ),
    ] {
        rec.call(post(step, N, path, body)).await;
    }
    let reply = rec
        .call(post(
            "neutron.port.create.tags_dropped",
            N,
            "/v2.0/ports",
            json!({"port": {"network_id": "{net}", "name": "sfd-tagged", "tags": ["blue"]}}),
        ))
        .await;
    rec.bind("tagged_port", reply.str_at("/port/id"));
    rec.on_cleanup(N, "/v2.0/ports/{tagged_port}");
    rec.call(get(
        "neutron.port.show.tags_dropped",
        N,
        "/v2.0/ports/{tagged_port}",
    ))
    .await;
    rec.call(delete(
        "neutron.port.delete.tags_dropped",
        N,
        "/v2.0/ports/{tagged_port}",
    ))
    .await;
    rec.call(put(
        "neutron.network.update",
        N,
        "/v2.0/networks/{net}",
        json!({"network": {"description": "differential", "mtu": 1400}}),
    ))
    .await;
    rec.call(get(
        "neutron.networks.list.name",
        N,
        &format!("/v2.0/networks?name=sfd-net-{run}"),
    ))
    .await;
    let reply = rec
        .call(post(
            "neutron.network.create.second",
            N,
            "/v2.0/networks",
            json!({"network": {"name": format!("sfd-net2-{run}")}}),
        ))
        .await;
    rec.bind("net2", reply.str_at("/network/id"));
    rec.on_cleanup(N, "/v2.0/networks/{net2}");
    let page_tag = format!("sfd-page-{run}");
    rec.call(put_empty(
        "neutron.network.tag.add",
        N,
        &format!("/v2.0/networks/{{net}}/tags/{page_tag}"),
    ))
    .await;
    rec.call(put(
        "neutron.network.tags.replace",
        N,
        "/v2.0/networks/{net2}/tags",
        json!({"tags": [page_tag, "blue"]}),
    ))
    .await;
    rec.call(get(
        "neutron.network.tags.list",
        N,
        "/v2.0/networks/{net2}/tags",
    ))
    .await;
    rec.call(get(
        "neutron.network.tag.check",
        N,
        "/v2.0/networks/{net2}/tags/blue",
    ))
    .await;
    rec.call(get(
        "neutron.network.tag.check.missing",
        N,
        "/v2.0/networks/{net2}/tags/green",
    ))
    .await;
    rec.call(delete(
        "neutron.network.tag.remove",
        N,
        "/v2.0/networks/{net2}/tags/blue",
    ))
    .await;
    let reply = rec
        .call(get(
            "neutron.networks.page1",
            N,
            &format!("/v2.0/networks?tags={page_tag}&limit=1&sort_key=name&sort_dir=asc"),
        ))
        .await;
    let next = reply
        .body
        .pointer("/networks_links")
        .and_then(Value::as_array)
        .and_then(|links| links.iter().find(|l| l["rel"] == "next"))
        .and_then(|l| l["href"].as_str())
        .unwrap_or("/v2.0/networks?missing-next-link=1")
        .to_string();
    rec.bind("next", next);
    rec.call(get("neutron.networks.page2", N, "{next}")).await;
    rec.call(delete(
        "neutron.network.tags.clear",
        N,
        "/v2.0/networks/{net2}/tags",
    ))
    .await;

    let reply = rec
        .call(post(
            "neutron.subnet.create",
            N,
            "/v2.0/subnets",
            json!({"subnet": {"name": format!("sfd-sub-{run}"), "network_id": "{net}",
                "cidr": "10.77.0.0/24", "ip_version": 4}}),
        ))
        .await;
    rec.bind("subnet", reply.str_at("/subnet/id"));
    rec.on_cleanup(N, "/v2.0/subnets/{subnet}");
    rec.call(post(
        "neutron.subnet.create.overlapping",
        N,
        "/v2.0/subnets",
        json!({"subnet": {"network_id": "{net}", "cidr": "10.77.0.128/25", "ip_version": 4}}),
    ))
    .await;
    rec.call(post(
        "neutron.subnet.create.bad_cidr",
        N,
        "/v2.0/subnets",
        json!({"subnet": {"network_id": "{net}", "cidr": "10.78.0.0/33", "ip_version": 4}}),
    ))
    .await;
    rec.call(get("neutron.subnet.show", N, "/v2.0/subnets/{subnet}"))
        .await;
    rec.call(put(
        "neutron.subnet.update",
        N,
        "/v2.0/subnets/{subnet}",
        json!({"subnet": {"description": "differential"}}),
    ))
    .await;
    rec.call(get(
        "neutron.subnets.list",
        N,
        "/v2.0/subnets?network_id={net}",
    ))
    .await;

    let reply = rec
        .call(post(
            "neutron.port.create",
            N,
            "/v2.0/ports",
            json!({"port": {"name": format!("sfd-port-{run}"), "network_id": "{net}"}}),
        ))
        .await;
    rec.bind("port", reply.str_at("/port/id"));
    rec.on_cleanup(N, "/v2.0/ports/{port}");
    rec.call(get("neutron.port.show", N, "/v2.0/ports/{port}"))
        .await;
    rec.call(put_empty(
        "neutron.subnet.tag.add",
        N,
        "/v2.0/subnets/{subnet}/tags/blue",
    ))
    .await;
    rec.call(put_empty(
        "neutron.port.tag.add",
        N,
        "/v2.0/ports/{port}/tags/blue",
    ))
    .await;
    rec.call(get("neutron.port.tags.list", N, "/v2.0/ports/{port}/tags"))
        .await;
    rec.call(get(
        "neutron.subnets.list.tagged",
        N,
        "/v2.0/subnets?tags=blue&network_id={net}",
    ))
    .await;
    rec.call(get(
        "neutron.ports.list",
        N,
        "/v2.0/ports?network_id={net}&device_owner=",
    ))
    .await;
    rec.call(delete(
        "neutron.network.delete.in_use",
        N,
        "/v2.0/networks/{net}",
    ))
    .await;

    let reply = rec
        .call(post(
            "neutron.security_group.create",
            N,
            "/v2.0/security-groups",
            json!({"security_group": {"name": format!("sfd-sg-{run}"), "description": "differential"}}),
        ))
        .await;
    rec.bind("sg", reply.str_at("/security_group/id"));
    rec.on_cleanup(N, "/v2.0/security-groups/{sg}");
    let rule = json!({"security_group_rule": {"security_group_id": "{sg}", "direction": "ingress",
        "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22,
        "remote_ip_prefix": "0.0.0.0/0"}});
    let reply = rec
        .call(post(
            "neutron.rule.create",
            N,
            "/v2.0/security-group-rules",
            rule.clone(),
        ))
        .await;
    rec.bind("rule", reply.str_at("/security_group_rule/id"));
    rec.call(post(
        "neutron.rule.create.duplicate",
        N,
        "/v2.0/security-group-rules",
        rule,
    ))
    .await;
    rec.call(get(
        "neutron.rule.show",
        N,
        "/v2.0/security-group-rules/{rule}",
    ))
    .await;
    rec.call(get(
        "neutron.rules.list",
        N,
        "/v2.0/security-group-rules?security_group_id={sg}",
    ))
    .await;
    // The bulk form stackform creates a group's rules with: all of them, or none.
    let tcp = |port: u16| {
        json!({"security_group_id": "{sg}", "direction": "ingress", "ethertype": "IPv4",
            "protocol": "tcp", "port_range_min": port, "port_range_max": port,
            "remote_ip_prefix": "10.0.0.0/8"})
    };
    rec.call(post(
        "neutron.rules.create.bulk",
        N,
        "/v2.0/security-group-rules",
        json!({"security_group_rules": [tcp(80), tcp(443)]}),
    ))
    .await;
    rec.call(post(
        "neutron.rules.create.bulk.duplicate_in_post",
        N,
        "/v2.0/security-group-rules",
        json!({"security_group_rules": [tcp(8080), tcp(8080)]}),
    ))
    .await;
    rec.call(post(
        "neutron.rules.create.bulk.one_exists",
        N,
        "/v2.0/security-group-rules",
        json!({"security_group_rules": [tcp(8443), tcp(80)]}),
    ))
    .await;
    // Rules whose remote is a group: the group itself, and (refused) both kinds of remote.
    rec.call(post(
        "neutron.rule.create.remote_group",
        N,
        "/v2.0/security-group-rules",
        json!({"security_group_rule": {"security_group_id": "{sg}", "direction": "ingress",
            "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 22,
            "port_range_max": 22, "remote_group_id": "{sg}"}}),
    ))
    .await;
    rec.call(post(
        "neutron.rule.create.remote_group_and_prefix",
        N,
        "/v2.0/security-group-rules",
        json!({"security_group_rule": {"security_group_id": "{sg}", "direction": "ingress",
            "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 23,
            "port_range_max": 23, "remote_group_id": "{sg}",
            "remote_ip_prefix": "10.0.0.0/8"}}),
    ))
    .await;
    rec.call(get(
        "neutron.rules.list.after_bulk",
        N,
        "/v2.0/security-group-rules?security_group_id={sg}&protocol=tcp",
    ))
    .await;
    // A group another group's rule names can be deleted (no 409): Neutron drops the rule with
    // it, which is why stackform deletes groups naming each other in any order.
    let reply = rec
        .call(post(
            "neutron.security_group.create.peer",
            N,
            "/v2.0/security-groups",
            json!({"security_group": {"name": format!("sfd-sg-peer-{run}")}}),
        ))
        .await;
    rec.bind("sg_peer", reply.str_at("/security_group/id"));
    rec.on_cleanup(N, "/v2.0/security-groups/{sg_peer}");
    let reply = rec
        .call(post(
            "neutron.rule.create.remote_group.peer",
            N,
            "/v2.0/security-group-rules",
            json!({"security_group_rule": {"security_group_id": "{sg}", "direction": "ingress",
                "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 9100,
                "port_range_max": 9100, "remote_group_id": "{sg_peer}"}}),
        ))
        .await;
    rec.bind("peer_rule", reply.str_at("/security_group_rule/id"));
    rec.call(delete(
        "neutron.security_group.delete.named_by_a_rule",
        N,
        "/v2.0/security-groups/{sg_peer}",
    ))
    .await;
    rec.call(get(
        "neutron.rule.show.after_remote_group_deleted",
        N,
        "/v2.0/security-group-rules/{peer_rule}",
    ))
    .await;
    rec.call(get(
        "neutron.security_group.show",
        N,
        "/v2.0/security-groups/{sg}",
    ))
    .await;
    rec.call(put(
        "neutron.security_group.update",
        N,
        "/v2.0/security-groups/{sg}",
        json!({"security_group": {"description": "changed"}}),
    ))
    .await;
    rec.call(put(
        "neutron.port.update.security_groups",
        N,
        "/v2.0/ports/{port}",
        json!({"port": {"security_groups": ["{sg}"], "description": "differential"}}),
    ))
    .await;
    rec.call(delete(
        "neutron.security_group.delete.in_use",
        N,
        "/v2.0/security-groups/{sg}",
    ))
    .await;
    rec.call(put(
        "neutron.port.update.no_security_groups",
        N,
        "/v2.0/ports/{port}",
        json!({"port": {"security_groups": []}}),
    ))
    .await;
    port_addresses(rec, run).await;

    let reply = rec
        .call(post(
            "neutron.router.create",
            N,
            "/v2.0/routers",
            json!({"router": {"name": format!("sfd-router-{run}")}}),
        ))
        .await;
    rec.bind("router", reply.str_at("/router/id"));
    rec.on_cleanup(N, "/v2.0/routers/{router}");
    rec.call(put(
        "neutron.router.gateway.set",
        N,
        "/v2.0/routers/{router}",
        json!({"router": {"external_gateway_info": {"network_id": "{ext_net}"}}}),
    ))
    .await;
    rec.call(put(
        "neutron.router.interface.add",
        N,
        "/v2.0/routers/{router}/add_router_interface",
        json!({"subnet_id": "{subnet}"}),
    ))
    .await;
    rec.call(put(
        "neutron.router.interface.add.again",
        N,
        "/v2.0/routers/{router}/add_router_interface",
        json!({"subnet_id": "{subnet}"}),
    ))
    .await;
    rec.call(get("neutron.router.show", N, "/v2.0/routers/{router}"))
        .await;
    super::router_ports::interfaces_by_port(rec, run).await;
    let routes = |destination: &str, nexthop: &str| json!({"router": {"routes": [{"destination": destination, "nexthop": nexthop}]}});
    rec.call(put(
        "neutron.router.routes.not_connected",
        N,
        "/v2.0/routers/{router}",
        routes("192.168.5.0/24", "10.99.0.5"),
    ))
    .await;
    rec.call(put(
        "neutron.router.routes.host_bits",
        N,
        "/v2.0/routers/{router}",
        routes("192.168.5.1/24", "10.77.0.5"),
    ))
    .await;
    rec.call(put(
        "neutron.router.routes.bad_nexthop",
        N,
        "/v2.0/routers/{router}",
        routes("192.168.5.0/24", "bad"),
    ))
    .await;
    rec.call(put(
        "neutron.router.routes.set",
        N,
        "/v2.0/routers/{router}",
        routes("192.168.5.0/24", "10.77.0.5"),
    ))
    .await;
    rec.call(put(
        "neutron.router.gateway.no_snat",
        N,
        "/v2.0/routers/{router}",
        json!({"router": {"external_gateway_info": {"network_id": "{ext_net}",
            "enable_snat": false}}}),
    ))
    .await;
    rec.call(put_empty(
        "neutron.router.tag.add",
        N,
        "/v2.0/routers/{router}/tags/blue",
    ))
    .await;
    rec.call(put_empty(
        "neutron.security_group.tag.add",
        N,
        "/v2.0/security-groups/{sg}/tags/blue",
    ))
    .await;
    rec.call(get(
        "neutron.security_group.show.tagged",
        N,
        "/v2.0/security-groups/{sg}",
    ))
    .await;
    rec.call(get(
        "neutron.ports.list.router_interface",
        N,
        "/v2.0/ports?device_id={router}&device_owner=network:router_interface",
    ))
    .await;
    floating_ips(rec).await;
    rec.call(delete(
        "neutron.subnet.delete.in_use",
        N,
        "/v2.0/subnets/{subnet}",
    ))
    .await;
    rec.call(delete(
        "neutron.router.delete.in_use",
        N,
        "/v2.0/routers/{router}",
    ))
    .await;
    rec.call(put(
        "neutron.router.interface.remove.in_use_by_route",
        N,
        "/v2.0/routers/{router}/remove_router_interface",
        json!({"subnet_id": "{subnet}"}),
    ))
    .await;
    rec.call(put(
        "neutron.router.routes.clear",
        N,
        "/v2.0/routers/{router}",
        json!({"router": {"routes": []}}),
    ))
    .await;
    rec.call(put(
        "neutron.router.interface.remove",
        N,
        "/v2.0/routers/{router}/remove_router_interface",
        json!({"subnet_id": "{subnet}"}),
    ))
    .await;
    // The interface is gone: the external network is no longer reachable from the port.
    rec.call(post(
        "neutron.floatingip.create.unreachable",
        N,
        "/v2.0/floatingips",
        json!({"floatingip": {"floating_network_id": "{ext_net}", "port_id": "{port}"}}),
    ))
    .await;
    rec.call(put(
        "neutron.router.interface.remove.again",
        N,
        "/v2.0/routers/{router}/remove_router_interface",
        json!({"subnet_id": "{subnet}"}),
    ))
    .await;
    rec.call(put(
        "neutron.router.gateway.clear",
        N,
        "/v2.0/routers/{router}",
        json!({"router": {"external_gateway_info": {}}}),
    ))
    .await;

    rec.call(get("neutron.quota.show", N, "/v2.0/quotas/{project}"))
        .await;
    rec.call(get(
        "neutron.quota.default",
        N,
        "/v2.0/quotas/{project}/default",
    ))
    .await;
    rec.call(get(
        "neutron.quota.details",
        N,
        "/v2.0/quotas/{project}/details",
    ))
    .await;
    rec.call(put(
        "neutron.quota.update",
        N,
        "/v2.0/quotas/{project}",
        json!({"quota": {"network": 0}}),
    ))
    .await;
    rec.call(
        post(
            "neutron.network.create.over_quota",
            N,
            "/v2.0/networks",
            json!({"network": {"name": format!("sfd-quota-{run}")}}),
        )
        .auth(Auth::Var("project_token")),
    )
    .await;
    // Ports count against the port's project, whoever creates it: here the admin, on its own
    // network, for {project}.
    rec.call(put(
        "neutron.quota.update.ports",
        N,
        "/v2.0/quotas/{project}",
        json!({"quota": {"port": 0}}),
    ))
    .await;
    rec.call(post(
        "neutron.port.create.over_quota",
        N,
        "/v2.0/ports",
        json!({"port": {"network_id": "{net}", "project_id": "{project}"}}),
    ))
    .await;
    rec.call(delete("neutron.quota.reset", N, "/v2.0/quotas/{project}"))
        .await;
}

/// RBAC policies: admin shares `{net}` (the admin project's) with `{project}`, which then
/// sees it and puts a port on it; the policy cannot go while that port is there.
async fn network_rbac(rec: &mut Recorder) {
    use Svc::Network as N;
    let policy = |target: &str, action: &str| {
        json!({"rbac_policy": {"object_type": "network", "object_id": "{net}",
            "action": action, "target_tenant": target}})
    };
    rec.call(
        get(
            "neutron.network.show.unshared.by_project",
            N,
            "/v2.0/networks/{net}",
        )
        .auth(Auth::Var("project_token")),
    )
    .await;
    let reply = rec
        .call(post(
            "neutron.rbac.create",
            N,
            "/v2.0/rbac-policies",
            policy("{project}", "access_as_shared"),
        ))
        .await;
    rec.bind("rbac", reply.str_at("/rbac_policy/id"));
    rec.on_cleanup(N, "/v2.0/rbac-policies/{rbac}");
    rec.call(get("neutron.rbac.show", N, "/v2.0/rbac-policies/{rbac}"))
        .await;
    rec.call(get(
        "neutron.rbac.list.object",
        N,
        "/v2.0/rbac-policies?object_id={net}&action=access_as_shared",
    ))
    .await;
    rec.call(get(
        "neutron.rbac.list.tags",
        N,
        "/v2.0/rbac-policies?tags=anything",
    ))
    .await;
    rec.call(post(
        "neutron.rbac.create.duplicate",
        N,
        "/v2.0/rbac-policies",
        policy("{project}", "access_as_shared"),
    ))
    .await;
    rec.call(post(
        "neutron.rbac.create.bad_target",
        N,
        "/v2.0/rbac-policies",
        policy("not-a-project", "access_as_shared"),
    ))
    .await;
    rec.call(post(
        "neutron.rbac.create.bad_action",
        N,
        "/v2.0/rbac-policies",
        policy("{project}", "access_as_nothing"),
    ))
    .await;
    rec.call(post(
        "neutron.rbac.create.tags",
        N,
        "/v2.0/rbac-policies",
        json!({"rbac_policy": {"object_type": "network", "object_id": "{net}",
            "action": "access_as_shared", "target_tenant": "{project}", "tags": ["x"]}}),
    ))
    .await;
    rec.call(put(
        "neutron.rbac.update.action",
        N,
        "/v2.0/rbac-policies/{rbac}",
        json!({"rbac_policy": {"action": "access_as_external"}}),
    ))
    .await;
    rec.call(put(
        "neutron.rbac.update.target",
        N,
        "/v2.0/rbac-policies/{rbac}",
        json!({"rbac_policy": {"target_tenant": "{project}"}}),
    ))
    .await;
    rec.call(
        get(
            "neutron.rbac.show.by_target",
            N,
            "/v2.0/rbac-policies/{rbac}",
        )
        .auth(Auth::Var("project_token")),
    )
    .await;
    rec.call(
        get(
            "neutron.network.show.shared.by_project",
            N,
            "/v2.0/networks/{net}",
        )
        .auth(Auth::Var("project_token")),
    )
    .await;
    let reply = rec
        .call(
            post(
                "neutron.port.create.on_shared",
                N,
                "/v2.0/ports",
                json!({"port": {"network_id": "{net}", "name": "sfd-rbac-port"}}),
            )
            .auth(Auth::Var("project_token")),
        )
        .await;
    rec.bind("rbac_port", reply.str_at("/port/id"));
    rec.on_cleanup(N, "/v2.0/ports/{rbac_port}");
    rec.call(delete(
        "neutron.rbac.delete.in_use",
        N,
        "/v2.0/rbac-policies/{rbac}",
    ))
    .await;
    rec.call(delete(
        "neutron.port.delete.on_shared",
        N,
        "/v2.0/ports/{rbac_port}",
    ))
    .await;
    rec.call(delete(
        "neutron.rbac.delete",
        N,
        "/v2.0/rbac-policies/{rbac}",
    ))
    .await;
    rec.call(get(
        "neutron.rbac.show.deleted",
        N,
        "/v2.0/rbac-policies/{rbac}",
    ))
    .await;
    rec.call(delete(
        "neutron.rbac.delete.again",
        N,
        "/v2.0/rbac-policies/{rbac}",
    ))
    .await;
}

async fn compute(rec: &mut Recorder, login: &Login) {
    use Svc::Compute as C;
    let run = &login.run;
    rec.call(get("nova.versions", C, "/").auth(Auth::None))
        .await;
    rec.call(get("nova.version", C, "/v2.1/")).await;
    rec.call(get("nova.bad_token", C, "/v2.1/servers").auth(Auth::Raw(BOGUS_TOKEN.into())))
        .await;
    rec.call(get(
        "nova.server.not_found",
        C,
        &format!("/v2.1/servers/{NO_SUCH_ID}"),
    ))
    .await;
    rec.call(Req::new(
        "nova.method_not_allowed",
        C,
        Method::PATCH,
        "/v2.1/servers",
    ))
    .await;
    rec.call(get("nova.unknown_path", C, "/v2.1/nothings"))
        .await;
    rec.call(
        get(
            "nova.servers.list.no_microversion",
            C,
            "/v2.1/servers?name=sfd-none",
        )
        .no_microversion(),
    )
    .await;
    rec.call(
        get(
            "nova.servers.list.bad_microversion",
            C,
            "/v2.1/servers?name=sfd-none",
        )
        .header("OpenStack-API-Version", "compute 9.99"),
    )
    .await;
    let reply = rec.call(get("nova.flavors.list", C, "/v2.1/flavors")).await;
    let flavor = reply
        .body
        .pointer("/flavors")
        .and_then(Value::as_array)
        .and_then(|flavors| flavors.iter().find(|f| f["name"] == "m1.small"))
        .and_then(|f| f["id"].as_str())
        .unwrap_or("missing-m1.small")
        .to_string();
    rec.bind("flavor", flavor);
    rec.call(get("nova.flavors.detail", C, "/v2.1/flavors/detail"))
        .await;
    rec.call(get("nova.flavor.show", C, "/v2.1/flavors/{flavor}"))
        .await;
    rec.call(get(
        "nova.flavor.extra_specs",
        C,
        "/v2.1/flavors/{flavor}/os-extra_specs",
    ))
    .await;
    rec.call(get(
        "nova.flavor.not_found",
        C,
        "/v2.1/flavors/no-such-flavor",
    ))
    .await;
    rec.call(get("nova.limits", C, "/v2.1/limits")).await;
    rec.call(get(
        "nova.availability_zones",
        C,
        "/v2.1/os-availability-zone",
    ))
    .await;
    rec.call(get(
        "nova.availability_zones.detail",
        C,
        "/v2.1/os-availability-zone/detail",
    ))
    .await;
    rec.call(get("nova.keypairs", C, "/v2.1/os-keypairs")).await;
    rec.call(get("nova.quota.show", C, "/v2.1/os-quota-sets/{project}"))
        .await;
    rec.call(get(
        "nova.quota.defaults",
        C,
        "/v2.1/os-quota-sets/{project}/defaults",
    ))
    .await;
    rec.call(get(
        "nova.quota.detail",
        C,
        "/v2.1/os-quota-sets/{project}/detail",
    ))
    .await;
    rec.call(put(
        "nova.quota.update",
        C,
        "/v2.1/os-quota-sets/{project}",
        json!({"quota_set": {"cores": 0}}),
    ))
    .await;
    rec.call(
        post(
            "nova.server.create.over_quota",
            C,
            "/v2.1/servers",
            json!({"server": {"name": format!("sfd-quota-{run}"), "imageRef": "{image}",
                "flavorRef": "{flavor}", "networks": "none"}}),
        )
        .auth(Auth::Var("project_token")),
    )
    .await;
    rec.call(delete(
        "nova.quota.reset",
        C,
        "/v2.1/os-quota-sets/{project}",
    ))
    .await;

    rec.call(post(
        "nova.server.create.network_without_subnet",
        C,
        "/v2.1/servers",
        json!({"server": {"name": format!("sfd-nosubnet-{run}"), "imageRef": "{image}",
            "flavorRef": "{flavor}", "networks": [{"uuid": "{net2}"}]}}),
    ))
    .await;
    rec.call(post(
        "nova.server.create.bad_flavor",
        C,
        "/v2.1/servers",
        json!({"server": {"name": format!("sfd-badflavor-{run}"), "imageRef": "{image}",
            "flavorRef": "no-such-flavor", "networks": "none"}}),
    ))
    .await;
    rec.call(post(
        "nova.server.create.bad_image",
        C,
        "/v2.1/servers",
        json!({"server": {"name": format!("sfd-badimage-{run}"), "imageRef": NO_SUCH_ID,
            "flavorRef": "{flavor}", "networks": "none"}}),
    ))
    .await;
    rec.call(post(
        "nova.server.create.missing_networks",
        C,
        "/v2.1/servers",
        json!({"server": {"name": format!("sfd-nonets-{run}"), "imageRef": "{image}",
            "flavorRef": "{flavor}"}}),
    ))
    .await;
    let name = format!("sfd-server-{run}");
    let reply = rec
        .call(post(
            "nova.server.create",
            C,
            "/v2.1/servers",
            json!({"server": {"name": name, "imageRef": "{image}", "flavorRef": "{flavor}",
                "networks": [{"uuid": "{net}"}], "metadata": {"role": "differential"}}}),
        ))
        .await;
    rec.bind("server", reply.str_at("/server/id"));
    rec.on_cleanup(C, "/v2.1/servers/{server}");
    let servers = "/v2.1/servers/{server}";
    rec.poll(
        "nova.server.build",
        C,
        servers,
        "/server/status",
        &["ACTIVE", "ERROR"],
        TIMEOUT,
    )
    .await;
    rec.call(get("nova.server.show", C, servers)).await;
    server_reads(rec).await;
    rec.call(get(
        "nova.servers.list",
        C,
        &format!("/v2.1/servers?name={name}"),
    ))
    .await;
    rec.call(get(
        "nova.servers.detail",
        C,
        &format!("/v2.1/servers/detail?name={name}"),
    ))
    .await;
    rec.call(get(
        "nova.servers.detail.limit",
        C,
        "/v2.1/servers/detail?limit=1",
    ))
    .await;
    rec.call(put(
        "nova.server.update",
        C,
        servers,
        json!({"server": {"name": format!("{name}-renamed")}}),
    ))
    .await;
    super::bodies::server_renames(rec, &format!("{name}-renamed")).await;
    // What `instance.description` changes in place (2.19+).
    rec.call(put(
        "nova.server.update.description",
        C,
        servers,
        json!({"server": {"description": "described in place"}}),
    ))
    .await;
    let action = "/v2.1/servers/{server}/action";
    rec.call(post(
        "nova.server.start.active",
        C,
        action,
        json!({"os-start": null}),
    ))
    .await;
    rec.call(post(
        "nova.server.stop",
        C,
        action,
        json!({"os-stop": null}),
    ))
    .await;
    rec.poll(
        "nova.server.stopping",
        C,
        servers,
        "/server/status",
        &["SHUTOFF", "ERROR"],
        TIMEOUT,
    )
    .await;
    rec.call(get("nova.server.show.shutoff", C, servers)).await;
    rec.call(post(
        "nova.server.stop.shutoff",
        C,
        action,
        json!({"os-stop": null}),
    ))
    .await;
    rec.call(post(
        "nova.server.reboot.shutoff",
        C,
        action,
        json!({"reboot": {"type": "SOFT"}}),
    ))
    .await;
    rec.call(post(
        "nova.server.start",
        C,
        action,
        json!({"os-start": null}),
    ))
    .await;
    rec.poll(
        "nova.server.starting",
        C,
        servers,
        "/server/status",
        &["ACTIVE", "ERROR"],
        TIMEOUT,
    )
    .await;
    super::resize::refusals(rec).await;
    super::consoles::consoles(rec).await;
    rec.call(post(
        "nova.server.reboot",
        C,
        action,
        json!({"reboot": {"type": "SOFT"}}),
    ))
    .await;
    rec.poll(
        "nova.server.rebooting",
        C,
        servers,
        "/server/OS-EXT-STS:task_state",
        &["null"],
        TIMEOUT,
    )
    .await;
    rec.call(post(
        "nova.server.action.unknown",
        C,
        action,
        json!({"os-frobnicate": null}),
    ))
    .await;
    server_events(rec).await;

    let tags = "/v2.1/servers/{server}/tags";
    rec.call(put_empty(
        "nova.server.tag.add",
        C,
        "/v2.1/servers/{server}/tags/blue",
    ))
    .await;
    rec.call(get("nova.server.tags.list", C, tags)).await;
    rec.call(get(
        "nova.server.tag.check",
        C,
        "/v2.1/servers/{server}/tags/blue",
    ))
    .await;
    rec.call(get(
        "nova.server.tag.check.missing",
        C,
        "/v2.1/servers/{server}/tags/green",
    ))
    .await;
    rec.call(put(
        "nova.server.tags.replace",
        C,
        tags,
        json!({"tags": ["red", "yellow"]}),
    ))
    .await;
    rec.call(delete(
        "nova.server.tag.remove",
        C,
        "/v2.1/servers/{server}/tags/red",
    ))
    .await;
    rec.call(delete("nova.server.tags.clear", C, tags)).await;

    let metadata = "/v2.1/servers/{server}/metadata";
    rec.call(post(
        "nova.server.metadata.merge",
        C,
        metadata,
        json!({"metadata": {"tier": "web"}}),
    ))
    .await;
    rec.call(put(
        "nova.server.metadata.replace",
        C,
        metadata,
        json!({"metadata": {"tier": "db", "zone": "a"}}),
    ))
    .await;
    rec.call(get("nova.server.metadata.list", C, metadata))
        .await;
    rec.call(put(
        "nova.server.metadata.item.set",
        C,
        "/v2.1/servers/{server}/metadata/zone",
        json!({"meta": {"zone": "b"}}),
    ))
    .await;
    rec.call(get(
        "nova.server.metadata.item.show",
        C,
        "/v2.1/servers/{server}/metadata/zone",
    ))
    .await;
    rec.call(delete(
        "nova.server.metadata.item.delete",
        C,
        "/v2.1/servers/{server}/metadata/zone",
    ))
    .await;
    rec.call(get(
        "nova.server.metadata.item.missing",
        C,
        "/v2.1/servers/{server}/metadata/zone",
    ))
    .await;

    rec.call(delete("nova.server.delete", C, servers)).await;
    rec.poll(
        "nova.server.deleting",
        C,
        servers,
        "/server/status",
        &["404"],
        TIMEOUT,
    )
    .await;
    rec.call(get("nova.server.show.deleted", C, servers)).await;
    admin_boots_on_another_projects_network(rec, login).await;
    servers_on_ports(rec, login).await;
}

/// A server booted on a port made beforehand (`instance.ports`): detaching the port
/// (os-interface DELETE) unbinds it and keeps it, and so does deleting the server
/// (preserve_on_delete).
async fn servers_on_ports(rec: &mut Recorder, login: &Login) {
    use Svc::{Compute as C, Network as N};
    let run = &login.run;
    for (which, detach) in [("detached", true), ("kept", false)] {
        let reply = rec
            .call(post(
                &format!("neutron.port.create.for_server.{which}"),
                N,
                "/v2.0/ports",
                json!({"port": {"name": format!("sfd-bootport-{which}-{run}"),
                    "network_id": "{net}"}}),
            ))
            .await;
        rec.bind("boot_port", reply.str_at("/port/id"));
        rec.on_cleanup(N, "/v2.0/ports/{boot_port}");
        let reply = rec
            .call(post(
                &format!("nova.server.create.on_port.{which}"),
                C,
                "/v2.1/servers",
                json!({"server": {"name": format!("sfd-onport-{which}-{run}"),
                    "imageRef": "{image}", "flavorRef": "{flavor}",
                    "networks": [{"port": "{boot_port}"}]}}),
            ))
            .await;
        rec.bind("port_server", reply.str_at("/server/id"));
        rec.on_cleanup(C, "/v2.1/servers/{port_server}");
        let server = "/v2.1/servers/{port_server}";
        let port = "/v2.0/ports/{boot_port}";
        rec.poll(
            &format!("nova.server.on_port.{which}.build"),
            C,
            server,
            "/server/status",
            &["ACTIVE", "ERROR"],
            TIMEOUT,
        )
        .await;
        rec.poll(
            &format!("neutron.port.on_server.{which}.bound"),
            N,
            port,
            "/port/device_owner",
            &["compute:nova"],
            TIMEOUT,
        )
        .await;
        if detach {
            rec.call(delete(
                "nova.server.interface.detach",
                C,
                &format!("{server}/os-interface/{{boot_port}}"),
            ))
            .await;
        } else {
            rec.call(delete("nova.server.delete.on_port", C, server))
                .await;
            rec.poll(
                "nova.server.on_port.deleting",
                C,
                server,
                "/server/status",
                &["404"],
                TIMEOUT,
            )
            .await;
        }
        rec.poll(
            &format!("neutron.port.on_server.{which}.unbound"),
            N,
            port,
            "/port/device_owner",
            &[""],
            TIMEOUT,
        )
        .await;
        rec.call(get(&format!("neutron.port.show.{which}"), N, port))
            .await;
    }
}

/// The reads standard clients make of a server beside GET /servers/{id}: Ansible's
/// openstack.cloud.server reads os-security-groups on every run; `openstack server event
/// list` reads os-instance-actions; openstacksdk's interface and volume attachment listings.
async fn server_reads(rec: &mut Recorder) {
    use Svc::Compute as C;
    rec.call(get(
        "nova.server.security_groups",
        C,
        "/v2.1/servers/{server}/os-security-groups",
    ))
    .await;
    rec.call(get(
        "nova.server.security_groups.not_found",
        C,
        &format!("/v2.1/servers/{NO_SUCH_ID}/os-security-groups"),
    ))
    .await;
    let reply = rec
        .call(get(
            "nova.server.interfaces",
            C,
            "/v2.1/servers/{server}/os-interface",
        ))
        .await;
    rec.bind(
        "server_port",
        reply.str_at("/interfaceAttachments/0/port_id"),
    );
    rec.call(get(
        "nova.server.interface.show",
        C,
        "/v2.1/servers/{server}/os-interface/{server_port}",
    ))
    .await;
    rec.call(
        get(
            "nova.server.interfaces.tagged",
            C,
            "/v2.1/servers/{server}/os-interface",
        )
        .header("OpenStack-API-Version", "compute 2.70"),
    )
    .await;
    rec.call(get(
        "nova.server.interface.not_found",
        C,
        &format!("/v2.1/servers/{{server}}/os-interface/{NO_SUCH_ID}"),
    ))
    .await;
    rec.call(get(
        "nova.server.interface.other_port",
        C,
        "/v2.1/servers/{server}/os-interface/{port}",
    ))
    .await;
}

/// `openstack server event list/show`, `server volume list`, `server group list`, once the
/// server has been built, stopped, started and rebooted.
async fn server_events(rec: &mut Recorder) {
    use Svc::Compute as C;
    let actions = "/v2.1/servers/{server}/os-instance-actions";
    let reply = rec.call(get("nova.server.actions.list", C, actions)).await;
    let create = reply
        .body
        .pointer("/instanceActions")
        .and_then(Value::as_array)
        .and_then(|list| list.iter().find(|a| a["action"] == "create"))
        .and_then(|a| a["request_id"].as_str())
        .unwrap_or("missing-create-action")
        .to_string();
    rec.bind("create_request", create);
    rec.call(get(
        "nova.server.action.show",
        C,
        "/v2.1/servers/{server}/os-instance-actions/{create_request}",
    ))
    .await;
    rec.call(
        get(
            "nova.server.action.show.2_50",
            C,
            "/v2.1/servers/{server}/os-instance-actions/{create_request}",
        )
        .header("OpenStack-API-Version", "compute 2.50"),
    )
    .await;
    rec.call(get("nova.server.actions.list.2_1", C, actions).no_microversion())
        .await;
    rec.call(get(
        "nova.server.actions.list.limit",
        C,
        "/v2.1/servers/{server}/os-instance-actions?limit=1",
    ))
    .await;
    rec.call(get(
        "nova.server.actions.list.bad_marker",
        C,
        "/v2.1/servers/{server}/os-instance-actions?marker=req-sfd-none",
    ))
    .await;
    rec.call(get(
        "nova.server.action.not_found",
        C,
        "/v2.1/servers/{server}/os-instance-actions/req-sfd-none",
    ))
    .await;
    rec.call(get(
        "nova.server.volume_attachments",
        C,
        "/v2.1/servers/{server}/os-volume_attachments",
    ))
    .await;
    rec.call(get("nova.server_groups.list", C, "/v2.1/os-server-groups"))
        .await;
}

/// Regression: an admin may boot on another project's unshared network (real Nova goes
/// ACTIVE; the embedded cloud answered 400 "Network ... could not be found").
async fn admin_boots_on_another_projects_network(rec: &mut Recorder, login: &Login) {
    use Svc::{Compute as C, Network as N};
    let run = &login.run;
    let reply = rec
        .call(post(
            "neutron.network.create.other_project",
            N,
            "/v2.0/networks",
            json!({"network": {"name": format!("sfd-othernet-{run}"), "project_id": "{project}"}}),
        ))
        .await;
    rec.bind("other_net", reply.str_at("/network/id"));
    rec.on_cleanup(N, "/v2.0/networks/{other_net}");
    let reply = rec
        .call(post(
            "neutron.subnet.create.other_project",
            N,
            "/v2.0/subnets",
            json!({"subnet": {"name": format!("sfd-othersub-{run}"), "network_id": "{other_net}",
                "cidr": "10.77.0.0/24", "ip_version": 4, "project_id": "{project}"}}),
        ))
        .await;
    rec.bind("other_subnet", reply.str_at("/subnet/id"));
    rec.on_cleanup(N, "/v2.0/subnets/{other_subnet}");
    let reply = rec
        .call(post(
            "nova.server.create.admin_on_other_project_network",
            C,
            "/v2.1/servers",
            json!({"server": {"name": format!("sfd-adminboot-{run}"), "imageRef": "{image}",
                "flavorRef": "{flavor}", "networks": [{"uuid": "{other_net}"}]}}),
        ))
        .await;
    rec.bind("admin_server", reply.str_at("/server/id"));
    rec.on_cleanup(C, "/v2.1/servers/{admin_server}");
    let server = "/v2.1/servers/{admin_server}";
    rec.poll(
        "nova.server.admin_on_other_project_network.build",
        C,
        server,
        "/server/status",
        &["ACTIVE", "ERROR"],
        TIMEOUT,
    )
    .await;
    rec.call(get(
        "nova.server.admin_on_other_project_network.interfaces",
        C,
        "/v2.1/servers/{admin_server}/os-interface",
    ))
    .await;
    rec.call(get(
        "nova.server.admin_on_other_project_network.security_groups",
        C,
        "/v2.1/servers/{admin_server}/os-security-groups",
    ))
    .await;
    rec.call(delete(
        "nova.server.admin_on_other_project_network.delete",
        C,
        server,
    ))
    .await;
    rec.poll(
        "nova.server.admin_on_other_project_network.deleting",
        C,
        server,
        "/server/status",
        &["404"],
        TIMEOUT,
    )
    .await;
    rec.call(delete(
        "neutron.subnet.delete.other_project",
        N,
        "/v2.0/subnets/{other_subnet}",
    ))
    .await;
    rec.call(delete(
        "neutron.network.delete.other_project",
        N,
        "/v2.0/networks/{other_net}",
    ))
    .await;
}

async fn teardown(rec: &mut Recorder) {
    use Svc::{Identity as I, Image as G, Network as N};
    rec.call(delete("neutron.router.delete", N, "/v2.0/routers/{router}"))
        .await;
    rec.call(delete("neutron.port.delete", N, "/v2.0/ports/{port}"))
        .await;
    rec.call(delete(
        "neutron.rule.delete",
        N,
        "/v2.0/security-group-rules/{rule}",
    ))
    .await;
    rec.call(delete(
        "neutron.security_group.delete",
        N,
        "/v2.0/security-groups/{sg}",
    ))
    .await;
    rec.call(delete("neutron.subnet.delete", N, "/v2.0/subnets/{subnet}"))
        .await;
    rec.call(delete("neutron.network.delete", N, "/v2.0/networks/{net}"))
        .await;
    rec.call(delete(
        "neutron.network.delete.second",
        N,
        "/v2.0/networks/{net2}",
    ))
    .await;
    rec.call(delete(
        "neutron.network.delete.again",
        N,
        "/v2.0/networks/{net2}",
    ))
    .await;
    rec.call(delete(
        "neutron.subnet.delete.external",
        N,
        "/v2.0/subnets/{ext_subnet}",
    ))
    .await;
    rec.call(delete(
        "neutron.network.delete.external",
        N,
        "/v2.0/networks/{ext_net}",
    ))
    .await;
    rec.call(delete("glance.image.delete", G, "/v2/images/{image}"))
        .await;
    rec.call(get("glance.image.show.deleted", G, "/v2/images/{image}"))
        .await;
    rec.call(delete(
        "keystone.grant.remove",
        I,
        "/v3/projects/{project}/users/{user}/roles/{member_role}",
    ))
    .await;
    rec.call(delete("keystone.user.delete", I, "/v3/users/{user}"))
        .await;
    rec.call(delete(
        "keystone.project.delete",
        I,
        "/v3/projects/{project}",
    ))
    .await;
    rec.call(get(
        "keystone.project.show.deleted",
        I,
        "/v3/projects/{project}",
    ))
    .await;
}
