//! Nova's resize actions on an ACTIVE `{server}` that refuse: to its own flavor, to a flavor
//! that does not exist, and confirmResize / revertResize with no resize to settle. (A resize
//! that succeeds needs a second flavor both clouds know: the real cloud's fixtures have only
//! `m1.small` and one no host can take; `tests/it/volumes/resize.rs` covers it end to end.)

use serde_json::json;

use super::recorder::{Recorder, Svc};
use super::script::post;

pub(super) async fn refusals(rec: &mut Recorder) {
    use Svc::Compute as C;
    let action = "/v2.1/servers/{server}/action";
    rec.call(post(
        "nova.server.resize.same_flavor",
        C,
        action,
        json!({"resize": {"flavorRef": "{flavor}"}}),
    ))
    .await;
    rec.call(post(
        "nova.server.resize.no_such_flavor",
        C,
        action,
        json!({"resize": {"flavorRef": "no-such-flavor"}}),
    ))
    .await;
    rec.call(post(
        "nova.server.resize.no_flavor_ref",
        C,
        action,
        json!({"resize": {}}),
    ))
    .await;
    rec.call(post(
        "nova.server.confirm_resize.not_resized",
        C,
        action,
        json!({"confirmResize": null}),
    ))
    .await;
    rec.call(post(
        "nova.server.revert_resize.not_resized",
        C,
        action,
        json!({"revertResize": null}),
    ))
    .await;
}
