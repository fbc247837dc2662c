//! A tenant's own user: made with the tenant (member on it), its password usable against the
//! cloud's Keystone but never in any command's output nor in the state's bytes, shown only
//! when `[provider] tenant_credentials_visible = true`, deleted with the tenant.

use std::path::Path;

use serde_json::{Value, json};

use crate::cloud_api::CloudApi;
use crate::real_common::{real_cloud_env, unique_name};
use crate::support::{SimProcess, run_env, write_specs};

fn spec(tenant: &str, visible: bool) -> String {
    format!(
        "[provider]\ncloud = \"env\"\ntenant_credentials_visible = {visible}\n\n[tenant.{tenant}]\n"
    )
}

/// `export K=V` lines → pairs.
fn exports(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// POST /v3/auth/tokens as `user_id` scoped to `project_id`: the status and the roles' names.
async fn login(
    auth_url: &str,
    user_id: &str,
    password: &str,
    project_id: &str,
) -> (u16, Vec<String>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let body = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "id": user_id, "password": password}}},
        "scope": {"project": {"id": project_id}}
    }});
    let response = reqwest::Client::new()
        .post(format!("{}/auth/tokens", auth_url.trim_end_matches('/')))
        .json(&body)
        .send()
        .await
        .expect("Keystone answers");
    let status = response.status().as_u16();
    let reply: Value = response.json().await.unwrap_or(Value::Null);
    let mut roles: Vec<String> = reply["token"]["roles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["name"].as_str().map(str::to_string))
        .collect();
    roles.sort();
    (status, roles)
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

async fn tenant_user_lives_and_dies_with_its_tenant(env: &[(String, String)], tenant: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    write_specs(dir.path(), &[("all.toml", &spec(tenant, false))]);
    let (code, out, err) = run_env(dir.path(), &["apply", "--auto-approve"], env);
    assert_eq!(code, 0, "{out}\n{err}");
    outputs.push(out + &err);

    let (code, out, err) = run_env(dir.path(), &["tenant", "credentials", tenant], env);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        "error: tenant credentials are not shown: set `tenant_credentials_visible = true` in \
         [provider] to allow `stackform tenant credentials`\n"
    );

    write_specs(dir.path(), &[("all.toml", &spec(tenant, true))]);
    let (code, out, err) = run_env(dir.path(), &["tenant", "credentials", "nosuch"], env);
    assert_eq!(code, 1, "{out}");
    assert!(
        err.starts_with("error: the state keeps no credentials for tenant.nosuch"),
        "{err}"
    );
    let (code, shown, err) = run_env(dir.path(), &["tenant", "credentials", tenant], env);
    assert_eq!(code, 0, "{err}");
    let vars = exports(&shown);
    let var = |k: &str| {
        vars.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{k} missing from {shown}"))
    };
    let (auth_url, user_id, password, project_id) = (
        var("OS_AUTH_URL"),
        var("OS_USER_ID"),
        var("OS_PASSWORD"),
        var("OS_PROJECT_ID"),
    );
    assert_eq!(password.len(), 32, "a 128-bit password in hex");
    let first = shown.lines().next().unwrap_or_default();
    let user_name = first
        .strip_prefix(&format!("# the own user of tenant.{tenant}: "))
        .and_then(|rest| rest.strip_suffix(&format!(" in project {tenant}")))
        .unwrap_or_else(|| panic!("{first}"));
    let suffix = user_name
        .strip_prefix(&format!("{tenant}-user-"))
        .unwrap_or_else(|| panic!("{user_name}"));
    assert_eq!(
        suffix,
        &project_id[..8],
        "derived from the project id: {user_name}"
    );

    // The cloud holds the user, the password opens a token scoped to the tenant, as member.
    let (status, roles) = login(&auth_url, &user_id, &password, &project_id).await;
    assert_eq!(status, 201);
    assert!(roles.contains(&"member".to_string()), "{roles:?}");

    let (code, out, err) = run_env(dir.path(), &["plan"], env);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("No changes."), "{out}");
    outputs.push(out + &err);
    let (code, out, err) = run_env(dir.path(), &["state", "list"], env);
    assert_eq!(code, 0, "{err}");
    outputs.push(out + &err);

    // Never in plain text at rest: every byte of the state folder, the key file included.
    let state_files = files_under(&dir.path().join("state"));
    assert!(
        state_files
            .iter()
            .any(|p| p.ends_with("credentials.sealed")),
        "{state_files:?}"
    );
    for path in &state_files {
        let bytes = std::fs::read(path).unwrap();
        assert!(
            !bytes
                .windows(password.len())
                .any(|w| w == password.as_bytes()),
            "the password is in {}",
            path.display()
        );
    }

    let (code, out, err) = run_env(dir.path(), &["destroy", "--auto-approve"], env);
    assert_eq!(code, 0, "{out}\n{err}");
    outputs.push(out + &err);
    let (status, _) = login(&auth_url, &user_id, &password, &project_id).await;
    assert_eq!(status, 401, "the tenant's user is deleted with it");
    for output in &outputs {
        assert!(!output.contains(&password), "{output}");
    }
}

/// A tenant made without its own user (`own_user = false`, or by an older stackform: the
/// state keeps no credentials) gets one on the next apply, and the plan says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_without_its_own_user_gets_one_in_place() {
    let data = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(data.path());
    let dir = tempfile::tempdir().unwrap();
    let without = "[provider]\ncloud = \"env\"\ntenant_credentials_visible = true\n\n\
                   [tenant.old]\nown_user = false\n";
    write_specs(dir.path(), &[("all.toml", without)]);
    let (code, out, err) = run_env(dir.path(), &["apply", "--auto-approve"], &sim.env);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, _, err) = run_env(dir.path(), &["tenant", "credentials", "old"], &sim.env);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("error: the state keeps no credentials for tenant.old"),
        "{err}"
    );
    let api = crate::cloud_api::CloudApi::admin(sim.auth_url()).await;
    let users = api.list("identity", "/users", "users").await;
    assert!(
        !users.iter().any(|u| u["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("old-user-"))),
        "{users:?}"
    );

    write_specs(dir.path(), &[("all.toml", &spec("old", true))]);
    let (code, out, err) = run_env(dir.path(), &["plan"], &sim.env);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("  # tenant.old will be updated in place\n  ~ tenant.old\n      ~ own_user = false -> true\n"),
        "{out}"
    );
    let (code, out, err) = run_env(dir.path(), &["apply", "--auto-approve"], &sim.env);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, shown, err) = run_env(dir.path(), &["tenant", "credentials", "old"], &sim.env);
    assert_eq!(code, 0, "{err}");
    let vars = exports(&shown);
    let get = |k: &str| {
        vars.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let (status, roles) = login(
        &get("OS_AUTH_URL"),
        &get("OS_USER_ID"),
        &get("OS_PASSWORD"),
        &get("OS_PROJECT_ID"),
    )
    .await;
    assert_eq!(
        (status, roles.contains(&"member".to_string())),
        (201, true),
        "{roles:?}"
    );
    let (code, out, _) = run_env(dir.path(), &["plan"], &sim.env);
    assert_eq!(code, 0);
    assert!(out.contains("No changes."), "{out}");
}

/// The users named `<tenant>-user-…` the cloud holds.
async fn own_users(api: &CloudApi, tenant: &str) -> Vec<Value> {
    let prefix = format!("{tenant}-user-");
    api.list("identity", "/users", "users")
        .await
        .into_iter()
        .filter(|u| u["name"].as_str().is_some_and(|n| n.starts_with(&prefix)))
        .collect()
}

/// `stackform tenant credentials NAME` → (auth URL, user id, password, project id).
fn credentials_of(dir: &Path, tenant: &str, env: &[(String, String)]) -> [String; 4] {
    let (code, shown, err) = run_env(dir, &["tenant", "credentials", tenant], env);
    assert_eq!(code, 0, "{err}");
    let vars = exports(&shown);
    ["OS_AUTH_URL", "OS_USER_ID", "OS_PASSWORD", "OS_PROJECT_ID"].map(|k| {
        vars.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{k} missing from {shown}"))
    })
}

/// A lost state (`state recover` rebuilds it from the tags) must not orphan the tenant's
/// user: the next apply finds it by its derived name, resets its password (the old one went
/// with the state) and keeps the new one.
async fn a_recovered_tenant_keeps_its_one_user(env: &[(String, String)], tenant: &str) {
    let api = CloudApi::login_env(env).await;
    let dir = tempfile::tempdir().unwrap();
    write_specs(dir.path(), &[("all.toml", &spec(tenant, true))]);
    let (code, out, err) = run_env(dir.path(), &["apply", "--auto-approve"], env);
    assert_eq!(code, 0, "{out}\n{err}");
    let [auth_url, user_id, old_password, project_id] = credentials_of(dir.path(), tenant, env);
    let state = std::fs::read_to_string(dir.path().join("state/state.json")).unwrap();
    let state: Value = serde_json::from_str(&state).unwrap();
    let lineage = state["lineage"].as_str().unwrap_or_default().to_string();
    std::fs::remove_dir_all(dir.path().join("state")).unwrap();

    let (code, out, err) = run_env(
        dir.path(),
        &["state", "recover", "--lineage", &lineage],
        env,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = run_env(dir.path(), &["apply", "--auto-approve"], env);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!out.contains(&old_password), "{out}");
    let users = own_users(&api, tenant).await;
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0]["id"], json!(user_id), "the same user, adopted");
    let [_, kept_id, password, kept_project] = credentials_of(dir.path(), tenant, env);
    assert_eq!((&kept_id, &kept_project), (&user_id, &project_id));
    assert_ne!(
        password, old_password,
        "a new password: the old one was lost"
    );
    let (status, roles) = login(&auth_url, &user_id, &password, &project_id).await;
    assert_eq!(status, 201);
    assert!(roles.contains(&"member".to_string()), "{roles:?}");
    assert_eq!(
        login(&auth_url, &user_id, &old_password, &project_id)
            .await
            .0,
        401
    );
    let (code, out, _) = run_env(dir.path(), &["plan"], env);
    assert_eq!(code, 0);
    assert!(out.contains("No changes."), "{out}");

    let (code, out, err) = run_env(dir.path(), &["destroy", "--auto-approve"], env);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(own_users(&api, tenant).await, Vec::<Value>::new());
}

/// The reply to the user's create is lost (the cloud made it): the retry must find that user,
/// not make a second one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_user_create_reply_makes_one_user() {
    let data = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(data.path());
    let api = CloudApi::admin(sim.auth_url()).await;
    let lose = json!({"lose_reply": {"method": "POST", "path_suffix": "/v3/users", "count": 1}});
    let (status, _) = api
        .request(
            reqwest::Method::POST,
            "identity",
            "/../../_sim/faults",
            Some(lose),
        )
        .await;
    assert_eq!(status, 204);
    let dir = tempfile::tempdir().unwrap();
    write_specs(dir.path(), &[("all.toml", &spec("lost", true))]);
    let (code, out, err) = run_env(dir.path(), &["apply", "--auto-approve"], &sim.env);
    assert_eq!(code, 0, "{out}\n{err}");
    let log = api.get("identity", "/../../_sim/requests").await;
    let user_posts: Vec<u64> = log["requests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| {
            r["method"] == "POST" && r["path"].as_str().is_some_and(|p| p.ends_with("/v3/users"))
        })
        .filter_map(|r| r["status"].as_u64())
        .collect();
    assert_eq!(user_posts, [502], "one create, its reply lost");
    let users = own_users(&api, "lost").await;
    assert_eq!(users.len(), 1, "{users:?}");
    let [auth_url, user_id, password, project_id] = credentials_of(dir.path(), "lost", &sim.env);
    assert_eq!(users[0]["id"], json!(user_id));
    let (status, roles) = login(&auth_url, &user_id, &password, &project_id).await;
    assert_eq!(status, 201);
    assert!(roles.contains(&"member".to_string()), "{roles:?}");
    let (code, out, _) = run_env(dir.path(), &["plan"], &sim.env);
    assert_eq!(code, 0);
    assert!(out.contains("No changes."), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovered_tenant_keeps_its_user_on_the_embedded_cloud() {
    let data = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(data.path());
    a_recovered_tenant_keeps_its_one_user(&sim.env, "back").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovered_tenant_keeps_its_user_on_real_keystone() {
    let Some(env) = real_cloud_env() else { return };
    a_recovered_tenant_keeps_its_one_user(&env, &unique_name("sfrec")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_user_on_the_embedded_cloud() {
    let data = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(data.path());
    tenant_user_lives_and_dies_with_its_tenant(&sim.env, "demo").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_user_on_real_keystone() {
    let Some(env) = real_cloud_env() else { return };
    tenant_user_lives_and_dies_with_its_tenant(&env, &unique_name("sfcred")).await;
}
