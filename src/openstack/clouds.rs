//! clouds.yaml: the cloud entries openstacksdk and the `openstack` CLI read, found where they
//! look (`OS_CLIENT_CONFIG_FILE`, then `./clouds.yaml`, `~/.config/openstack/clouds.yaml`,
//! `/etc/openstack/clouds.yaml`), with the entry's secrets merged from the matching
//! `secure.yaml` (`OS_CLIENT_SECURE_FILE`, or the same folders). Password auth only.

use std::path::PathBuf;

use serde_json::{Map, Value};

use super::auth::{AuthConfig, DomainRef, Secret};
use super::error::ApiError;

/// The credentials of cloud `name`, from the first clouds.yaml found (and its secure.yaml).
pub fn from_clouds_yaml(
    name: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<AuthConfig, ApiError> {
    let looked_at = candidates("clouds.yaml", "OS_CLIENT_CONFIG_FILE", &lookup);
    let Some((path, clouds)) = first_readable(&looked_at)? else {
        return Err(ApiError::Config(format!(
            "cloud `{name}`: no clouds.yaml found (looked at {})",
            shown(&looked_at)
        )));
    };
    let Some(entry) = clouds.get("clouds").and_then(|c| c.get(name)) else {
        let known = clouds
            .get("clouds")
            .and_then(Value::as_object)
            .map(|c| c.keys().cloned().collect::<Vec<_>>().join(", "))
            .unwrap_or_default();
        return Err(ApiError::Config(format!(
            "{}: no cloud named `{name}` (clouds there: {known})",
            path.display()
        )));
    };
    let mut entry = entry.clone();
    let secure = candidates("secure.yaml", "OS_CLIENT_SECURE_FILE", &lookup);
    if let Some((_, secrets)) = first_readable(&secure)?
        && let Some(extra) = secrets.get("clouds").and_then(|c| c.get(name))
    {
        merge(&mut entry, extra);
    }
    entry_auth(name, &entry)
        .map_err(|problem| ApiError::Config(format!("{}: {problem}", path.display())))
}

/// Where to look for `file`, in openstacksdk's order; `env_var` names an explicit file.
fn candidates(file: &str, env_var: &str, lookup: &impl Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    if let Some(explicit) = lookup(env_var) {
        return vec![PathBuf::from(explicit)];
    }
    let mut paths = vec![PathBuf::from(file)];
    if let Some(home) = lookup("HOME") {
        paths.push(PathBuf::from(home).join(".config/openstack").join(file));
    }
    paths.push(PathBuf::from("/etc/openstack").join(file));
    paths
}

fn shown(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first of `paths` that exists, parsed. A file that exists but does not parse is an
/// error (not skipped): the user meant it.
fn first_readable(paths: &[PathBuf]) -> Result<Option<(PathBuf, Value)>, ApiError> {
    for path in paths {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(ApiError::Config(format!("{}: {e}", path.display())));
            }
        };
        let value: Value = serde_norway::from_str(&text)
            .map_err(|e| ApiError::Config(format!("{}: not valid YAML: {e}", path.display())))?;
        return Ok(Some((path.clone(), value)));
    }
    Ok(None)
}

/// Deep merge: `extra`'s keys win, maps merge recursively (secure.yaml over clouds.yaml).
fn merge(base: &mut Value, extra: &Value) {
    match (base, extra) {
        (Value::Object(b), Value::Object(e)) => {
            for (k, v) in e {
                match b.get_mut(k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, e) => *b = e.clone(),
    }
}

/// A scalar as text: YAML may give a password or a project as a number.
fn text(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The AuthConfig of one clouds.yaml entry; the error names what is missing or unsupported.
fn entry_auth(name: &str, entry: &Value) -> Result<AuthConfig, String> {
    let empty = Map::new();
    let top = entry.as_object().unwrap_or(&empty);
    if let Some(kind) = text(top, "auth_type")
        && !matches!(kind.as_str(), "password" | "v3password")
    {
        return Err(format!(
            "cloud `{name}`: auth_type `{kind}` is not supported (password only)"
        ));
    }
    let auth = top.get("auth").and_then(Value::as_object).unwrap_or(&empty);
    let required =
        |key: &str| text(auth, key).ok_or_else(|| format!("cloud `{name}`: auth.{key} is not set"));
    let domain = |name_key: &str, id_key: &str| match (text(auth, name_key), text(auth, id_key)) {
        (Some(n), _) => Ok(DomainRef::Name(n)),
        (None, Some(id)) => Ok(DomainRef::Id(id)),
        (None, None) => Err(format!(
            "cloud `{name}`: auth.{name_key} (or auth.{id_key}) is not set"
        )),
    };
    Ok(AuthConfig {
        auth_url: required("auth_url")?,
        username: required("username")?,
        password: Secret::new(required("password")?),
        project_name: text(auth, "project_name")
            .or_else(|| text(auth, "tenant_name"))
            .ok_or_else(|| format!("cloud `{name}`: auth.project_name is not set"))?,
        user_domain: domain("user_domain_name", "user_domain_id")?,
        project_domain: domain("project_domain_name", "project_domain_id")?,
        region: text(top, "region_name"),
        interface: text(top, "interface")
            .map(|i| i.trim_end_matches("URL").to_string())
            .unwrap_or_else(|| "public".into()),
        user_id: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLOUDS: &str = "\
# written by the harness
clouds:
  harness-admin:
    auth:
      auth_url: http://127.0.0.1:5000/v3
      username: admin
      project_name: admin
      user_domain_name: Default
      project_domain_id: default
    region_name: RegionOne
    interface: internalURL
    identity_api_version: 3
  other:
    auth_type: v3applicationcredential
";

    fn write(dir: &std::path::Path, file: &str, text: &str) -> String {
        let path = dir.join(file);
        std::fs::write(&path, text).expect("written");
        path.display().to_string()
    }

    #[test]
    fn an_entry_with_its_secure_yaml_password() {
        let dir = tempfile::tempdir().expect("tempdir");
        let clouds = write(dir.path(), "clouds.yaml", CLOUDS);
        let secure = write(
            dir.path(),
            "secure.yaml",
            "clouds:\n  harness-admin:\n    auth:\n      password: 1234\n",
        );
        let lookup = |k: &str| match k {
            "OS_CLIENT_CONFIG_FILE" => Some(clouds.clone()),
            "OS_CLIENT_SECURE_FILE" => Some(secure.clone()),
            _ => None,
        };
        let auth = from_clouds_yaml("harness-admin", lookup).expect("read");
        assert_eq!(auth.auth_url, "http://127.0.0.1:5000/v3");
        assert_eq!(auth.username, "admin");
        assert_eq!(auth.password.expose(), "1234");
        assert_eq!(auth.project_name, "admin");
        assert_eq!(auth.user_domain, DomainRef::Name("Default".into()));
        assert_eq!(auth.project_domain, DomainRef::Id("default".into()));
        assert_eq!(auth.region.as_deref(), Some("RegionOne"));
        assert_eq!(auth.interface, "internal");
    }

    #[test]
    fn problems_name_the_file_and_the_cloud() {
        let dir = tempfile::tempdir().expect("tempdir");
        let clouds = write(dir.path(), "clouds.yaml", CLOUDS);
        let lookup = |k: &str| (k == "OS_CLIENT_CONFIG_FILE").then(|| clouds.clone());
        let message = |name: &str| match from_clouds_yaml(name, lookup) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        };
        assert!(
            message("nope").ends_with(
                "clouds.yaml: no cloud named `nope` (clouds there: harness-admin, other)"
            ),
            "{}",
            message("nope")
        );
        assert!(
            message("other").ends_with(
                "clouds.yaml: cloud `other`: auth_type `v3applicationcredential` is not supported (password only)"
            ),
            "{}",
            message("other")
        );
        assert!(
            message("harness-admin")
                .ends_with("clouds.yaml: cloud `harness-admin`: auth.password is not set"),
            "{}",
            message("harness-admin")
        );
        let missing = dir.path().join("absent.yaml").display().to_string();
        let nowhere = |k: &str| (k == "OS_CLIENT_CONFIG_FILE").then(|| missing.clone());
        assert_eq!(
            from_clouds_yaml("x", nowhere)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err(format!(
                "{}",
                ApiError::Config(format!(
                    "cloud `x`: no clouds.yaml found (looked at {missing})"
                ))
            ))
        );
    }

    #[test]
    fn os_cloud_is_read_when_os_auth_url_is_not_set() {
        let dir = tempfile::tempdir().expect("tempdir");
        let clouds = write(
            dir.path(),
            "clouds.yaml",
            &CLOUDS.replace("username: admin", "username: admin\n      password: s3"),
        );
        let vars = |with_url: bool| {
            let clouds = clouds.clone();
            move |k: &str| match k {
                "OS_CLOUD" => Some("harness-admin".to_string()),
                "OS_CLIENT_CONFIG_FILE" => Some(clouds.clone()),
                "OS_AUTH_URL" if with_url => Some("http://other:5000/v3".to_string()),
                "OS_USERNAME" | "OS_PASSWORD" | "OS_PROJECT_NAME" => Some("x".to_string()),
                "OS_USER_DOMAIN_NAME" | "OS_PROJECT_DOMAIN_NAME" => Some("Default".to_string()),
                _ => None,
            }
        };
        let from_yaml = AuthConfig::from_env_lookup(vars(false)).expect("clouds.yaml");
        assert_eq!(from_yaml.auth_url, "http://127.0.0.1:5000/v3");
        assert_eq!(from_yaml.password.expose(), "s3");
        let from_vars = AuthConfig::from_env_lookup(vars(true)).expect("variables");
        assert_eq!(from_vars.auth_url, "http://other:5000/v3");
    }

    #[test]
    fn secure_values_merge_deeply() {
        let mut base =
            serde_json::json!({"auth": {"username": "a", "password": "old"}, "region_name": "R"});
        merge(&mut base, &serde_json::json!({"auth": {"password": "new"}}));
        assert_eq!(
            base,
            serde_json::json!({"auth": {"username": "a", "password": "new"}, "region_name": "R"})
        );
    }
}
