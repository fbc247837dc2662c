//! Bodies a service may refuse before reading them: a JSON body sent as `text/plain` or another
//! media type, and a NUL in a name. What the services' code says (and the embedded cloud does):
//! Keystone refuses a body whose Content-Type is not JSON (400), Nova refuses media types other
//! than JSON and `text/plain` (415) and names with control characters (400); Neutron and
//! Glance read the body as JSON whatever the header says. Whether Keystone, Neutron and Glance
//! store a NUL depends on their database: the recordings say what the real cloud did.

use serde_json::json;

use super::recorder::{Recorder, Req, Svc};
use super::script::Login;
use reqwest::Method;

/// `body` as bytes sent with `content_type`.
fn raw(label: &str, svc: Svc, method: Method, path: &str, body: String, ct: &'static str) -> Req {
    Req::new(label, svc, method, path).raw(body.into_bytes(), ct)
}

/// Keystone, Neutron and Glance: creates whose refusal is the case under test; anything they
/// accept is cleaned up with the rest.
pub async fn creates(rec: &mut Recorder, login: &Login) {
    let run = &login.run;
    let project = json!({"project": {"name": format!("sfd-plain-{run}"), "domain_id": "default"}});
    let reply = rec
        .call(raw(
            "keystone.project.create.text_plain",
            Svc::Identity,
            Method::POST,
            "/v3/projects",
            project.to_string(),
            "text/plain",
        ))
        .await;
    rec.bind("plain_project", reply.str_at("/project/id"));
    rec.on_cleanup(Svc::Identity, "/v3/projects/{plain_project}");
    let reply = rec
        .call(
            Req::new(
                "keystone.project.create.nul_name",
                Svc::Identity,
                Method::POST,
                "/v3/projects",
            )
            .json(
                json!({"project": {"name": format!("sfd-nul\u{0}{run}"), "domain_id": "default"}}),
            ),
        )
        .await;
    rec.bind("nul_project", reply.str_at("/project/id"));
    rec.on_cleanup(Svc::Identity, "/v3/projects/{nul_project}");

    let network = json!({"network": {"name": format!("sfd-plain-{run}")}});
    let reply = rec
        .call(raw(
            "neutron.network.create.text_plain",
            Svc::Network,
            Method::POST,
            "/v2.0/networks",
            network.to_string(),
            "text/plain",
        ))
        .await;
    rec.bind("plain_net", reply.str_at("/network/id"));
    rec.on_cleanup(Svc::Network, "/v2.0/networks/{plain_net}");
    let reply = rec
        .call(
            Req::new(
                "neutron.network.create.nul_name",
                Svc::Network,
                Method::POST,
                "/v2.0/networks",
            )
            .json(json!({"network": {"name": format!("sfd-nul\u{0}{run}")}})),
        )
        .await;
    rec.bind("nul_net", reply.str_at("/network/id"));
    rec.on_cleanup(Svc::Network, "/v2.0/networks/{nul_net}");

    let image = json!({"name": format!("sfd-plain-{run}"), "disk_format": "raw", "container_format": "bare"});
    let reply = rec
        .call(raw(
            "glance.image.create.text_plain",
            Svc::Image,
            Method::POST,
            "/v2/images",
            image.to_string(),
            "text/plain",
        ))
        .await;
    rec.bind("plain_image", reply.str_at("/id"));
    rec.on_cleanup(Svc::Image, "/v2/images/{plain_image}");
    let reply = rec
        .call(
            Req::new(
                "glance.image.create.nul_name",
                Svc::Image,
                Method::POST,
                "/v2/images",
            )
            .json(
                json!({"name": format!("sfd-nul\u{0}{run}"), "disk_format": "raw",
                "container_format": "bare"}),
            ),
        )
        .await;
    rec.bind("nul_image", reply.str_at("/id"));
    rec.on_cleanup(Svc::Image, "/v2/images/{nul_image}");
}

/// Nova, on the script's server (`{server}`), already named `renamed`: renames in other media
/// types (to the same name, so the later steps see what they expect) and with a NUL.
pub async fn server_renames(rec: &mut Recorder, renamed: &str) {
    let servers = "/v2.1/servers/{server}";
    let body = json!({"server": {"name": renamed}}).to_string();
    rec.call(raw(
        "nova.server.update.xml",
        Svc::Compute,
        Method::PUT,
        servers,
        body.clone(),
        "application/xml",
    ))
    .await;
    rec.call(raw(
        "nova.server.update.text_plain",
        Svc::Compute,
        Method::PUT,
        servers,
        body,
        "text/plain",
    ))
    .await;
    rec.call(
        Req::new(
            "nova.server.update.nul_name",
            Svc::Compute,
            Method::PUT,
            servers,
        )
        .json(json!({"server": {"name": format!("{renamed}\u{0}nul")}})),
    )
    .await;
}
