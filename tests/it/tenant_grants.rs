//! A tenant's `users = [ { name, roles } ]`, from TOML, on both targets: the embedded cloud (a
//! `stackform sim` process) and the real Keystone of `REAL_OS_OPENRC` (the `real_*` test).
//! Grants and revocations are made in place; a user removed from the list has its roles
//! revoked (the state remembers it); a revoked grant is made again; unknown users and roles
//! fail in plan; assignments of users the spec never named are left alone.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::cloud_api::CloudApi;
use crate::real_common;
use crate::support::{SimProcess, run_env, write_specs};

#[derive(Clone, Copy, PartialEq)]
enum Target {
    Embedded,
    Real,
}

struct Cloud {
    dir: tempfile::TempDir,
    _sim: Option<SimProcess>,
    env: Vec<(String, String)>,
    api: CloudApi,
    tenant: String,
    /// Users made by the test (deleted at the end): alice, bob, an outsider.
    users: Vec<(String, String)>,
}

impl Cloud {
    async fn start(target: Target) -> Option<Cloud> {
        let dir = tempfile::tempdir().unwrap();
        let (env, sim, api, prefix) = match target {
            Target::Embedded => {
                let sim = SimProcess::start(&dir.path().join("cloud"));
                let api = CloudApi::admin(sim.auth_url()).await;
                (sim.env.clone(), Some(sim), api, "grants".to_string())
            }
            Target::Real => {
                let env = real_common::real_cloud_env()?;
                let api = CloudApi::login_env(&env).await;
                (env, None, api, real_common::unique_name("sf-gr"))
            }
        };
        let mut users = Vec::new();
        for who in ["alice", "bob", "outsider"] {
            let name = format!("{prefix}-{who}");
            let body = json!({ "user": {
                "name": name, "password": "sf-grants-pw", "domain_id": "default",
            }});
            let made = api
                .send(Method::POST, "identity", "/users", body, &[201])
                .await;
            let id = made["user"]["id"].as_str().unwrap_or_default().to_string();
            users.push((name, id));
        }
        Some(Cloud {
            dir,
            _sim: sim,
            env,
            api,
            tenant: format!("{prefix}-t"),
            users,
        })
    }

    fn name(&self, i: usize) -> &str {
        &self.users[i].0
    }

    fn spec(&self, users: &str) {
        let spec = format!(
            "[provider]\ncloud = \"env\"\n\n[tenant.t]\nname = \"{}\"\n{users}",
            self.tenant
        );
        write_specs(self.dir.path(), &[("all.toml", &spec)]);
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        run_env(self.dir.path(), args, &self.env)
    }

    fn apply(&self) -> String {
        let (code, out, err) = self.run(&["apply", "--auto-approve"]);
        assert_eq!(code, 0, "apply:\n{out}\n{err}");
        out
    }

    fn plan(&self) -> (i32, String, String) {
        self.run(&["plan", "--detailed-exitcode"])
    }

    fn assert_converged(&self, when: &str) {
        let (code, out, err) = self.plan();
        assert_eq!(code, 0, "converged {when}:\n{out}\n{err}");
    }

    async fn project_id(&self) -> String {
        let p = self
            .api
            .one("identity", "/projects", "projects", &self.tenant)
            .await;
        p["id"].as_str().unwrap_or_default().to_string()
    }

    /// The (user, role) pairs Keystone holds on the tenant, by name.
    async fn grants(&self, project: &str) -> BTreeSet<(String, String)> {
        let path = format!("/role_assignments?scope.project.id={project}&include_names=true");
        self.api
            .list("identity", &path, "role_assignments")
            .await
            .iter()
            .map(|a| {
                let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
                (text(&a["user"]["name"]), text(&a["role"]["name"]))
            })
            .collect()
    }

    /// The pairs of the test's own users only (the tenant also holds stackform's grant).
    async fn test_grants(&self, project: &str) -> BTreeSet<(String, String)> {
        let ours: BTreeSet<&str> = self.users.iter().map(|(n, _)| n.as_str()).collect();
        self.grants(project)
            .await
            .into_iter()
            .filter(|(user, _)| ours.contains(user.as_str()))
            .collect()
    }

    async fn role_id(&self, name: &str) -> String {
        let role = self.api.one("identity", "/roles", "roles", name).await;
        role["id"].as_str().unwrap_or_default().to_string()
    }

    async fn cleanup(&self) {
        let (code, out, err) = self.run(&["destroy", "--auto-approve"]);
        if code != 0 {
            eprintln!("destroy of {} failed ({code}):\n{out}\n{err}", self.tenant);
        }
        for (name, id) in &self.users {
            let (status, body) = self
                .api
                .request(Method::DELETE, "identity", &format!("/users/{id}"), None)
                .await;
            if status != 204 {
                eprintln!("deleting user {name}: {status} {body}");
            }
        }
    }
}

fn pairs(list: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    list.iter()
        .map(|(u, r)| (u.to_string(), r.to_string()))
        .collect()
}

fn entry(user: &str, roles: &str) -> String {
    format!("  {{ name = \"{user}\", roles = [{roles}] }},\n")
}

async fn lifecycle(target: Target) {
    let Some(cloud) = Cloud::start(target).await else {
        return;
    };
    let scenario = async {
        let (alice, bob, outsider) = (cloud.name(0), cloud.name(1), cloud.name(2));

        // Made with the tenant: alice holds member and reader, bob reader.
        cloud.spec(&format!(
            "users = [\n{}{}]\n",
            entry(alice, "\"reader\", \"member\""),
            entry(bob, "\"reader\"")
        ));
        cloud.apply();
        let project = cloud.project_id().await;
        assert_eq!(
            cloud.test_grants(&project).await,
            pairs(&[(alice, "member"), (alice, "reader"), (bob, "reader")])
        );
        cloud.assert_converged("after the first apply");

        // A grant the spec never names (made by hand) is not stackform's to manage.
        let reader = cloud.role_id("reader").await;
        let outsider_id = cloud.users[2].1.clone();
        cloud
            .api
            .request(
                Method::PUT,
                "identity",
                &format!("/projects/{project}/users/{outsider_id}/roles/{reader}"),
                None,
            )
            .await;
        cloud.assert_converged("with a grant made outside the spec");

        // Bob leaves the list and alice drops reader: both revoked in place.
        cloud.spec(&format!("users = [\n{}]\n", entry(alice, "\"member\"")));
        let (code, out, err) = cloud.plan();
        assert_eq!(code, 2, "{out}\n{err}");
        assert!(
            out.contains(&format!(
                "# tenant.t will be updated in place (revoke reader from {alice}, revoke reader from {bob})"
            )),
            "{out}"
        );
        cloud.apply();
        assert_eq!(
            cloud.test_grants(&project).await,
            pairs(&[(alice, "member"), (outsider, "reader")])
        );
        cloud.assert_converged("after the revocations");

        // Drift: a grant revoked outside stackform is made again.
        let member = cloud.role_id("member").await;
        let alice_id = cloud.users[0].1.clone();
        let (status, _) = cloud
            .api
            .request(
                Method::DELETE,
                "identity",
                &format!("/projects/{project}/users/{alice_id}/roles/{member}"),
                None,
            )
            .await;
        assert_eq!(status, 204);
        let (code, out, err) = cloud.plan();
        assert_eq!(code, 2, "{out}\n{err}");
        assert!(
            out.contains(&format!(
                "# tenant.t will be updated in place (grant member to {alice})"
            )),
            "{out}"
        );
        cloud.apply();
        assert_eq!(
            cloud.test_grants(&project).await,
            pairs(&[(alice, "member"), (outsider, "reader")])
        );

        // Unknown names fail in plan, located, with the known ones closest first.
        cloud.spec(&format!(
            "users = [\n{}{}]\n",
            entry(alice, "\"membr\""),
            entry(&format!("{alice}x"), "\"member\"")
        ));
        let (code, out, err) = cloud.plan();
        assert_eq!(code, 1, "{out}\n{err}");
        assert!(
            err.contains(&format!(
                "tenant.t: role `membr` (for user `{alice}`) is not a Keystone role"
            )),
            "{err}"
        );
        assert!(err.contains("all.toml:7:"), "located:\n{err}");
        assert!(err.contains("Keystone roles: member, "), "{err}");
        assert!(
            err.contains(&format!("tenant.t: user `{alice}x` is not a Keystone user")),
            "{err}"
        );
        assert!(err.contains(&format!("Keystone users: {alice}, ")), "{err}");
        assert!(err.contains("all.toml:8:"), "located:\n{err}");

        // Without `users`, what stackform granted is revoked; the outsider's grant stays.
        cloud.spec("");
        let (code, out, err) = cloud.plan();
        assert_eq!(code, 2, "{out}\n{err}");
        assert!(
            out.contains(&format!(
                "# tenant.t will be updated in place (revoke member from {alice})"
            )),
            "{out}"
        );
        cloud.apply();
        assert_eq!(
            cloud.test_grants(&project).await,
            pairs(&[(outsider, "reader")])
        );
        cloud.assert_converged("once no users are listed");
        let all = cloud.grants(&project).await;
        assert!(
            all.iter().any(|(_, role)| role == "member"),
            "stackform's own grant stays: {all:?}"
        );
    };
    // The real cloud is shared: what a failed scenario made is removed all the same.
    let outcome =
        futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(scenario)).await;
    cloud.cleanup().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[tokio::test]
async fn grants_and_revokes_roles_in_place_on_the_embedded_cloud() {
    lifecycle(Target::Embedded).await;
}

#[tokio::test]
async fn real_grants_and_revokes_roles_in_place() {
    lifecycle(Target::Real).await;
}

/// Spec mistakes in `users` are found when the spec is read, each at its place.
#[test]
fn bad_grants_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let spec = "[tenant.t]\nusers = [\n  { name = \"a\", roles = [] },\n  { roles = [\"member\"] },\n  { name = \"b\" },\n  { name = \"c\", roles = [\"member\"], role = \"x\" },\n  { name = \"c\", roles = [\"reader\"] },\n]\n";
    write_specs(dir.path(), &[("all.toml", spec)]);
    let (code, out, err) = run_env(dir.path(), &["validate"], &[]);
    assert_eq!(code, 1, "{out}\n{err}");
    for expected in [
        "user `a` in `users` has no roles",
        "all.toml:3:25",
        "missing required field `name` in a user grant of tenant.t",
        "all.toml:4:3",
        "missing required field `roles` in a user grant of tenant.t",
        "all.toml:5:3",
        "unknown field `role` in a user grant of tenant.t",
        "did you mean `roles`? a user grant of tenant.t takes: name, roles",
        "all.toml:6:37",
        "user `c` is listed twice in `users`",
        "all.toml:7:12",
    ] {
        assert!(err.contains(expected), "`{expected}` in:\n{err}");
    }
}
