//! The client's session behaviours against a scripted stub (not the embedded cloud, which
//! cannot be told to revoke a token or answer 503): re-authentication on 401, retries with
//! Retry-After for reads, no blind retry of creates, paging across real HTTP answers, the
//! microversion header, and one-line errors carrying the request id.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use stackform::openstack::network::{NETWORKS, Network};
use stackform::openstack::{AuthConfig, Cloud, DomainRef, Secret};

#[derive(Default)]
struct Counters {
    tokens_issued: AtomicUsize,
    /// Tokens numbered below this are treated as revoked.
    valid_from: AtomicUsize,
    flavor_calls: AtomicUsize,
    network_posts: AtomicUsize,
    microversion_ok: AtomicUsize,
    router_posts: AtomicUsize,
    /// When set, tokens expire 2 minutes after issue (inside the 5-minute renewal margin).
    short_tokens: std::sync::atomic::AtomicBool,
}

#[derive(Clone)]
struct Stub {
    base: String,
    counters: Arc<Counters>,
}

fn token_number(headers: &HeaderMap) -> usize {
    headers
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix("tok-"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({"error": {"code": 401, "title": "Unauthorized",
            "message": "The request you have made requires authentication."}})),
    )
        .into_response()
}

async fn issue_token(State(stub): State<Stub>, body: axum::Json<Value>) -> Response {
    let password = &body["auth"]["identity"]["password"]["user"]["password"];
    if password != "right" {
        return unauthorized();
    }
    let n = stub.counters.tokens_issued.fetch_add(1, Ordering::SeqCst) + 1;
    let endpoint = |url: String| {
        json!([{"interface": "public", "region_id": "RegionOne",
        "region": "RegionOne", "url": url}])
    };
    let expires_at = if stub.counters.short_tokens.load(Ordering::SeqCst) {
        (chrono::Utc::now() + chrono::TimeDelta::minutes(2)).to_rfc3339()
    } else {
        "2999-01-01T00:00:00.000000Z".to_string()
    };
    let body = json!({"token": {
        "expires_at": expires_at,
        "user": {"id": "u1", "name": "admin", "domain": {"id": "default"}},
        "project": {"id": "p-admin", "name": "admin", "domain": {"id": "default", "name": "Default"}},
        "catalog": [
            {"type": "compute", "endpoints": endpoint(format!("{}/compute/v2.1", stub.base))},
            // Unversioned, as Neutron catalogs usually are: the client appends /v2.0.
            {"type": "network", "endpoints": endpoint(format!("{}/networking/", stub.base))},
            {"type": "image", "endpoints": endpoint(format!("{}/image", stub.base))}
        ]
    }});
    (
        StatusCode::CREATED,
        [("x-subject-token", format!("tok-{n}"))],
        axum::Json(body),
    )
        .into_response()
}

async fn list_networks(
    State(stub): State<Stub>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    if token_number(&headers) < stub.counters.valid_from.load(Ordering::SeqCst) {
        return unauthorized();
    }
    let marker = query
        .iter()
        .find(|(k, _)| k == "marker")
        .map(|(_, v)| v.as_str());
    let filtered = query.iter().any(|(k, v)| k == "project_id" && v == "p1");
    let body = match marker {
        None => json!({
            "networks": [{"id": "a", "name": "one", "project_id": "p1", "status": "ACTIVE"},
                         {"id": "b", "name": "two", "project_id": "p1", "tags": ["t"]}],
            // A wrong host in the link, as behind a proxy: only its query must be used.
            "networks_links": [{"rel": "next",
                "href": format!("http://wrong.invalid/v2.0/networks?limit=2&marker=b&project_id=p1&filtered={filtered}")}]
        }),
        Some("b") => json!({"networks": [{"id": "c", "name": "three", "project_id": "p1"}],
            "networks_links": [{"rel": "previous", "href": "http://wrong.invalid/v2.0/networks?marker=c&page_reverse=True"}]}),
        Some(_) => json!({"networks": []}),
    };
    axum::Json(body).into_response()
}

async fn create_network(State(stub): State<Stub>) -> Response {
    stub.counters.network_posts.fetch_add(1, Ordering::SeqCst);
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [("x-openstack-request-id", "req-lost-1")],
        "<html><body>503 Service Unavailable</body></html>",
    )
        .into_response()
}

/// A create refused with 429 did nothing, so the client may send it again.
async fn create_router(State(stub): State<Stub>) -> Response {
    if stub.counters.router_posts.fetch_add(1, Ordering::SeqCst) == 0 {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            axum::Json(json!({"NeutronError": {"type": "OverLimit", "message": "Too many requests", "detail": ""}})),
        )
            .into_response();
    }
    (
        StatusCode::CREATED,
        axum::Json(json!({"router": {"id": "r1", "name": "edge", "project_id": "p-admin"}})),
    )
        .into_response()
}

async fn list_flavors(State(stub): State<Stub>, headers: HeaderMap) -> Response {
    if headers
        .get("openstack-api-version")
        .and_then(|v| v.to_str().ok())
        == Some("compute 2.79")
    {
        stub.counters.microversion_ok.fetch_add(1, Ordering::SeqCst);
    }
    if stub.counters.flavor_calls.fetch_add(1, Ordering::SeqCst) == 0 {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            axum::Json(
                json!({"overLimit": {"code": 429, "message": "slow down", "retryAfter": "1"}}),
            ),
        )
            .into_response();
    }
    axum::Json(
        json!({"flavors": [{"id": "f1", "name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1}]}),
    )
    .into_response()
}

async fn start_stub() -> (String, Arc<Counters>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let counters = Arc::new(Counters::default());
    let stub = Stub {
        base: base.clone(),
        counters: counters.clone(),
    };
    let app = Router::new()
        .route("/identity/v3/auth/tokens", post(issue_token))
        .route(
            "/networking/v2.0/networks",
            get(list_networks).post(create_network),
        )
        .route("/networking/v2.0/routers", post(create_router))
        .route("/compute/v2.1/flavors/detail", get(list_flavors))
        .with_state(stub);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, counters)
}

fn auth(base: &str, password: &str) -> AuthConfig {
    AuthConfig {
        auth_url: format!("{base}/identity"),
        username: "admin".into(),
        password: Secret::new(password),
        project_name: "admin".into(),
        user_domain: DomainRef::Name("Default".into()),
        project_domain: DomainRef::Id("default".into()),
        region: Some("RegionOne".into()),
        interface: "public".into(),
        user_id: None,
    }
}

fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn lists_follow_next_links_and_reauthenticate_once_on_401() {
    let (base, counters) = start_stub().await;
    let cloud = Cloud::connect(auth(&base, "right")).await.unwrap();
    assert_eq!(cloud.admin().project_id(), "p-admin");
    assert_eq!(cloud.admin().user_id(), "u1");
    assert_eq!(
        cloud.admin().endpoints().network.as_deref(),
        Some(format!("{base}/networking/v2.0").as_str())
    );

    // Revoke the first token: the next call gets 401, authenticates again, and succeeds.
    counters.valid_from.store(2, Ordering::SeqCst);
    let networks: Vec<Network> = cloud
        .admin()
        .network()
        .list(NETWORKS, &query(&[("project_id", "p1")]))
        .await
        .unwrap();
    let names: Vec<&str> = networks.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, vec!["one", "two", "three"]);
    assert_eq!(networks[1].tags, vec!["t".to_string()]);
    assert_eq!(counters.tokens_issued.load(Ordering::SeqCst), 2);

    // Neither the token nor the password shows in debug output.
    let shown = format!("{cloud:?} {:?}", cloud.admin());
    assert!(!shown.contains("tok-"), "{shown}");
    assert!(!shown.contains("right"), "{shown}");
}

#[tokio::test]
async fn reads_are_retried_after_the_delay_the_service_asks() {
    let (base, counters) = start_stub().await;
    let cloud = Cloud::connect(auth(&base, "right")).await.unwrap();
    let started = Instant::now();
    let flavors = cloud.admin().compute().list_flavors().await.unwrap();
    assert_eq!(flavors.len(), 1);
    assert_eq!(flavors[0].name, "m1.tiny");
    assert_eq!(counters.flavor_calls.load(Ordering::SeqCst), 2);
    assert_eq!(counters.microversion_ok.load(Ordering::SeqCst), 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was not honoured ({:?})",
        started.elapsed()
    );
}

#[tokio::test]
async fn creates_are_never_blindly_retried_and_errors_are_one_line() {
    let (base, counters) = start_stub().await;
    let cloud = Cloud::connect(auth(&base, "right")).await.unwrap();
    let error = cloud
        .admin()
        .network()
        .create::<Network>(NETWORKS, json!({"name": "x"}))
        .await
        .err()
        .unwrap();
    assert_eq!(counters.network_posts.load(Ordering::SeqCst), 1);
    assert!(error.is_unknown_outcome());
    assert_eq!(
        error.to_string(),
        format!(
            "network: POST {base}/networking/v2.0/networks → 503 Service Unavailable (request req-lost-1)"
        )
    );
}

#[tokio::test]
async fn bad_credentials_fail_with_keystones_message_and_no_secret() {
    let (base, _) = start_stub().await;
    let error = Cloud::connect(auth(&base, "wrong-password-value"))
        .await
        .err()
        .unwrap();
    let text = error.to_string();
    assert_eq!(
        text,
        format!(
            "identity: POST {base}/identity/v3/auth/tokens → 401 Unauthorized: The request you \
             have made requires authentication. (user `admin` in domain `Default`, project \
             `admin` in domain id `default`: check the credentials)"
        )
    );
    assert!(!format!("{error:?}").contains("wrong-password-value"));
}

#[tokio::test]
async fn unreachable_clouds_say_so() {
    // A port nobody listens on: bind, read the port, close.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let error = Cloud::connect(auth(&base, "right")).await.err().unwrap();
    assert!(error.is_retryable());
    assert!(
        !error.is_unknown_outcome(),
        "a refused connection sent nothing"
    );
    assert!(
        error.to_string().starts_with(&format!(
            "identity: POST {base}/identity/v3/auth/tokens → unreachable: "
        )),
        "{error}"
    );
}

#[tokio::test]
async fn a_create_refused_with_429_is_sent_again() {
    let (base, counters) = start_stub().await;
    let cloud = Cloud::connect(auth(&base, "right")).await.unwrap();
    let router: stackform::openstack::network::Router = cloud
        .admin()
        .network()
        .create(
            stackform::openstack::network::ROUTERS,
            json!({"name": "edge"}),
        )
        .await
        .unwrap();
    assert_eq!(router.id, "r1");
    assert_eq!(counters.router_posts.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn tokens_about_to_expire_are_renewed_before_use() {
    let (base, counters) = start_stub().await;
    counters.short_tokens.store(true, Ordering::SeqCst);
    let cloud = Cloud::connect(auth(&base, "right")).await.unwrap();
    assert_eq!(counters.tokens_issued.load(Ordering::SeqCst), 1);
    let networks: Vec<Network> = cloud.admin().network().list(NETWORKS, &[]).await.unwrap();
    assert_eq!(networks.len(), 3);
    // Two pages, two calls: each started with a fresh token.
    assert_eq!(counters.tokens_issued.load(Ordering::SeqCst), 3);
}
