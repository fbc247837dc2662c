//! Keystone v3 password authentication: configuration from OS_* variables, the token request,
//! and reading the service catalog out of the token.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ServiceType;
use super::error::ApiError;

/// A value that must never be shown: Debug and Display print `(sensitive)`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sensitive)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sensitive)")
    }
}

/// How a domain is named in the configuration: OS_*_DOMAIN_NAME or OS_*_DOMAIN_ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DomainRef {
    Name(String),
    Id(String),
}

impl DomainRef {
    fn to_json(&self) -> Value {
        match self {
            DomainRef::Name(name) => json!({ "name": name }),
            DomainRef::Id(id) => json!({ "id": id }),
        }
    }
}

/// Password credentials, scoped to a project, plus which endpoints to use.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// Keystone's URL, with or without the trailing `/v3`.
    pub auth_url: String,
    pub username: String,
    pub password: Secret,
    pub project_name: String,
    pub user_domain: DomainRef,
    pub project_domain: DomainRef,
    pub region: Option<String>,
    /// The catalog interface: public, internal or admin.
    pub interface: String,
    /// Authenticate as this user id rather than `username` in `user_domain` (a tenant's own
    /// user, whose id the state keeps).
    pub user_id: Option<String>,
}

impl AuthConfig {
    /// Password credentials for a project, user and project in the `Default` domain, public
    /// endpoints, any region (the embedded cloud's shape; also devstack's).
    pub fn new(
        auth_url: impl Into<String>,
        username: impl Into<String>,
        password: Secret,
        project_name: impl Into<String>,
    ) -> AuthConfig {
        AuthConfig {
            auth_url: auth_url.into(),
            username: username.into(),
            password,
            project_name: project_name.into(),
            user_domain: DomainRef::Name("Default".into()),
            project_domain: DomainRef::Name("Default".into()),
            region: None,
            interface: "public".into(),
            user_id: None,
        }
    }

    /// Reads the standard OS_* variables an openrc file sets; without OS_AUTH_URL, the
    /// clouds.yaml entry OS_CLOUD names (as the `openstack` CLI does).
    pub fn from_env() -> Result<AuthConfig, ApiError> {
        Self::from_env_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// [`from_env`](Self::from_env) over any variable source: OS_AUTH_URL wins over OS_CLOUD,
    /// so a shell that has both keeps the explicit variables.
    pub fn from_env_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<AuthConfig, ApiError> {
        match (lookup("OS_AUTH_URL"), lookup("OS_CLOUD")) {
            (None, Some(cloud)) => super::clouds::from_clouds_yaml(&cloud, lookup),
            _ => Self::from_lookup(lookup),
        }
    }

    /// Like [`from_env`](Self::from_env) with any variable source (tests use a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<AuthConfig, ApiError> {
        let required = |name: &str| {
            lookup(name).ok_or_else(|| {
                ApiError::Config(format!(
                    "environment variable {name} is not set (source your cloud's openrc file)"
                ))
            })
        };
        let domain = |name_var: &str, id_var: &str| match (lookup(name_var), lookup(id_var)) {
            (Some(name), _) => Ok(DomainRef::Name(name)),
            (None, Some(id)) => Ok(DomainRef::Id(id)),
            (None, None) => Err(ApiError::Config(format!(
                "environment variable {name_var} (or {id_var}) is not set"
            ))),
        };
        Ok(AuthConfig {
            auth_url: required("OS_AUTH_URL")?,
            username: required("OS_USERNAME")?,
            password: Secret::new(required("OS_PASSWORD")?),
            project_name: lookup("OS_PROJECT_NAME")
                .or_else(|| lookup("OS_TENANT_NAME"))
                .ok_or_else(|| {
                    ApiError::Config("environment variable OS_PROJECT_NAME is not set".into())
                })?,
            user_domain: domain("OS_USER_DOMAIN_NAME", "OS_USER_DOMAIN_ID")?,
            project_domain: domain("OS_PROJECT_DOMAIN_NAME", "OS_PROJECT_DOMAIN_ID")?,
            region: lookup("OS_REGION_NAME"),
            interface: lookup("OS_INTERFACE")
                .map(|i| i.trim_end_matches("URL").to_string())
                .unwrap_or_else(|| "public".into()),
            user_id: None,
        })
    }

    /// The Keystone v3 root, whether or not the configuration ends in `/v3`.
    pub fn identity_url(&self) -> String {
        let base = self.auth_url.trim_end_matches('/');
        if base.ends_with("/v3") {
            base.to_string()
        } else {
            format!("{base}/v3")
        }
    }
}

/// Which project a token is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The configured project, by name in its domain.
    Configured,
    /// Another project, by id (a tenant stackform manages).
    ProjectId(String),
}

/// The body of `POST /v3/auth/tokens` for password auth, project-scoped.
pub fn token_request(auth: &AuthConfig, scope: &Scope) -> Value {
    let project = match scope {
        Scope::Configured => json!({
            "name": auth.project_name,
            "domain": auth.project_domain.to_json(),
        }),
        Scope::ProjectId(id) => json!({ "id": id }),
    };
    let user = match &auth.user_id {
        Some(id) => json!({ "id": id, "password": auth.password.expose() }),
        None => json!({
            "name": auth.username,
            "domain": auth.user_domain.to_json(),
            "password": auth.password.expose(),
        }),
    };
    json!({
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": { "user": user }
            },
            "scope": { "project": project }
        }
    })
}

/// The body of `POST /v3/auth/tokens` exchanging a valid token for one scoped to another
/// project of the same user: no password check (Keystone's bcrypt costs a few hundred
/// milliseconds a token, on the way to every tenant's first resource).
pub fn rescope_request(token: &Secret, project_id: &str) -> Value {
    json!({
        "auth": {
            "identity": {
                "methods": ["token"],
                "token": { "id": token.expose() }
            },
            "scope": { "project": { "id": project_id } }
        }
    })
}

#[derive(Debug, Deserialize)]
struct TokenBody {
    token: TokenData,
}

#[derive(Debug, Deserialize)]
struct TokenData {
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    methods: Vec<String>,
    user: Named,
    #[serde(default)]
    project: Option<TokenProject>,
    #[serde(default)]
    catalog: Vec<CatalogService>,
}

#[derive(Debug, Deserialize)]
struct Named {
    id: String,
}

#[derive(Debug, Deserialize)]
struct TokenProject {
    id: String,
    #[serde(default)]
    domain: Option<Named>,
}

#[derive(Debug, Deserialize)]
struct CatalogService {
    #[serde(rename = "type")]
    service_type: String,
    #[serde(default)]
    endpoints: Vec<CatalogEndpoint>,
}

#[derive(Debug, Deserialize)]
struct CatalogEndpoint {
    interface: String,
    url: String,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    region_id: Option<String>,
}

/// What a token body tells us: who, which project, until when, and the service URLs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
    pub user_id: String,
    pub project_id: String,
    pub project_domain_id: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub endpoints: Endpoints,
    /// How the token was obtained (`password`, `token`), as Keystone says.
    pub methods: Vec<String>,
}

/// The versioned root URL of each service we call (no trailing slash).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Endpoints {
    pub compute: Option<String>,
    pub network: Option<String>,
    pub image: Option<String>,
    pub identity: Option<String>,
    /// Cinder v3, its URL holding the project id (`/v3/<project>`).
    pub block_storage: Option<String>,
}

impl Endpoints {
    pub fn get(&self, service: ServiceType) -> Option<&str> {
        match service {
            ServiceType::Compute => self.compute.as_deref(),
            ServiceType::Network => self.network.as_deref(),
            ServiceType::Image => self.image.as_deref(),
            ServiceType::Identity => self.identity.as_deref(),
            ServiceType::BlockStorage => self.block_storage.as_deref(),
        }
    }
}

/// Reads a `POST /v3/auth/tokens` reply body.
pub fn parse_token(body: &str, interface: &str, region: Option<&str>) -> Result<TokenInfo, String> {
    let parsed: TokenBody = serde_json::from_str(body).map_err(|e| e.to_string())?;
    let token = parsed.token;
    let project = token
        .project
        .ok_or("the token is not scoped to a project")?;
    let expires_at = match token.expires_at {
        Some(text) => Some(
            DateTime::parse_from_rfc3339(&text)
                .map_err(|e| format!("expires_at `{text}`: {e}"))?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    let find = |service_type: &str| {
        token
            .catalog
            .iter()
            .filter(|s| s.service_type == service_type)
            .flat_map(|s| s.endpoints.iter())
            .find(|e| {
                e.interface == interface
                    && region.is_none_or(|r| {
                        e.region_id.as_deref() == Some(r) || e.region.as_deref() == Some(r)
                    })
            })
            .map(|e| substitute_project(&e.url, &project.id))
    };
    let endpoints = Endpoints {
        compute: find("compute"),
        network: find("network").map(|u| with_version_suffix(&u, "v2.0")),
        image: find("image").map(|u| with_version_suffix(&u, "v2")),
        identity: find("identity"),
        // Newer catalogs name Cinder `block-storage`; most still list `volumev3` only.
        block_storage: find("block-storage").or_else(|| find("volumev3")),
    };
    Ok(TokenInfo {
        user_id: token.user.id,
        project_id: project.id,
        project_domain_id: project.domain.map(|d| d.id),
        expires_at,
        endpoints,
        methods: token.methods,
    })
}

/// Catalogs may still template the project into URLs (`%(project_id)s`, `$(project_id)s`).
fn substitute_project(url: &str, project_id: &str) -> String {
    url.replace("%(project_id)s", project_id)
        .replace("$(project_id)s", project_id)
        .replace("%(tenant_id)s", project_id)
        .replace("$(tenant_id)s", project_id)
        .trim_end_matches('/')
        .to_string()
}

/// Neutron and Glance catalogs usually list the unversioned root (`http://host:9696/`); our
/// paths start below the version, so add it when missing.
fn with_version_suffix(url: &str, version: &str) -> String {
    let base = url.trim_end_matches('/');
    if base.ends_with(&format!("/{version}")) {
        base.to_string()
    } else {
        format!("{base}/{version}")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn sample_token() -> String {
        // Copied from /work/shared/openstack-api-samples/identity/
        // admin_auth-password-project-scoped-response.json (openstack/keystone api-ref).
        let path = format!(
            "{}/tests/fixtures/openstack/admin_auth-password-project-scoped-response.json",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn parses_the_keystone_sample_catalog() {
        let info = parse_token(&sample_token(), "public", Some("RegionOne")).unwrap();
        assert_eq!(info.user_id, "ee4dfb6e5540447cb3741905149d9b6e");
        assert_eq!(info.project_id, "a6944d763bf64ee6a275f1263fae0352");
        assert_eq!(info.project_domain_id.as_deref(), Some("default"));
        assert_eq!(
            info.expires_at.map(|t| t.to_rfc3339()),
            Some("2015-11-07T02:58:43.578887+00:00".to_string())
        );
        assert_eq!(
            info.endpoints,
            Endpoints {
                compute: Some(
                    "http://23.253.248.171:8774/v2.1/a6944d763bf64ee6a275f1263fae0352".into()
                ),
                network: Some("http://23.253.248.171:9696/v2.0".into()),
                image: Some("http://23.253.248.171:9292/v2".into()),
                identity: Some("http://example.com/identity/v2.0".into()),
                // The sample lists only the retired `volume` and `volumev2` types.
                block_storage: None,
            }
        );
    }

    #[test]
    fn interface_selects_the_endpoint() {
        let info = parse_token(&sample_token(), "admin", None).unwrap();
        assert_eq!(
            info.endpoints.identity.as_deref(),
            Some("http://example.com/identity_v2_admin/v2.0")
        );
    }

    #[test]
    fn unknown_region_finds_no_endpoint() {
        let info = parse_token(&sample_token(), "public", Some("Elsewhere")).unwrap();
        assert_eq!(info.endpoints, Endpoints::default());
    }

    #[test]
    fn substitutes_templated_project_ids() {
        assert_eq!(
            substitute_project("http://nova:8774/v2.1/%(project_id)s/", "p1"),
            "http://nova:8774/v2.1/p1"
        );
        assert_eq!(
            substitute_project("http://nova:8774/v2.1/$(project_id)s", "p1"),
            "http://nova:8774/v2.1/p1"
        );
        assert_eq!(
            with_version_suffix("http://cloud/networking/v2.0/", "v2.0"),
            "http://cloud/networking/v2.0"
        );
    }

    #[test]
    fn env_config_names_the_missing_variable() {
        let vars: HashMap<&str, &str> = [
            ("OS_AUTH_URL", "http://cloud:5000/v3"),
            ("OS_USERNAME", "admin"),
            ("OS_PROJECT_NAME", "admin"),
            ("OS_USER_DOMAIN_NAME", "Default"),
            ("OS_PROJECT_DOMAIN_ID", "default"),
        ]
        .into();
        let error = AuthConfig::from_lookup(|k| vars.get(k).map(|v| v.to_string()))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("environment variable OS_PASSWORD is not set (source your cloud's openrc file)")
        );

        let mut vars = vars;
        vars.insert("OS_PASSWORD", "hunter2");
        vars.insert("OS_INTERFACE", "internalURL");
        let config = AuthConfig::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(config.project_domain, DomainRef::Id("default".into()));
        assert_eq!(config.user_domain, DomainRef::Name("Default".into()));
        assert_eq!(config.interface, "internal");
        assert_eq!(config.identity_url(), "http://cloud:5000/v3");
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("password: (sensitive)"), "{shown}");
    }

    #[test]
    fn secret_is_never_printed() {
        let secret = Secret::new("s3cr3t");
        assert_eq!(format!("{secret}"), "(sensitive)");
        assert_eq!(format!("{secret:?}"), "(sensitive)");
        assert_eq!(secret.expose(), "s3cr3t");
    }

    #[test]
    fn token_request_scopes_by_name_or_id() {
        let config = AuthConfig {
            auth_url: "http://cloud:5000".into(),
            username: "admin".into(),
            password: Secret::new("pw"),
            project_name: "admin".into(),
            user_domain: DomainRef::Name("Default".into()),
            project_domain: DomainRef::Id("default".into()),
            region: None,
            interface: "public".into(),
            user_id: None,
        };
        let by_name = token_request(&config, &Scope::Configured);
        assert_eq!(
            by_name["auth"]["scope"],
            json!({"project": {"name": "admin", "domain": {"id": "default"}}})
        );
        let by_id = token_request(&config, &Scope::ProjectId("p9".into()));
        assert_eq!(by_id["auth"]["scope"], json!({"project": {"id": "p9"}}));
        assert_eq!(
            by_id["auth"]["identity"]["password"]["user"],
            json!({"name": "admin", "domain": {"name": "Default"}, "password": "pw"})
        );
        assert_eq!(config.identity_url(), "http://cloud:5000/v3");
        let as_user = AuthConfig {
            user_id: Some("u7".into()),
            ..config
        };
        assert_eq!(
            token_request(&as_user, &Scope::ProjectId("p9".into()))["auth"]["identity"]["password"]
                ["user"],
            json!({"id": "u7", "password": "pw"})
        );
    }
}
