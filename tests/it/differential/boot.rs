//! A server booted from a new volume of the image (block_device_mapping_v2 `source_type=image,
//! destination_type=volume`), with user data, a config drive and a zone: Nova's refusals of a
//! bad user_data, an unknown zone and a mapping without a size; the server's view (`"image":
//! ""`, its user data to an admin, `config_drive`), its attachment on the root device, the
//! volume in Cinder (in-use, bootable) and gone with the server (delete_on_termination).

use reqwest::Method;
use serde_json::{Value, json};

use super::recorder::{Recorder, Req, Svc};
use super::script::{Login, TIMEOUT};

fn server(run: &str, extra: Value) -> Value {
    let mut server = json!({
        "name": format!("sfd-boot-{run}"),
        "flavorRef": "{flavor}",
        "networks": "none",
        "block_device_mapping_v2": [{
            "boot_index": 0, "uuid": "{image}", "source_type": "image",
            "destination_type": "volume", "volume_size": 1, "delete_on_termination": true,
        }],
        "user_data": "I2Nsb3VkLWNvbmZpZwo=",
        "config_drive": true,
        "availability_zone": "nova",
    });
    if let (Some(body), Value::Object(extra)) = (server.as_object_mut(), extra) {
        body.extend(extra);
    }
    json!({ "server": server })
}

pub(super) async fn boot_from_volume(rec: &mut Recorder, login: &Login) {
    use Svc::Compute as C;
    let run = &login.run;
    let create =
        |label: &str, body: Value| Req::new(label, C, Method::POST, "/v2.1/servers").json(body);
    rec.call(create(
        "nova.boot.user_data_not_base64",
        server(run, json!({"user_data": "not base64!"})),
    ))
    .await;
    rec.call(create(
        "nova.boot.unknown_zone",
        server(run, json!({"availability_zone": "nowhere"})),
    ))
    .await;
    rec.call(create(
        "nova.boot.volume_without_size",
        server(
            run,
            json!({"block_device_mapping_v2": [{"boot_index": 0, "uuid": "{image}",
                "source_type": "image", "destination_type": "volume"}]}),
        ),
    ))
    .await;
    let reply = rec
        .call(create("nova.boot.from_new_volume", server(run, json!({}))))
        .await;
    rec.bind("boot_server", reply.str_at("/server/id"));
    rec.on_cleanup(C, "/v2.1/servers/{boot_server}");
    rec.poll(
        "nova.boot.wait_active",
        C,
        "/v2.1/servers/{boot_server}",
        "/server/status",
        &["ACTIVE", "ERROR"],
        TIMEOUT,
    )
    .await;
    rec.call(Req::new(
        "nova.boot.server.show",
        C,
        Method::GET,
        "/v2.1/servers/{boot_server}",
    ))
    .await;
    let reply = rec
        .call(Req::new(
            "nova.boot.volume_attachments",
            C,
            Method::GET,
            "/v2.1/servers/{boot_server}/os-volume_attachments",
        ))
        .await;
    rec.bind("boot_volume", reply.str_at("/volumeAttachments/0/volumeId"));
    rec.call(Req::new(
        "cinder.boot.volume.show",
        Svc::BlockStorage,
        Method::GET,
        "/volumes/{boot_volume}",
    ))
    .await;
    rec.call(Req::new(
        "nova.boot.server.delete",
        C,
        Method::DELETE,
        "/v2.1/servers/{boot_server}",
    ))
    .await;
    rec.poll(
        "nova.boot.server.wait_deleted",
        C,
        "/v2.1/servers/{boot_server}",
        "/server/status",
        &["404"],
        TIMEOUT,
    )
    .await;
    rec.poll(
        "cinder.boot.volume.wait_deleted",
        Svc::BlockStorage,
        "/volumes/{boot_volume}",
        "/volume/status",
        &["404"],
        TIMEOUT,
    )
    .await;
}
