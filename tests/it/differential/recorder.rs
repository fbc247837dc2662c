//! Runs calls against one cloud and records what a client can rely on: status, the body's
//! shape (keys and JSON types, values only where the value is the contract), selected headers
//! and the statuses seen while polling. Ids, times and addresses are never recorded.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

/// The services the embedded cloud implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Svc {
    Identity,
    Compute,
    Network,
    Image,
    /// Cinder: templates are relative to the catalog URL, which holds the project.
    BlockStorage,
}

impl Svc {
    const ALL: [Svc; 5] = [
        Svc::Identity,
        Svc::Compute,
        Svc::Network,
        Svc::Image,
        Svc::BlockStorage,
    ];

    fn catalog_type(self) -> &'static str {
        match self {
            Svc::Identity => "identity",
            Svc::Compute => "compute",
            Svc::Network => "network",
            Svc::Image => "image",
            Svc::BlockStorage => "block-storage",
        }
    }

    /// The tail of the catalog URL that belongs to the version, not to the service's root.
    fn version_suffixes(self) -> &'static [&'static str] {
        match self {
            Svc::Identity => &["/v3"],
            Svc::Compute => &["/v2.1"],
            Svc::Network | Svc::Image | Svc::BlockStorage => &[],
        }
    }
}

/// Where values are part of the contract: these keys' values are recorded, all others only
/// by JSON type.
const COMPARED_VALUES: &[&str] = &[
    "status",
    "type",
    "code",
    "title",
    "rel",
    "interface",
    "admin_state_up",
    "router:external",
    "shared",
    "enable_dhcp",
    "ip_version",
    "ethertype",
    "direction",
    "protocol",
    "visibility",
    "protected",
    // Image data: the same bytes hash alike on both clouds.
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "disk_format",
    "container_format",
    "OS-EXT-STS:vm_state",
    "OS-EXT-STS:task_state",
    "OS-EXT-STS:power_state",
    "port_security_enabled",
    "is_domain",
    "enabled",
    "domain_id",
    "device_owner",
    "version",
    "min_version",
    "truncated",
    "zoneName",
    "available",
    "provider:network_type",
    "provider:physical_network",
    "in_use",
    "limit",
    "reserved",
    "used",
    "network",
    "subnet",
    "port",
    "router",
    "security_group",
    "security_group_rule",
    "floatingip",
    "methods",
    "tags",
    "metadata",
    "media-types",
    "base",
    "retryAfter",
    "os_hidden",
    "min_disk",
    "min_ram",
];

/// One recorded call (or poll).
#[derive(Debug, Clone)]
pub struct Record {
    pub label: String,
    pub method: String,
    pub template: String,
    pub status: u16,
    /// Flattened body shape: `path → {type or type=value}` (filled by `finish`, once the
    /// catalog's roots are known for normalizing URLs).
    pub shape: BTreeMap<String, BTreeSet<String>>,
    body: Value,
    /// Header name → `present` or its compared value; absent headers are not listed.
    pub headers: BTreeMap<String, String>,
    /// For polls: the distinct statuses seen, in order.
    pub polled: Vec<String>,
}

/// The token a call carries.
#[derive(Clone, Debug)]
pub enum Auth {
    Admin,
    None,
    Raw(String),
    Var(&'static str),
}

/// One request of the script.
pub struct Req {
    pub label: String,
    pub svc: Svc,
    pub method: Method,
    pub template: String,
    pub body: Option<Value>,
    pub raw: Option<(Vec<u8>, &'static str)>,
    pub headers: Vec<(&'static str, String)>,
    pub auth: Auth,
}

impl Req {
    pub fn new(label: &str, svc: Svc, method: Method, template: &str) -> Req {
        let mut headers = Vec::new();
        if svc == Svc::Compute {
            headers.push(("OpenStack-API-Version", "compute 2.79".to_string()));
        }
        if svc == Svc::BlockStorage {
            headers.push(("OpenStack-API-Version", "volume 3.71".to_string()));
        }
        Req {
            label: label.to_string(),
            svc,
            method,
            template: template.to_string(),
            body: None,
            raw: None,
            headers,
            auth: Auth::Admin,
        }
    }
    pub fn json(mut self, body: Value) -> Req {
        self.body = Some(body);
        self
    }
    pub fn raw(mut self, bytes: Vec<u8>, content_type: &'static str) -> Req {
        self.raw = Some((bytes, content_type));
        self
    }
    pub fn header(mut self, name: &'static str, value: &str) -> Req {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name, value.to_string()));
        self
    }
    pub fn no_microversion(mut self) -> Req {
        self.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("OpenStack-API-Version"));
        self
    }
    pub fn auth(mut self, auth: Auth) -> Req {
        self.auth = auth;
        self
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn str_at(&self, pointer: &str) -> String {
        self.body
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("<missing>")
            .to_string()
    }
}

/// Runs one script against one cloud.
pub struct Recorder {
    pub name: &'static str,
    /// The per-run suffix of every name, replaced by `{run}` in compared values.
    run: String,
    http: reqwest::Client,
    auth_url: String,
    /// Service root URLs (no version), from the catalog.
    roots: BTreeMap<&'static str, String>,
    pub vars: BTreeMap<&'static str, String>,
    pub records: Vec<Record>,
    /// Every reply as received, for diagnosing a difference (`DIFFERENTIAL_DUMP`).
    pub raw: Vec<Value>,
    /// (service, path) to DELETE at the end, in reverse, whatever happened.
    cleanup: Vec<(Svc, String)>,
}

impl Recorder {
    pub fn new(name: &'static str, run: &str, http: reqwest::Client, auth_url: &str) -> Recorder {
        Recorder {
            name,
            run: run.to_string(),
            http,
            auth_url: auth_url.trim_end_matches('/').to_string(),
            roots: BTreeMap::new(),
            vars: BTreeMap::new(),
            records: Vec::new(),
            raw: Vec::new(),
            cleanup: Vec::new(),
        }
    }

    pub fn bind(&mut self, var: &'static str, value: String) {
        self.vars.insert(var, value);
    }

    pub fn var(&self, var: &str) -> String {
        self.vars
            .get(var)
            .cloned()
            .unwrap_or_else(|| format!("missing-{var}"))
    }

    pub fn on_cleanup(&mut self, svc: Svc, template: &str) {
        let path = self.resolve(template);
        self.cleanup.push((svc, path));
    }

    /// Reads the service roots from a token's catalog (public interface).
    pub fn learn_catalog(&mut self, token_body: &Value) {
        let catalog = token_body
            .pointer("/token/catalog")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for svc in Svc::ALL {
            let url = catalog
                .iter()
                .filter(|entry| entry["type"] == svc.catalog_type())
                .flat_map(|entry| entry["endpoints"].as_array().cloned().unwrap_or_default())
                .find(|endpoint| endpoint["interface"] == "public")
                .and_then(|endpoint| endpoint["url"].as_str().map(str::to_string));
            if let Some(url) = url {
                let mut root = url.trim_end_matches('/').to_string();
                for suffix in svc.version_suffixes() {
                    if let Some(stripped) = root.strip_suffix(suffix) {
                        root = stripped.to_string();
                    }
                }
                if svc == Svc::BlockStorage {
                    self.learn_cinder_roots(&root);
                }
                self.roots.insert(svc.catalog_type(), root);
            }
        }
    }

    /// Cinder's links leave its catalog URL (`<service>/v3/<project>`): the version document
    /// links `<service>/v3/`, bookmarks `<service>/<project>/...`. Both are roots too, and
    /// `{volume_service}` reaches the version document.
    fn learn_cinder_roots(&mut self, root: &str) {
        let Some((service, project)) = root.rsplit_once("/v3/") else {
            return;
        };
        self.roots
            .insert("block-storage-bookmark", format!("{service}/{project}"));
        self.roots
            .insert("block-storage-service", service.to_string());
        self.bind("volume_service", service.to_string());
    }

    fn root(&self, svc: Svc) -> String {
        if let Some(root) = self.roots.get(svc.catalog_type()) {
            return root.clone();
        }
        // Before the catalog is known only Keystone can be reached: the auth URL minus /v3.
        self.auth_url
            .strip_suffix("/v3")
            .unwrap_or(&self.auth_url)
            .to_string()
    }

    fn resolve(&self, template: &str) -> String {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let Some(end) = rest[start..].find('}') else {
                break;
            };
            let name = &rest[start + 1..start + end];
            out.push_str(&self.var(name));
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn resolve_json(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.resolve(s)),
            Value::Array(items) => items.iter().map(|v| self.resolve_json(v)).collect(),
            Value::Object(map) => map
                .iter()
                .map(|(k, v)| (k.clone(), self.resolve_json(v)))
                .collect(),
            other => other.clone(),
        }
    }

    async fn send(&self, req: &Req, url: &str) -> Reply {
        let mut request = self.http.request(req.method.clone(), url);
        let token = match &req.auth {
            Auth::Admin => Some(self.var("token")),
            Auth::None => None,
            Auth::Raw(raw) => Some(raw.clone()),
            Auth::Var(var) => Some(self.var(var)),
        };
        if let Some(token) = token {
            request = request.header("X-Auth-Token", token);
        }
        for (name, value) in &req.headers {
            request = request.header(*name, self.resolve(value));
        }
        if let Some(body) = &req.body {
            request = request.json(&self.resolve_json(body));
        }
        if let Some((bytes, content_type)) = &req.raw {
            request = request
                .header("Content-Type", *content_type)
                .body(bytes.clone());
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => {
                return Reply {
                    status: 0,
                    headers: Default::default(),
                    body: json!({ "transport_error": err.to_string() }),
                };
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap_or_default();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::String("<not JSON>".into()))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Sends and records one request.
    pub async fn call(&mut self, req: Req) -> Reply {
        let resolved = self.resolve(&req.template);
        let url = if resolved.starts_with("http") {
            resolved
        } else {
            format!("{}{resolved}", self.root(req.svc))
        };
        let reply = self.send(&req, &url).await;
        let record = Record {
            label: req.label.clone(),
            method: req.method.to_string(),
            template: req.template.clone(),
            status: reply.status,
            shape: BTreeMap::new(),
            body: reply.body.clone(),
            headers: header_summary(&reply.headers, !reply.body.is_null()),
            polled: Vec::new(),
        };
        self.records.push(record);
        self.raw.push(
            json!({"label": req.label, "url": url, "status": reply.status,
            "body": reply.body.clone(),
            "headers": format!("{:?}", reply.headers)}),
        );
        reply
    }

    /// Polls `GET template` until the value at `pointer` is one of `targets` (or 404 when
    /// `targets` holds `"404"`), recording the distinct values seen.
    pub async fn poll(
        &mut self,
        label: &str,
        svc: Svc,
        template: &str,
        pointer: &str,
        targets: &[&str],
        timeout: Duration,
    ) -> String {
        let url = format!("{}{}", self.root(svc), self.resolve(template));
        let req = Req::new(label, svc, Method::GET, template);
        let started = Instant::now();
        let mut seen: Vec<String> = Vec::new();
        let last = loop {
            let reply = self.send(&req, &url).await;
            let value = if reply.status == 404 {
                "404".to_string()
            } else if reply.status != 200 {
                format!("HTTP {}", reply.status)
            } else {
                match reply.body.pointer(pointer) {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => "null".into(),
                    Some(other) => other.to_string(),
                }
            };
            if seen.last() != Some(&value) {
                seen.push(value.clone());
            }
            if targets.contains(&value.as_str()) || started.elapsed() > timeout {
                break value;
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        };
        self.records.push(Record {
            label: label.to_string(),
            method: "POLL".into(),
            template: format!("{template} {pointer}"),
            status: 0,
            shape: BTreeMap::new(),
            body: Value::Null,
            headers: BTreeMap::new(),
            polled: seen,
        });
        last
    }

    /// Deletes what the script registered, newest first; servers are waited for (their ports
    /// hold networks).
    pub async fn clean_up(&mut self) {
        while let Some((svc, path)) = self.cleanup.pop() {
            let url = format!("{}{}", self.root(svc), path);
            let req = Req::new("cleanup", svc, Method::DELETE, &path);
            let reply = self.send(&req, &url).await;
            if svc == Svc::Compute && path.contains("/servers/") && reply.status < 300 {
                let get = Req::new("cleanup", svc, Method::GET, &path);
                let deadline = Instant::now() + Duration::from_secs(60);
                while Instant::now() < deadline {
                    if self.send(&get, &url).await.status == 404 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            }
        }
    }

    /// Computes every record's shape.
    pub fn finish(&mut self) {
        let shapes: Vec<_> = self
            .records
            .iter()
            .map(|r| self.shape_of(&r.body))
            .collect();
        for (record, shape) in self.records.iter_mut().zip(shapes) {
            record.shape = shape;
        }
    }

    fn shape_of(&self, body: &Value) -> BTreeMap<String, BTreeSet<String>> {
        let mut out = BTreeMap::new();
        let body = filter_catalog(body);
        self.flatten("", None, &body, &mut out);
        out
    }

    fn flatten(
        &self,
        path: &str,
        key: Option<&str>,
        value: &Value,
        out: &mut BTreeMap<String, BTreeSet<String>>,
    ) {
        let here = if path.is_empty() { "." } else { path };
        let compare = key.is_some_and(|k| COMPARED_VALUES.contains(&k));
        let description = match value {
            Value::Null => "null".to_string(),
            Value::Bool(b) if compare => format!("bool={b}"),
            Value::Bool(_) => "bool".into(),
            Value::Number(n) if compare => format!("number={n}"),
            Value::Number(_) => "number".into(),
            Value::String(s) => self.describe_string(key, s, compare),
            Value::Array(items) => {
                let description = if items.is_empty() {
                    "array(empty)"
                } else {
                    "array"
                };
                for item in items {
                    self.flatten(&format!("{path}[]"), key, item, out);
                }
                description.to_string()
            }
            Value::Object(map) => {
                for (k, v) in map {
                    let child = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    self.flatten(&child, Some(k), v, out);
                }
                "object".into()
            }
        };
        out.entry(here.to_string()).or_default().insert(description);
    }

    fn describe_string(&self, key: Option<&str>, s: &str, compare: bool) -> String {
        if s.starts_with("http://") || s.starts_with("https://") || s.starts_with("/v2") {
            return format!("url={}", self.normalize_url(s));
        }
        let version_like = key == Some("id")
            && s.starts_with('v')
            && s[1..].chars().next().is_some_and(|c| c.is_ascii_digit());
        if compare || version_like {
            format!("string={}", s.replace(&self.run, "{run}"))
        } else {
            "string".into()
        }
    }

    /// A URL with the cloud's own roots, ids and query values replaced by placeholders.
    fn normalize_url(&self, url: &str) -> String {
        let mut url = url.to_string();
        // Longest roots first: the embedded cloud's roots share one host and port.
        let mut roots: Vec<(&&str, &String)> = self.roots.iter().collect();
        roots.sort_by_key(|(_, root)| std::cmp::Reverse(root.len()));
        for (name, root) in roots {
            if let Some(rest) = url.strip_prefix(root.as_str()) {
                url = format!("<{name}>{rest}");
                break;
            }
        }
        let (path, query) = match url.split_once('?') {
            Some((path, query)) => (path.to_string(), Some(query.to_string())),
            None => (url, None),
        };
        // A segment after a collection name is an id, whatever its form (flavor ids are
        // deployment data: "1" here, a UUID there).
        let segments: Vec<&str> = path.split('/').collect();
        let path = segments
            .iter()
            .enumerate()
            .map(|(i, segment)| {
                let after_collection = i > 0 && COLLECTIONS.contains(&segments[i - 1]);
                if looks_like_id(segment) || (after_collection && !segment.is_empty()) {
                    "{id}"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        match query {
            None => path,
            Some(query) => {
                let mut keys: Vec<String> = query
                    .split('&')
                    .map(|pair| {
                        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                        if k == "limit" || k == "page_reverse" {
                            format!("{k}={v}")
                        } else {
                            format!("{k}=*")
                        }
                    })
                    .collect();
                keys.sort();
                format!("{path}?{}", keys.join("&"))
            }
        }
    }
}

const COLLECTIONS: &[&str] = &["flavors", "servers", "images"];

fn looks_like_id(segment: &str) -> bool {
    let hex: String = segment.chars().filter(|c| *c != '-').collect();
    hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
}

/// The catalog keeps only the services both clouds have (the real one also has Cinder and
/// Placement), so its structure can be compared.
fn filter_catalog(body: &Value) -> Value {
    let mut body = body.clone();
    let keep = |catalog: &mut Value| {
        if let Some(entries) = catalog.as_array_mut() {
            entries.retain(|entry| {
                Svc::ALL
                    .iter()
                    .any(|svc| entry["type"] == svc.catalog_type())
            });
        }
    };
    if let Some(catalog) = body.pointer_mut("/token/catalog") {
        keep(catalog);
    }
    if let Some(catalog) = body.pointer_mut("/catalog") {
        keep(catalog);
    }
    body
}

const WATCHED_HEADERS: &[&str] = &[
    "x-subject-token",
    "x-openstack-request-id",
    "x-compute-request-id",
    "location",
    "www-authenticate",
    "vary",
];

/// Content-Type is compared only when there is a body: an empty reply's type means nothing.
fn header_summary(
    headers: &reqwest::header::HeaderMap,
    has_body: bool,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for name in WATCHED_HEADERS {
        if headers.contains_key(*name) {
            out.insert(name.to_string(), "present".to_string());
        }
    }
    for name in [
        "openstack-api-version",
        "x-openstack-nova-api-version",
        // Glance's download: the MD5 of the data sent back.
        "content-md5",
    ] {
        if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) {
            out.insert(name.to_string(), value.to_string());
        }
    }
    if let Some(value) = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .filter(|_| has_body)
    {
        let main = value.split(';').next().unwrap_or("").trim().to_lowercase();
        out.insert("content-type".into(), main);
    }
    out
}
