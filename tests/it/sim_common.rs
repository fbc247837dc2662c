//! Shared helpers for the embedded cloud's integration tests: start a cloud on a loopback
//! port, get tokens, and make raw HTTP calls answered as status + headers + JSON.

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use stackform::sim::{ADMIN_PASSWORD, ADMIN_PROJECT, ADMIN_USER, Sim, SimConfig, SimHandle};

pub struct Cloud {
    pub handle: SimHandle,
    pub http: reqwest::Client,
    /// A project-scoped admin token on the `admin` project.
    pub token: String,
    pub admin_project_id: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub fn http_client() -> reqwest::Client {
    // reqwest is built without a default crypto provider; the tests speak plain HTTP but the
    // client still wants one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap_or_else(|err| panic!("cannot build the HTTP client: {err}"))
}

pub fn fast_config() -> SimConfig {
    SimConfig {
        data_dir: None,
        build_delay: Duration::from_millis(200),
        action_delay: Duration::from_millis(100),
        ..SimConfig::default()
    }
}

pub async fn start() -> Cloud {
    start_with(fast_config()).await
}

pub async fn start_with(config: SimConfig) -> Cloud {
    let handle = Sim::start_on_loopback(config)
        .await
        .unwrap_or_else(|err| panic!("cannot start the embedded cloud: {err}"));
    let http = http_client();
    let reply = password_token(
        &http,
        &handle.base_url,
        ADMIN_USER,
        ADMIN_PASSWORD,
        Some(ADMIN_PROJECT),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "admin token: {}",
        reply.body
    );
    let token = reply
        .header("x-subject-token")
        .unwrap_or_default()
        .to_string();
    let admin_project_id = reply.body["token"]["project"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    Cloud {
        handle,
        http,
        token,
        admin_project_id,
    }
}

/// POST /identity/v3/auth/tokens with the password method, by user name in domain "default".
pub async fn password_token(
    http: &reqwest::Client,
    base: &str,
    user: &str,
    password: &str,
    project: Option<&str>,
) -> Reply {
    let mut auth = json!({
        "identity": {
            "methods": ["password"],
            "password": { "user": { "name": user, "domain": { "id": "default" }, "password": password } }
        }
    });
    if let Some(project) = project {
        auth["scope"] = json!({ "project": { "name": project, "domain": { "id": "default" } } });
    }
    send(
        http,
        Method::POST,
        &format!("{base}/identity/v3/auth/tokens"),
        None,
        Some(json!({ "auth": auth })),
        &[],
    )
    .await
}

pub async fn send(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut request = http.request(method, url);
    if let Some(token) = token {
        request = request.header("X-Auth-Token", token);
    }
    // As every OpenStack client does (and stackform's): Glance answers errors in HTML without it.
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("accept"))
    {
        request = request.header("Accept", "application/json");
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|err| panic!("request to {url} failed: {err}"));
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .bytes()
        .await
        .unwrap_or_else(|err| panic!("reading the reply from {url} failed: {err}"));
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Reply {
        status,
        headers,
        body,
    }
}

impl Cloud {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.base_url)
    }

    /// A call with the admin token.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        send(
            &self.http,
            method,
            &self.url(path),
            Some(&self.token),
            body,
            &[],
        )
        .await
    }

    /// A call with the admin token and extra headers.
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        send(
            &self.http,
            method,
            &self.url(path),
            Some(&self.token),
            body,
            headers,
        )
        .await
    }

    /// A call with another token.
    pub async fn call_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        send(
            &self.http,
            method,
            &self.url(path),
            Some(token),
            body,
            headers,
        )
        .await
    }

    /// Creates a project, a member user with a role on it, and returns (project id, user id,
    /// the user's project-scoped token).
    pub async fn tenant(&self, name: &str) -> (String, String, String) {
        let project = self
            .call(
                Method::POST,
                "/identity/v3/projects",
                Some(json!({ "project": { "name": name } })),
            )
            .await;
        assert_eq!(project.status, StatusCode::CREATED, "{}", project.body);
        let project_id = project.body["project"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let user_name = format!("{name}-user");
        let user = self
            .call(
                Method::POST,
                "/identity/v3/users",
                Some(json!({ "user": { "name": user_name, "password": "secret-pw", "default_project_id": project_id } })),
            )
            .await;
        assert_eq!(user.status, StatusCode::CREATED, "{}", user.body);
        let user_id = user.body["user"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let role_id = self.role_id("member").await;
        let grant = self
            .call(
                Method::PUT,
                &format!("/identity/v3/projects/{project_id}/users/{user_id}/roles/{role_id}"),
                None,
            )
            .await;
        assert_eq!(grant.status, StatusCode::NO_CONTENT);
        let token = password_token(
            &self.http,
            &self.handle.base_url,
            &user_name,
            "secret-pw",
            Some(name),
        )
        .await;
        assert_eq!(token.status, StatusCode::CREATED, "{}", token.body);
        let token = token
            .header("x-subject-token")
            .unwrap_or_default()
            .to_string();
        (project_id, user_id, token)
    }

    pub async fn role_id(&self, name: &str) -> String {
        let roles = self
            .call(
                Method::GET,
                &format!("/identity/v3/roles?name={name}"),
                None,
            )
            .await;
        assert_eq!(roles.status, StatusCode::OK);
        roles.body["roles"][0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn cirros_id(&self) -> String {
        let images = self
            .call(Method::GET, "/image/v2/images?name=cirros", None)
            .await;
        assert_eq!(images.status, StatusCode::OK);
        images.body["images"][0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}
