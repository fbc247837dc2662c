//! The gate for tests that need the real OpenStack services: `REAL_OS_OPENRC` names an openrc
//! file (`export K=V ...` lines); without it such a test prints one line and returns, except
//! under CI, where skipping silently would hide a missing cloud, so it panics.

use std::collections::BTreeMap;

/// Admin credentials of the real cloud, read from its openrc.
pub struct RealCloud {
    pub auth_url: String,
    pub user: String,
    pub password: String,
    pub project: String,
    pub user_domain: String,
    pub project_domain: String,
}

impl std::fmt::Debug for RealCloud {
    // The password stays out of test output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealCloud")
            .field("auth_url", &self.auth_url)
            .field("user", &self.user)
            .field("project", &self.project)
            .finish_non_exhaustive()
    }
}

/// `Some` when `REAL_OS_OPENRC` is set; `None` (after printing why) when it is not and `CI` is
/// unset; a panic when it is not set under CI or the file cannot be used.
pub fn real_cloud() -> Option<RealCloud> {
    let Some(path) = std::env::var_os("REAL_OS_OPENRC") else {
        if std::env::var_os("CI").is_some() {
            panic!("REAL_OS_OPENRC is unset under CI: the real OpenStack tests cannot be skipped");
        }
        println!("real OpenStack not configured (REAL_OS_OPENRC unset): not run");
        return None;
    };
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read REAL_OS_OPENRC {path:?}: {err}"));
    let vars = parse_openrc(&text);
    let get = |key: &str| -> String {
        vars.get(key)
            .cloned()
            .unwrap_or_else(|| panic!("{key} missing from {path:?}"))
    };
    let domain = |key: &str| vars.get(key).cloned().unwrap_or_else(|| "Default".into());
    Some(RealCloud {
        auth_url: get("OS_AUTH_URL"),
        user: get("OS_USERNAME"),
        password: get("OS_PASSWORD"),
        project: get("OS_PROJECT_NAME"),
        user_domain: domain("OS_USER_DOMAIN_NAME"),
        project_domain: domain("OS_PROJECT_DOMAIN_NAME"),
    })
}

/// `export A=1 B=2` lines (several pairs per line, optional quotes, `#` comments).
pub fn parse_openrc(text: &str) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("export ") else {
            continue;
        };
        for pair in rest.split_whitespace() {
            if let Some((key, value)) = pair.split_once('=') {
                let value = value.trim_matches(|c| c == '"' || c == '\'');
                vars.insert(key.to_string(), value.to_string());
            }
        }
    }
    vars
}

#[test]
fn openrc_pairs_are_read_from_every_export_line() {
    let vars = parse_openrc(
        "# comment\nexport OS_AUTH_URL=http://127.0.0.1:5000/v3 OS_IDENTITY_API_VERSION=3\n\
         export OS_USERNAME='admin' OS_PASSWORD=\"secret\"\nnot an export\n",
    );
    let expected: BTreeMap<String, String> = [
        ("OS_AUTH_URL", "http://127.0.0.1:5000/v3"),
        ("OS_IDENTITY_API_VERSION", "3"),
        ("OS_PASSWORD", "secret"),
        ("OS_USERNAME", "admin"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(vars, expected);
}
