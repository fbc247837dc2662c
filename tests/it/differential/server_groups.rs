//! Nova server groups (2.64+): create with Nova's validation (an unknown policy, rules of a
//! policy other than anti-affinity, a rule below its minimum), show, list, and the scheduling
//! of two servers booted into a hard anti-affinity group on a cloud of one compute host (the
//! second one ends in ERROR with the scheduler's fault), then the group deleted with a member
//! (allowed) and read after.

use serde_json::json;

use super::recorder::{Recorder, Svc};
use super::script::{TIMEOUT, delete, get, post};

pub(super) async fn server_groups(rec: &mut Recorder, run: &str) {
    use Svc::Compute as C;
    let groups = "/v2.1/os-server-groups";
    for (label, group) in [
        (
            "nova.server_group.create.bad_policy",
            json!({"name": format!("sfd-grp-bad-{run}"), "policy": "bogus"}),
        ),
        (
            "nova.server_group.create.rules_of_affinity",
            json!({"name": format!("sfd-grp-bad-{run}"), "policy": "affinity",
                "rules": {"max_server_per_host": 2}}),
        ),
        (
            "nova.server_group.create.rule_below_minimum",
            json!({"name": format!("sfd-grp-bad-{run}"), "policy": "anti-affinity",
                "rules": {"max_server_per_host": 0}}),
        ),
    ] {
        rec.call(post(label, C, groups, json!({ "server_group": group })))
            .await;
    }
    let reply = rec
        .call(post(
            "nova.server_group.create",
            C,
            groups,
            json!({"server_group": {"name": format!("sfd-grp-{run}"), "policy": "anti-affinity"}}),
        ))
        .await;
    rec.bind("group", reply.str_at("/server_group/id"));
    rec.on_cleanup(C, "/v2.1/os-server-groups/{group}");
    rec.call(get(
        "nova.server_group.show",
        C,
        "/v2.1/os-server-groups/{group}",
    ))
    .await;
    for (i, var) in [(1, "grp_server1"), (2, "grp_server2")] {
        let reply = rec
            .call(post(
                "nova.server.create.in_group",
                C,
                "/v2.1/servers",
                json!({"server": {"name": format!("sfd-grp{i}-{run}"), "imageRef": "{image}",
                        "flavorRef": "{flavor}", "networks": "none"},
                        "os:scheduler_hints": {"group": "{group}"}}),
            ))
            .await;
        rec.bind(var, reply.str_at("/server/id"));
    }
    rec.on_cleanup(C, "/v2.1/servers/{grp_server1}");
    rec.on_cleanup(C, "/v2.1/servers/{grp_server2}");
    rec.poll(
        "nova.server.build.in_group",
        C,
        "/v2.1/servers/{grp_server1}",
        "/server/status",
        &["ACTIVE", "ERROR"],
        TIMEOUT,
    )
    .await;
    rec.poll(
        "nova.server.build.anti_affinity_beyond_the_hosts",
        C,
        "/v2.1/servers/{grp_server2}",
        "/server/status",
        &["ACTIVE", "ERROR"],
        TIMEOUT,
    )
    .await;
    rec.call(get(
        "nova.server.in_group.no_valid_host",
        C,
        "/v2.1/servers/{grp_server2}",
    ))
    .await;
    rec.call(delete(
        "nova.server_group.delete.with_members",
        C,
        "/v2.1/os-server-groups/{group}",
    ))
    .await;
    rec.call(get(
        "nova.server_group.show.deleted",
        C,
        "/v2.1/os-server-groups/{group}",
    ))
    .await;
    rec.call(get(
        "nova.server.after_its_group_deleted",
        C,
        "/v2.1/servers/{grp_server1}",
    ))
    .await;
}
