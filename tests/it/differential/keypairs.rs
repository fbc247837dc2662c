//! Nova keypairs (per user): import with Nova's validation (a name it refuses, a key it cannot
//! fingerprint, a name taken), list, show, a server create naming a keypair the caller does
//! not have, and delete (twice).

use serde_json::json;

use super::recorder::{Recorder, Svc};
use super::script::{delete, get, post};

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPGUr3OlcqeYBaYI1GgSBM5uDJYUEPa5hzxRXK7Masug probe@sf";

pub(super) async fn keypairs(rec: &mut Recorder, run: &str) {
    use Svc::Compute as C;
    let keypairs = "/v2.1/os-keypairs";
    let name = format!("sfd-kp-{run}");
    rec.bind("keypair", name.clone());
    for (label, keypair) in [
        (
            "nova.keypair.create.bad_name",
            json!({"name": format!("sfd kp/{run}"), "public_key": KEY}),
        ),
        (
            "nova.keypair.create.bad_key",
            json!({"name": name, "public_key": "ssh-rsa notbase64!!"}),
        ),
    ] {
        rec.call(post(label, C, keypairs, json!({ "keypair": keypair })))
            .await;
    }
    rec.call(post(
        "nova.keypair.create",
        C,
        keypairs,
        json!({"keypair": {"name": name, "public_key": KEY}}),
    ))
    .await;
    rec.on_cleanup(C, "/v2.1/os-keypairs/{keypair}");
    rec.call(post(
        "nova.keypair.create.taken",
        C,
        keypairs,
        json!({"keypair": {"name": name, "public_key": KEY}}),
    ))
    .await;
    rec.call(get("nova.keypair.list", C, keypairs)).await;
    rec.call(get("nova.keypair.show", C, "/v2.1/os-keypairs/{keypair}"))
        .await;
    rec.call(post(
        "nova.server.create.unknown_key_name",
        C,
        "/v2.1/servers",
        json!({"server": {"name": format!("sfd-kp-{run}"), "imageRef": "{image}",
                "flavorRef": "{flavor}", "networks": "none",
                "key_name": format!("sfd-nokey-{run}")}}),
    ))
    .await;
    rec.call(delete(
        "nova.keypair.delete",
        C,
        "/v2.1/os-keypairs/{keypair}",
    ))
    .await;
    rec.call(delete(
        "nova.keypair.delete.missing",
        C,
        "/v2.1/os-keypairs/{keypair}",
    ))
    .await;
}
