//! Glance's image data and visibility: an image's data (none yet: 204; uploaded, then
//! downloaded with its Content-MD5; uploaded twice: 409), show after upload (status, size,
//! hashes), a list by tag, JSON patches in Glance's media type and in the generic one, tags
//! added and removed (twice), delete (twice), and what a project member of another project
//! sees of the admin's private, shared, community and public images, and may not do (make an
//! image public).

use reqwest::Method;
use serde_json::json;

use super::recorder::{Auth, Recorder, Req, Svc};
use super::script::{Login, delete, get, post, put_empty, subject_token, token_request};

/// The data of the run's image: deterministic, so both clouds hash it alike; bigger than one
/// read or write piece of the embedded cloud's streams.
fn image_data() -> Vec<u8> {
    (0..300_000u32).map(|i| (i * 7 % 253) as u8).collect()
}

pub(super) async fn glance(rec: &mut Recorder, login: &Login) {
    data(rec, &login.run).await;
    format_mismatch(rec, &login.run).await;
    visibility(rec, &login.run).await;
}

async fn data(rec: &mut Recorder, run: &str) {
    use Svc::Image as G;
    let reply = rec
        .call(post(
            "glance.data.create",
            G,
            "/v2/images",
            json!({"name": format!("sfd-data-{run}"), "disk_format": "raw",
                "container_format": "bare", "tags": [format!("sfd-tag-{run}")]}),
        ))
        .await;
    rec.bind("data_image", reply.str_at("/id"));
    rec.on_cleanup(G, "/v2/images/{data_image}");
    rec.call(get(
        "glance.data.download.queued",
        G,
        "/v2/images/{data_image}/file",
    ))
    .await;
    rec.call(
        Req::new(
            "glance.data.upload",
            G,
            Method::PUT,
            "/v2/images/{data_image}/file",
        )
        .raw(image_data(), "application/octet-stream"),
    )
    .await;
    rec.call(get("glance.data.show.active", G, "/v2/images/{data_image}"))
        .await;
    rec.call(get(
        "glance.data.download",
        G,
        "/v2/images/{data_image}/file",
    ))
    .await;
    rec.call(
        Req::new(
            "glance.data.upload.again",
            G,
            Method::PUT,
            "/v2/images/{data_image}/file",
        )
        // Small: Glance answers 409 without reading the body, then drops the connection
        // when the body is larger than its buffers (the next call would fail to send).
        .raw(vec![1u8; 4096], "application/octet-stream")
        .header("Accept", "application/json"),
    )
    .await;
    rec.call(get(
        "glance.data.list.tag",
        G,
        &format!("/v2/images?tag=sfd-tag-{run}"),
    ))
    .await;
    let patch = json!([
        {"op": "replace", "path": "/name", "value": format!("sfd-data2-{run}")},
        {"op": "add", "path": "/hw_disk_bus", "value": "scsi"},
        {"op": "remove", "path": "/hw_disk_bus"},
        {"op": "add", "path": "/os_distro", "value": "cirros"}
    ]);
    rec.call(
        Req::new(
            "glance.data.patch",
            G,
            Method::PATCH,
            "/v2/images/{data_image}",
        )
        .raw(
            patch.to_string().into_bytes(),
            "application/openstack-images-v2.1-json-patch",
        ),
    )
    .await;
    rec.call(
        Req::new(
            "glance.data.patch.json_patch_media_type",
            G,
            Method::PATCH,
            "/v2/images/{data_image}",
        )
        .raw(
            json!([{"op": "replace", "path": "/min_ram", "value": 64}])
                .to_string()
                .into_bytes(),
            "application/json-patch+json",
        )
        .header("Accept", "application/json"),
    )
    .await;
    rec.call(put_empty(
        "glance.data.tag.add",
        G,
        "/v2/images/{data_image}/tags/green",
    ))
    .await;
    rec.call(delete(
        "glance.data.tag.remove",
        G,
        "/v2/images/{data_image}/tags/green",
    ))
    .await;
    rec.call(
        delete(
            "glance.data.tag.remove.missing",
            G,
            "/v2/images/{data_image}/tags/green",
        )
        .header("Accept", "application/json"),
    )
    .await;
    rec.call(get(
        "glance.data.show.patched",
        G,
        "/v2/images/{data_image}",
    ))
    .await;
    rec.call(delete("glance.data.delete", G, "/v2/images/{data_image}"))
        .await;
    rec.call(
        delete("glance.data.delete.again", G, "/v2/images/{data_image}")
            .header("Accept", "application/json"),
    )
    .await;
    rec.call(
        get(
            "glance.data.download.deleted",
            G,
            "/v2/images/{data_image}/file",
        )
        .header("Accept", "application/json"),
    )
    .await;
}

/// Data that is not what the image's disk_format says: Glance inspects it and refuses it (415,
/// the image back to `queued`). Nothing else is asked of that image: real Glance keeps the
/// refused data's checksum on it and answers 500 to its next upload or download (a Glance bug
/// the embedded cloud does not copy: its image is queued and clean, ready for a retry).
async fn format_mismatch(rec: &mut Recorder, run: &str) {
    use Svc::Image as G;
    let reply = rec
        .call(post(
            "glance.format.create.qcow2",
            G,
            "/v2/images",
            json!({"name": format!("sfd-qcow2-{run}"), "disk_format": "qcow2",
                "container_format": "bare"}),
        ))
        .await;
    rec.bind("qcow2_image", reply.str_at("/id"));
    rec.on_cleanup(G, "/v2/images/{qcow2_image}");
    rec.call(
        Req::new(
            "glance.format.upload.raw_data",
            G,
            Method::PUT,
            "/v2/images/{qcow2_image}/file",
        )
        .raw(image_data(), "application/octet-stream")
        .header("Accept", "application/json"),
    )
    .await;
    rec.call(get(
        "glance.format.show.refused",
        G,
        "/v2/images/{qcow2_image}",
    ))
    .await;
    rec.call(delete(
        "glance.format.delete",
        G,
        "/v2/images/{qcow2_image}",
    ))
    .await;
}

/// The admin's image in each visibility, seen by `sfd-user-{run}`, a member of the run's
/// project (made by the identity part of the script).
async fn visibility(rec: &mut Recorder, run: &str) {
    use Svc::Image as G;
    let body = token_request(
        &format!("sfd-user-{run}"),
        "sfd-secret-pw",
        "Default",
        &format!("sfd-{run}"),
        "Default",
    );
    let reply = rec
        .call(
            post(
                "keystone.token.issue.glance_member",
                Svc::Identity,
                "/v3/auth/tokens",
                body,
            )
            .auth(Auth::None),
        )
        .await;
    rec.bind("member_token", subject_token(&reply));
    let name = format!("sfd-vis-{run}");
    let reply = rec
        .call(post(
            "glance.visibility.create.private",
            G,
            "/v2/images",
            json!({"name": name, "disk_format": "raw", "container_format": "bare",
                "visibility": "private"}),
        ))
        .await;
    rec.bind("vis_image", reply.str_at("/id"));
    rec.on_cleanup(G, "/v2/images/{vis_image}");
    for visibility in ["private", "shared", "community", "public"] {
        let patch = json!([{"op": "replace", "path": "/visibility", "value": visibility}]);
        rec.call(
            Req::new(
                &format!("glance.visibility.{visibility}.set"),
                G,
                Method::PATCH,
                "/v2/images/{vis_image}",
            )
            .raw(
                patch.to_string().into_bytes(),
                "application/openstack-images-v2.1-json-patch",
            ),
        )
        .await;
        rec.call(
            get(
                &format!("glance.visibility.{visibility}.member.show"),
                G,
                "/v2/images/{vis_image}",
            )
            .header("Accept", "application/json")
            .auth(Auth::Var("member_token")),
        )
        .await;
        rec.call(
            get(
                &format!("glance.visibility.{visibility}.member.list"),
                G,
                &format!("/v2/images?name={name}"),
            )
            .auth(Auth::Var("member_token")),
        )
        .await;
        rec.call(
            get(
                &format!("glance.visibility.{visibility}.member.list.filtered"),
                G,
                &format!("/v2/images?name={name}&visibility={visibility}"),
            )
            .auth(Auth::Var("member_token")),
        )
        .await;
    }
    // A member may not publish: neither at create nor by a patch of its own image.
    rec.call(
        post(
            "glance.visibility.member.create.public",
            G,
            "/v2/images",
            json!({"name": format!("sfd-pub-{run}"), "disk_format": "raw",
                "container_format": "bare", "visibility": "public"}),
        )
        .header("Accept", "application/json")
        .auth(Auth::Var("member_token")),
    )
    .await;
    let reply = rec
        .call(
            post(
                "glance.visibility.member.create",
                G,
                "/v2/images",
                json!({"name": format!("sfd-own-{run}"), "disk_format": "raw",
                    "container_format": "bare"}),
            )
            .auth(Auth::Var("member_token")),
        )
        .await;
    rec.bind("member_image", reply.str_at("/id"));
    rec.on_cleanup(G, "/v2/images/{member_image}");
    let patch = json!([{"op": "replace", "path": "/visibility", "value": "public"}]);
    rec.call(
        Req::new(
            "glance.visibility.member.publish",
            G,
            Method::PATCH,
            "/v2/images/{member_image}",
        )
        .raw(
            patch.to_string().into_bytes(),
            "application/openstack-images-v2.1-json-patch",
        )
        .header("Accept", "application/json")
        .auth(Auth::Var("member_token")),
    )
    .await;
    // The member's image is the admin's to see and delete.
    rec.call(get(
        "glance.visibility.admin.show_member_image",
        G,
        "/v2/images/{member_image}",
    ))
    .await;
    rec.call(delete(
        "glance.visibility.member_image.delete",
        G,
        "/v2/images/{member_image}",
    ))
    .await;
    rec.call(delete(
        "glance.visibility.delete",
        G,
        "/v2/images/{vis_image}",
    ))
    .await;
}
