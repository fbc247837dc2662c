//! os-flavor-manage, as an admin makes and deletes a flavor: create, a second of the same
//! name (409), show, delete, delete again and show after (404), and a server asked for on the
//! deleted flavor's id (400 "Invalid flavorRef provided.": what stackform's apply meets when
//! its cached compute catalog names a flavor deleted since the pull, and looks it up again).

use serde_json::json;

use super::recorder::{Recorder, Svc};
use super::script::{delete, get, post};

pub(super) async fn flavors(rec: &mut Recorder, run: &str) {
    use Svc::Compute as C;
    let flavor = json!({"flavor": {"name": format!("sfd-flavor-{run}"), "vcpus": 1, "ram": 64,
                                   "disk": 1}});
    let reply = rec
        .call(post(
            "nova.flavor.create",
            C,
            "/v2.1/flavors",
            flavor.clone(),
        ))
        .await;
    rec.bind("made_flavor", reply.str_at("/flavor/id"));
    rec.on_cleanup(C, "/v2.1/flavors/{made_flavor}");
    rec.call(post(
        "nova.flavor.create.name_taken",
        C,
        "/v2.1/flavors",
        flavor,
    ))
    .await;
    rec.call(get(
        "nova.flavor.show.made",
        C,
        "/v2.1/flavors/{made_flavor}",
    ))
    .await;
    rec.call(delete(
        "nova.flavor.delete",
        C,
        "/v2.1/flavors/{made_flavor}",
    ))
    .await;
    rec.call(delete(
        "nova.flavor.delete.again",
        C,
        "/v2.1/flavors/{made_flavor}",
    ))
    .await;
    rec.call(get(
        "nova.flavor.show.deleted",
        C,
        "/v2.1/flavors/{made_flavor}",
    ))
    .await;
    rec.call(post(
        "nova.server.create.deleted_flavor",
        C,
        "/v2.1/servers",
        json!({"server": {"name": format!("sfd-goneflavor-{run}"), "imageRef": "{image}",
                "flavorRef": "{made_flavor}", "networks": "none"}}),
    ))
    .await;
}
