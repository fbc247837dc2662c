//! What every two-target scenario starts from: a spec folder, the cloud it runs against (a
//! `stackform sim` process of its own, or the shared real OpenStack of `REAL_OS_OPENRC`), an
//! admin API client to check what the cloud holds, and the tenant's cloud name (unique per run
//! on the shared real cloud). Each test file wraps it (`Deref`) and adds its own spec writer
//! and queries; a real scenario destroys what it made even when the test fails.

use crate::cloud_api::CloudApi;
use crate::real_common;
use crate::support::{SimProcess, run_env, write_specs};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Target {
    Embedded,
    Real,
}

pub(crate) struct Scenario {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) target: Target,
    _sim: Option<SimProcess>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) api: CloudApi,
    /// The cloud name of the scenario's tenant.
    pub(crate) tenant: String,
    /// A flavor both targets schedule.
    pub(crate) flavor: &'static str,
    pub(crate) external_network: String,
    /// `[provider] timeout` for the target: the real cloud is slower.
    pub(crate) timeout: &'static str,
    /// Set once the test destroyed everything itself: nothing left to clean up.
    pub(crate) destroyed: bool,
}

/// How a scenario's cloud is set up.
pub(crate) struct Setup {
    /// The tenant's name on the embedded cloud (its own process: no clash possible).
    pub(crate) embedded_tenant: &'static str,
    /// The prefix of the tenant's unique name on the shared real cloud.
    pub(crate) real_prefix: &'static str,
    /// How long the embedded Nova keeps a server in BUILD, when a test needs to see it.
    pub(crate) build_delay_ms: Option<u64>,
}

impl Setup {
    pub(crate) const fn new(embedded_tenant: &'static str, real_prefix: &'static str) -> Setup {
        Setup {
            embedded_tenant,
            real_prefix,
            build_delay_ms: None,
        }
    }
}

impl Scenario {
    /// The scenario on `target`; `None` when the real cloud is not configured (the real test
    /// then passes without running, as every `real_*` test does).
    pub(crate) async fn start(target: Target, setup: Setup) -> Option<Scenario> {
        let dir = tempfile::tempdir().unwrap();
        Some(match target {
            Target::Embedded => {
                let data = dir.path().join("cloud");
                let sim = match setup.build_delay_ms {
                    Some(delay) => SimProcess::start_with_build_delay(&data, delay),
                    None => SimProcess::start(&data),
                };
                let api = CloudApi::admin(sim.auth_url()).await;
                Scenario {
                    env: sim.env.clone(),
                    _sim: Some(sim),
                    api,
                    tenant: setup.embedded_tenant.into(),
                    flavor: "m1.tiny",
                    external_network: "public".into(),
                    timeout: "60s",
                    dir,
                    target,
                    destroyed: false,
                }
            }
            Target::Real => {
                let env = real_common::real_cloud_env()?;
                let api = CloudApi::login_env(&env).await;
                real_common::ensure_admin_setup(&api).await;
                Scenario {
                    env,
                    _sim: None,
                    api,
                    tenant: real_common::unique_name(setup.real_prefix),
                    flavor: real_common::FLAVOR,
                    external_network: real_common::EXTERNAL_NETWORK.into(),
                    timeout: "300s",
                    dir,
                    target,
                    destroyed: false,
                }
            }
        })
    }

    /// The embedded cloud's process (None on the real cloud).
    pub(crate) fn sim(&self) -> Option<&SimProcess> {
        self._sim.as_ref()
    }

    /// Writes the spec folder: `files` as (name, content).
    pub(crate) fn write(&self, files: &[(&str, &str)]) {
        write_specs(self.dir.path(), files);
    }

    pub(crate) fn run(&self, args: &[&str]) -> (i32, String, String) {
        run_env(self.dir.path(), args, &self.env)
    }

    pub(crate) fn apply(&self) -> String {
        let (code, out, err) = self.run(&["apply", "--auto-approve"]);
        assert_eq!(code, 0, "apply:\n{out}\n{err}");
        out
    }

    pub(crate) fn destroy(&mut self) -> String {
        let (code, out, err) = self.run(&["destroy", "--auto-approve"]);
        assert_eq!(code, 0, "destroy:\n{out}\n{err}");
        self.destroyed = true;
        out
    }

    pub(crate) fn assert_converged(&self, when: &str) {
        let (code, out, err) = self.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(code, 0, "converged {when}:\n{out}\n{err}");
    }

    /// The id of the scenario's tenant, as Keystone lists it.
    pub(crate) async fn project_id(&self) -> String {
        let p = self
            .api
            .one("identity", "/projects", "projects", &self.tenant)
            .await;
        p["id"].as_str().unwrap_or_default().to_string()
    }

    /// The one item named `name` in the tenant's Neutron `collection` (other tenants of a
    /// shared cloud may hold the same names).
    pub(crate) async fn owned(
        &self,
        project: &str,
        collection: &str,
        key: &str,
        name: &str,
    ) -> serde_json::Value {
        self.api
            .one(
                "network",
                &format!("/{collection}?project_id={project}"),
                key,
                name,
            )
            .await
    }

    /// Where diagnostics point for the `key = value` line `needle` of `file`: its value's
    /// line and column (1-based), as `file:line:col`.
    pub(crate) fn position_in(&self, file: &str, needle: &str) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("specs").join(file))
            .or_else(|_| std::fs::read_to_string(self.dir.path().join(file)))
            .unwrap_or_default();
        let at = text
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} in {file}"))
            + needle.find("= ").map_or(0, |i| i + 2);
        let line = text[..at].matches('\n').count() + 1;
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        format!("{file}:{line}:{}", at - line_start + 1)
    }
}

impl Drop for Scenario {
    /// The real cloud is shared: what a failed scenario made is removed all the same.
    fn drop(&mut self) {
        if self.target == Target::Real && !self.destroyed {
            let (code, out, err) = self.run(&["destroy", "--auto-approve"]);
            if code != 0 {
                eprintln!("cleanup of {} failed ({code}):\n{out}\n{err}", self.tenant);
            }
        }
    }
}
