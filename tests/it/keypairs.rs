//! The `keypair` kind and `instance.keypair`, from TOML, on both targets: the embedded cloud
//! (a `stackform sim` process) and the real Nova of `REAL_OS_OPENRC` (the `real_*` tests).
//! Nova keeps keypairs per user: stackform makes them as each tenant's own user, so two
//! tenants (here of two states) each have their own `deploy`, and boots the instances that
//! name one with that user's token (Nova looks `key_name` up for the calling user).

use std::path::Path;

use serde_json::{Value, json};

use crate::cloud_api::CloudApi;
use crate::real_common;
use crate::support::{SimProcess, run_env, write_specs};

/// An ed25519 key and the fingerprint real Nova gives it (`ssh-keygen -l -E md5` agrees).
const KEY_ED25519: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPGUr3OlcqeYBaYI1GgSBM5uDJYUEPa5hzxRXK7Masug probe@sf";
const FINGERPRINT_ED25519: &str = "83:83:4f:21:20:0d:18:9b:a9:1f:37:8e:cf:81:d6:0d";
const KEY_RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC8EvW5IUFynVqxQfyQiB4itijwKI/yB2k/TyEaLq1Sdyjx8NxmBGKRNZJfXNLRu0stiu4IA0CjqbS+nAXjIkU3d4wnwupSS04EH5Khna4Irq3eV66uuv2UIzYadkLywLWhCUvOAv8q2OvfAeNW4AIxHhifG9e5az3uc50VC0euGw== second@sf";
const FINGERPRINT_RSA: &str = "ce:41:ed:0f:1b:ca:5a:ba:1d:43:18:7c:f1:67:dd:a5";

#[derive(Clone, Copy, PartialEq)]
enum Target {
    Embedded,
    Real,
}

struct Cloud {
    target: Target,
    _sim: Option<SimProcess>,
    env: Vec<(String, String)>,
    api: CloudApi,
    /// One state folder per tenant.
    dirs: Vec<tempfile::TempDir>,
    tenants: Vec<String>,
    flavor: &'static str,
}

impl Cloud {
    async fn start(target: Target, data: &Path) -> Option<Cloud> {
        let dirs = vec![tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        Some(match target {
            Target::Embedded => {
                let sim = SimProcess::start(data);
                let api = CloudApi::admin(sim.auth_url()).await;
                Cloud {
                    target,
                    env: sim.env.clone(),
                    _sim: Some(sim),
                    api,
                    dirs,
                    tenants: vec!["keys-a".into(), "keys-b".into()],
                    flavor: "m1.tiny",
                }
            }
            Target::Real => {
                let env = real_common::real_cloud_env()?;
                let api = CloudApi::login_env(&env).await;
                real_common::ensure_admin_setup(&api).await;
                Cloud {
                    target,
                    env,
                    _sim: None,
                    api,
                    dirs,
                    tenants: vec![
                        real_common::unique_name("sf-keya"),
                        real_common::unique_name("sf-keyb"),
                    ],
                    flavor: real_common::FLAVOR,
                }
            }
        })
    }

    fn spec(&self, which: usize, body: &str) {
        let head = format!(
            "[provider]\ncloud = \"env\"\ntimeout = \"300s\"\ntenant_credentials_visible = true\n\n\
             [tenant.t]\nname = \"{}\"\n",
            self.tenants[which]
        );
        write_specs(
            self.dirs[which].path(),
            &[("all.toml", &format!("{head}\n{body}"))],
        );
    }

    fn run(&self, which: usize, args: &[&str]) -> (i32, String, String) {
        run_env(self.dirs[which].path(), args, &self.env)
    }

    fn apply(&self, which: usize) -> String {
        let (code, out, err) = self.run(which, &["apply", "--auto-approve"]);
        assert_eq!(code, 0, "apply:\n{out}\n{err}");
        out
    }

    fn assert_converged(&self, which: usize, when: &str) {
        let (code, out, err) = self.run(which, &["plan", "--detailed-exitcode"]);
        assert_eq!(code, 0, "converged {when}:\n{out}\n{err}");
    }

    /// The tenant's own user's id, from `stackform tenant credentials`.
    fn user_id(&self, which: usize) -> String {
        let (code, out, err) = self.run(which, &["tenant", "credentials", "t"]);
        assert_eq!(code, 0, "{err}");
        out.lines()
            .find_map(|l| l.strip_prefix("export OS_USER_ID="))
            .unwrap_or_else(|| panic!("no OS_USER_ID in {out}"))
            .to_string()
    }

    /// `user_id`'s keypairs as the admin lists them: (name, public key, fingerprint).
    async fn keypairs(&self, user_id: &str) -> Vec<(String, String, String)> {
        self.api
            .list(
                "compute",
                &format!("/os-keypairs?user_id={user_id}"),
                "keypairs",
            )
            .await
            .into_iter()
            .map(|k| {
                let k = &k["keypair"];
                let text = |key: &str| k[key].as_str().unwrap_or_default().to_string();
                (text("name"), text("public_key"), text("fingerprint"))
            })
            .collect()
    }

    async fn project_id(&self, which: usize) -> String {
        let p = self
            .api
            .one("identity", "/projects", "projects", &self.tenants[which])
            .await;
        p["id"].as_str().unwrap_or_default().to_string()
    }

    async fn server(&self, project: &str, name: &str) -> Value {
        let found: Vec<Value> = self
            .api
            .list(
                "compute",
                &format!("/servers/detail?all_tenants=1&project_id={project}&name=^{name}$"),
                "servers",
            )
            .await;
        assert_eq!(found.len(), 1, "one server {name}: {found:?}");
        found.into_iter().next().unwrap_or(Value::Null)
    }
}

impl Drop for Cloud {
    /// The real cloud is shared: what a failed scenario made is removed all the same.
    fn drop(&mut self) {
        if self.target == Target::Real {
            for which in 0..self.dirs.len() {
                let (code, out, err) = self.run(which, &["destroy", "--auto-approve"]);
                if code != 0 {
                    eprintln!(
                        "cleanup of {} failed ({code}):\n{out}\n{err}",
                        self.tenants[which]
                    );
                }
            }
        }
    }
}

fn keypair(key: &str) -> String {
    format!("\n[keypair.deploy]\ntenant = \"t\"\npublic_key = \"{key}\"\n")
}

fn server(flavor: &str) -> String {
    format!(
        "\n[network.net]\ntenant = \"t\"\n\n[subnet.sub]\nnetwork = \"net\"\ncidr = \"10.62.0.0/24\"\n\n\
         [instance.web]\ntenant = \"t\"\nflavor = \"{flavor}\"\nimage = \"cirros\"\nsubnet = \"sub\"\nkeypair = \"deploy\"\n"
    )
}

async fn keypairs_per_tenant(target: Target) {
    let data = tempfile::tempdir().unwrap();
    let Some(cloud) = Cloud::start(target, data.path()).await else {
        return;
    };
    // Tenant a: an inline key and an instance booted with it; tenant b: a key read from a
    // file beside the spec, under the same keypair name.
    cloud.spec(
        0,
        &format!("{}{}", keypair(KEY_ED25519), server(cloud.flavor)),
    );
    cloud.spec(
        1,
        "\n[keypair.deploy]\ntenant = \"t\"\npublic_key_file = \"deploy.pub\"\n",
    );
    std::fs::write(
        cloud.dirs[1].path().join("specs/deploy.pub"),
        format!("{KEY_RSA}\n"),
    )
    .unwrap();
    cloud.apply(0);
    cloud.apply(1);
    let (user_a, user_b) = (cloud.user_id(0), cloud.user_id(1));
    assert_ne!(user_a, user_b);
    assert_eq!(
        cloud.keypairs(&user_a).await,
        [(
            "deploy".into(),
            KEY_ED25519.into(),
            FINGERPRINT_ED25519.into()
        )]
    );
    assert_eq!(
        cloud.keypairs(&user_b).await,
        [("deploy".into(), KEY_RSA.into(), FINGERPRINT_RSA.into())]
    );
    // The server was created by the tenant's user, with its key.
    let project_a = cloud.project_id(0).await;
    let web = cloud.server(&project_a, "web").await;
    assert_eq!(web["status"], "ACTIVE");
    assert_eq!(web["key_name"], "deploy");
    assert_eq!(web["user_id"], json!(user_a));
    cloud.assert_converged(0, "after the first apply");
    cloud.assert_converged(1, "after the first apply");

    // Drift: a keypair deleted behind stackform's back is made again.
    let (status, _) = cloud
        .api
        .request(
            reqwest::Method::DELETE,
            "compute",
            &format!("/os-keypairs/deploy?user_id={user_b}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (code, out, err) = cloud.run(1, &["plan"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("# keypair.deploy will be created (deleted outside stackform)"),
        "{out}"
    );
    cloud.apply(1);
    assert_eq!(cloud.keypairs(&user_b).await.len(), 1);

    // A new key replaces the keypair, and the server booted with the old one (Nova copies
    // the key into a server at boot): the plan says why.
    cloud.spec(0, &format!("{}{}", keypair(KEY_RSA), server(cloud.flavor)));
    let (code, out, err) = cloud.run(0, &["plan"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("# keypair.deploy must be replaced (public_key forces replacement)"),
        "{out}"
    );
    assert!(
        out.contains("# instance.web must be replaced (keypair.deploy is replaced)"),
        "{out}"
    );
    assert!(
        out.contains("Plan: 2 to add, 0 to change, 2 to destroy."),
        "{out}"
    );
    cloud.apply(0);
    assert_eq!(
        cloud.keypairs(&user_a).await,
        [("deploy".into(), KEY_RSA.into(), FINGERPRINT_RSA.into())]
    );
    let new_web = cloud.server(&project_a, "web").await;
    assert_ne!(new_web["id"], web["id"]);
    assert_eq!(new_web["key_name"], "deploy");
    cloud.assert_converged(0, "after the new key");

    for which in [0, 1] {
        let (code, out, err) = cloud.run(which, &["destroy", "--auto-approve"]);
        assert_eq!(code, 0, "{out}\n{err}");
    }
    assert_eq!(cloud.keypairs(&user_a).await, []);
    assert_eq!(cloud.keypairs(&user_b).await, []);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keypairs_per_tenant_on_the_embedded_cloud() {
    keypairs_per_tenant(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_keypairs_per_tenant() {
    keypairs_per_tenant(Target::Real).await;
}

/// A keypair's key is checked when the spec is read, each problem at its line.
#[test]
fn keypair_specs_are_checked_where_they_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let spec = format!(
        "[provider]\ncloud = \"embedded\"\n\n[tenant.t]\n\n[tenant.solo]\nown_user = false\n\n\
         [keypair.both]\ntenant = \"t\"\npublic_key = \"{KEY_ED25519}\"\npublic_key_file = \"k.pub\"\n\n\
         [keypair.bad]\ntenant = \"t\"\npublic_key = \"ssh-rsa notbase64!!\"\n\n\
         [keypair.none]\ntenant = \"t\"\n\n\
         [keypair.userless]\ntenant = \"solo\"\npublic_key = \"{KEY_ED25519}\"\n"
    );
    write_specs(dir.path(), &[("all.toml", &spec)]);
    let (code, out, err) = crate::support::run_in(dir.path(), &["validate"]);
    assert_eq!(code, 1, "{out}\n{err}");
    for expected in [
        "error: sets both `public_key` and `public_key_file`",
        "all.toml:12:19",
        "error: `public_key` is not an OpenSSH public key: the key after its type is not base64",
        "all.toml:16:14",
        "missing required field `public_key` in keypair.none",
        "all.toml:18:1",
        "keypair.userless: tenant.solo has `own_user = false`, but Nova keeps keypairs per user",
        "all.toml:22:10",
    ] {
        assert!(err.contains(expected), "{expected}:\n{err}");
    }
}

/// `examples/keypairs/` applies as it is on the embedded cloud, converges, and is destroyed.
#[test]
fn the_keypairs_example_applies_as_it_is() {
    let repo = env!("CARGO_MANIFEST_DIR");
    let state = tempfile::tempdir().unwrap();
    let state_arg = state.path().to_string_lossy().into_owned();
    let specs = format!("{repo}/examples/keypairs");
    let run = |cmd: &[&str]| {
        let mut args: Vec<&str> = cmd.to_vec();
        args.extend(["--specs", &specs, "--state", &state_arg]);
        crate::support::run_in(state.path(), &args)
    };
    let (code, out, err) = run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("Apply complete! Resources: 5 added, 0 changed, 0 destroyed."),
        "{out}"
    );
    let (code, out, err) = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "converged:\n{out}\n{err}");
    let (code, out, err) = run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("5 destroyed"), "{out}");
}

/// The embedded Nova's `key_pairs` quota (per user, at the project's limit): the keypair
/// beyond it is refused with Nova's 403, and the server create naming a keypair its caller
/// does not have gets Nova's 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_nova_counts_keypairs_and_checks_key_names() {
    let data = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(data.path());
    let api = CloudApi::admin(sim.auth_url()).await;
    let admin = api.one("identity", "/projects", "projects", "admin").await;
    let project = admin["id"].as_str().unwrap_or_default().to_string();
    api.send(
        reqwest::Method::PUT,
        "compute",
        &format!("/os-quota-sets/{project}"),
        json!({"quota_set": {"key_pairs": 1}}),
        &[200],
    )
    .await;
    let create = |name: &str| json!({"keypair": {"name": name, "public_key": KEY_ED25519}});
    let made = api
        .send(
            reqwest::Method::POST,
            "compute",
            "/os-keypairs",
            create("one"),
            &[201],
        )
        .await;
    assert_eq!(made["keypair"]["fingerprint"], FINGERPRINT_ED25519);
    let (status, body) = api
        .request(
            reqwest::Method::POST,
            "compute",
            "/os-keypairs",
            Some(create("two")),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"forbidden": {"code": 403, "message": "Quota exceeded, too many key pairs."}})
        )
    );
    let (status, body) = api
        .request(
            reqwest::Method::POST,
            "compute",
            "/os-keypairs",
            Some(create("one")),
        )
        .await;
    assert_eq!(status, 403, "the quota is checked first: {body}");
    let image = api.one("image", "/images", "images", "cirros").await;
    let (status, body) = api
        .request(
            reqwest::Method::POST,
            "compute",
            "/servers",
            Some(
                json!({"server": {"name": "s", "imageRef": image["id"], "flavorRef": "1",
                "networks": "none", "key_name": "nosuch"}}),
            ),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"badRequest": {"code": 400, "message": "Invalid key_name provided."}})
        )
    );
}
