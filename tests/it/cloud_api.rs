//! A minimal raw-HTTP view of a cloud for assertions: independent of stackform's client, so
//! tests check what the cloud really holds, not what our client believes.

use serde_json::{Value, json};

pub struct CloudApi {
    http: reqwest::Client,
    token: String,
    catalog: Vec<Value>,
}

impl CloudApi {
    /// Logs in as the embedded cloud's admin, scoped to the admin project.
    pub async fn admin(auth_url: &str) -> CloudApi {
        CloudApi::login(auth_url, "admin", stackform::sim::ADMIN_PASSWORD, "admin").await
    }

    pub async fn login(auth_url: &str, user: &str, password: &str, project: &str) -> CloudApi {
        CloudApi::login_scoped(auth_url, user, password, project, "Default", "Default").await
    }

    /// Logs in from OS_* pairs (as sourced from an openrc), with their domain names.
    pub async fn login_env(env: &[(String, String)]) -> CloudApi {
        let var = |k: &str| {
            env.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("{k} missing from the OS_* variables"))
        };
        let or_default = |k: &str| {
            env.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or("Default")
        };
        CloudApi::login_scoped(
            var("OS_AUTH_URL").trim_end_matches('/'),
            var("OS_USERNAME"),
            var("OS_PASSWORD"),
            var("OS_PROJECT_NAME"),
            or_default("OS_USER_DOMAIN_NAME"),
            or_default("OS_PROJECT_DOMAIN_NAME"),
        )
        .await
    }

    async fn login_scoped(
        auth_url: &str,
        user: &str,
        password: &str,
        project: &str,
        user_domain: &str,
        project_domain: &str,
    ) -> CloudApi {
        // reqwest is built without a default TLS provider (see Cargo.toml): pick ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Real Keystone's gunicorn closes a kept-alive connection after 2 s idle: reusing one
        // as it closes fails the request (IncompleteMessage), so idle ones are dropped sooner.
        let http = reqwest::Client::builder()
            .pool_idle_timeout(std::time::Duration::from_secs(1))
            .build()
            .expect("an HTTP client");
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"name": user_domain}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"name": project_domain}}}}});
        let resp = http
            .post(format!("{auth_url}/auth/tokens"))
            .json(&body)
            .send()
            .await
            .expect("keystone answers");
        assert_eq!(resp.status().as_u16(), 201, "token issue");
        let token = resp
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .expect("X-Subject-Token")
            .to_string();
        let body: Value = resp.json().await.expect("token body");
        let catalog = body["token"]["catalog"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        CloudApi {
            http,
            token,
            catalog,
        }
    }

    /// The public endpoint of a service type, with the version path clients add.
    pub fn endpoint(&self, service_type: &str) -> String {
        let url = self
            .catalog
            .iter()
            .find(|s| s["type"] == service_type)
            .and_then(|s| s["endpoints"].as_array())
            .and_then(|eps| eps.iter().find(|e| e["interface"] == "public"))
            .and_then(|e| e["url"].as_str())
            .unwrap_or_else(|| panic!("no {service_type} endpoint"))
            .trim_end_matches('/')
            .to_string();
        match service_type {
            "network" if !url.ends_with("/v2.0") => format!("{url}/v2.0"),
            "image" if !url.ends_with("/v2") => format!("{url}/v2"),
            "identity" if !url.ends_with("/v3") => format!("{url}/v3"),
            _ => url,
        }
    }

    /// GET `path` on a service; panics unless 200. Nova calls use a fixed microversion.
    pub async fn get(&self, service_type: &str, path: &str) -> Value {
        let (status, body) = self
            .request(reqwest::Method::GET, service_type, path, None)
            .await;
        assert_eq!(status, 200, "GET {service_type} {path}: {body}");
        body
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        service_type: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.endpoint(service_type));
        let mut req = self
            .http
            .request(method, &url)
            .header("X-Auth-Token", &self.token)
            .header("OpenStack-API-Version", microversion(service_type));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("the cloud answers");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// POST/PUT `body` to `path`; panics unless the status is one of `ok`.
    pub async fn send(
        &self,
        method: reqwest::Method,
        service_type: &str,
        path: &str,
        body: Value,
        ok: &[u16],
    ) -> Value {
        let (status, answer) = self
            .request(method.clone(), service_type, path, Some(body))
            .await;
        assert!(
            ok.contains(&status),
            "{method} {service_type} {path}: {status} {answer}"
        );
        answer
    }

    /// PUT raw bytes (Glance image data: `Content-Type: application/octet-stream`).
    pub async fn put_bytes(&self, service_type: &str, path: &str, data: Vec<u8>) -> u16 {
        let url = format!("{}{path}", self.endpoint(service_type));
        let resp = self
            .http
            .put(&url)
            .header("X-Auth-Token", &self.token)
            .header("Content-Type", "application/octet-stream")
            .body(data)
            .send()
            .await
            .expect("the cloud answers");
        resp.status().as_u16()
    }

    /// `key` of a list answer, e.g. ("network", "/networks?name=x", "networks").
    pub async fn list(&self, service_type: &str, path: &str, key: &str) -> Vec<Value> {
        self.get(service_type, path).await[key]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The single item named `name` in a list answer's `key`; panics on zero or several.
    pub async fn one(&self, service_type: &str, collection: &str, key: &str, name: &str) -> Value {
        let sep = if collection.contains('?') { '&' } else { '?' };
        let items: Vec<Value> = self
            .list(service_type, &format!("{collection}{sep}name={name}"), key)
            .await
            .into_iter()
            .filter(|i| i["name"] == name)
            .collect();
        assert_eq!(items.len(), 1, "exactly one {key} named {name}: {items:?}");
        items.into_iter().next().unwrap_or(Value::Null)
    }
}

/// The microversion header a call to `service_type` carries: real Cinder answers 400 to an
/// `OpenStack-API-Version` naming another service (`compute 2.79`).
fn microversion(service_type: &str) -> &'static str {
    match service_type {
        "volumev3" | "block-storage" => "volume 3.42",
        _ => "compute 2.79",
    }
}
