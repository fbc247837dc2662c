//! One authenticated session: a project-scoped token, its catalog, and the request loop
//! (token refresh, one re-authentication on 401, bounded retries, error decoding, paging).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use bytes::Bytes;
use chrono::Utc;
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::ServiceType;
use super::auth::{self, AuthConfig, Endpoints, Scope, Secret, TokenInfo};
use super::error::{self, ApiError};
use super::learned::Learned;
use super::limit::CallLimit;
use super::page::{Page, next_query_of_href};
use super::shared_poll::SharedPolls;

/// Nova microversion sent on every compute call. 2.79 gives server tags at create (2.52),
/// the embedded flavor with `original_name` (2.47), and `networks: [{port}]`; it is old enough
/// (Train, 2019) for any cloud still in service.
pub const COMPUTE_MICROVERSION: &str = "2.79";

/// A token is renewed when it has less than this left, so no call starts with a token that
/// may expire in flight.
const RENEW_BEFORE: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// Bounded exponential backoff with jitter for idempotent calls: 4 retries from 0.3 s,
/// doubling, each at most 5 s (about 5 to 9 s in all), enough to ride out a service restart.
/// Creates whose outcome was unknown retry on it too, once they looked for what they made.
pub fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(300))
        .with_max_delay(Duration::from_secs(5))
        .with_max_times(4)
        .with_jitter()
}

/// The planned delay, or the service's Retry-After when it asked for longer. None (the
/// budget is spent) stays None: a Retry-After never extends the budget.
pub fn honour_retry_after(error: &ApiError, planned: Option<Duration>) -> Option<Duration> {
    match (error.retry_after(), planned) {
        (Some(asked), Some(planned)) => Some(asked.max(planned)),
        (_, planned) => planned,
    }
}

/// A project-scoped token with its catalog. Cheap to clone; clones share the token.
#[derive(Clone)]
pub struct Session {
    inner: Arc<SessionInner>,
}

struct SessionInner {
    http: reqwest::Client,
    auth: Arc<AuthConfig>,
    /// Shared by the cloud's sessions: bounds the calls in flight across all of them.
    calls: Arc<CallLimit>,
    /// Shared by the cloud's sessions: what the run learned of the cloud's behaviour.
    learned: Arc<Learned>,
    /// Lists shared by the polls of waiting objects ([`SharedPolls`]).
    polls: SharedPolls,
    scope: Scope,
    token: RwLock<(Secret, TokenInfo)>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("scope", &self.inner.scope)
            .field("project_id", &self.project_id())
            .finish_non_exhaustive()
    }
}

impl Session {
    pub(super) async fn authenticate(
        http: reqwest::Client,
        auth: Arc<AuthConfig>,
        calls: Arc<CallLimit>,
        learned: Arc<Learned>,
        scope: Scope,
    ) -> Result<Session, ApiError> {
        let body = auth::token_request(&auth, &scope);
        let token = issue_token(&http, &calls, &auth, &scope, &body).await?;
        Ok(Session::with_token(
            http, auth, calls, learned, scope, token,
        ))
    }

    /// A session of the project `project_id`, its first token obtained by rescoping this
    /// session's token (no password check); by password when the cloud refuses that.
    /// Renewals use the password.
    pub(super) async fn rescoped(&self, project_id: &str) -> Result<Session, ApiError> {
        let inner = &self.inner;
        let scope = Scope::ProjectId(project_id.to_string());
        let (token, _) = self.current_token().await?;
        let body = auth::rescope_request(&token, project_id);
        let token = match issue_token(&inner.http, &inner.calls, &inner.auth, &scope, &body).await {
            Ok(token) => token,
            Err(error) => {
                tracing::debug!(
                    "rescoping the token to project {project_id} failed ({error}): by password"
                );
                let body = auth::token_request(&inner.auth, &scope);
                issue_token(&inner.http, &inner.calls, &inner.auth, &scope, &body).await?
            }
        };
        Ok(Session::with_token(
            inner.http.clone(),
            inner.auth.clone(),
            inner.calls.clone(),
            inner.learned.clone(),
            scope,
            token,
        ))
    }

    /// A session of `user_id` (password auth) scoped to `project_id`, on this session's HTTP
    /// client, catalog interface and call limit: a tenant's own user acting in its tenant.
    pub(super) async fn as_user(
        &self,
        user_id: &str,
        password: Secret,
        project_id: &str,
    ) -> Result<Session, ApiError> {
        let inner = &self.inner;
        let auth = Arc::new(AuthConfig {
            user_id: Some(user_id.to_string()),
            password,
            ..(*inner.auth).clone()
        });
        Session::authenticate(
            inner.http.clone(),
            auth,
            inner.calls.clone(),
            inner.learned.clone(),
            Scope::ProjectId(project_id.to_string()),
        )
        .await
    }

    fn with_token(
        http: reqwest::Client,
        auth: Arc<AuthConfig>,
        calls: Arc<CallLimit>,
        learned: Arc<Learned>,
        scope: Scope,
        token: (Secret, TokenInfo),
    ) -> Session {
        Session {
            inner: Arc::new(SessionInner {
                http,
                auth,
                calls,
                learned,
                polls: SharedPolls::default(),
                scope,
                token: RwLock::new(token),
            }),
        }
    }

    fn info(&self) -> TokenInfo {
        match self.inner.token.read() {
            Ok(guard) => guard.1.clone(),
            Err(poisoned) => poisoned.into_inner().1.clone(),
        }
    }

    /// What the run learned of the cloud's behaviour, shared by all its sessions.
    pub fn learned(&self) -> &Learned {
        &self.inner.learned
    }

    pub(super) fn polls(&self) -> &SharedPolls {
        &self.inner.polls
    }

    pub fn project_id(&self) -> String {
        self.info().project_id
    }

    /// How the session's token was obtained (`password`, or `token` when rescoped).
    pub fn auth_methods(&self) -> Vec<String> {
        self.info().methods
    }

    pub fn user_id(&self) -> String {
        self.info().user_id
    }

    pub fn project_domain_id(&self) -> Option<String> {
        self.info().project_domain_id
    }

    pub fn endpoints(&self) -> Endpoints {
        self.info().endpoints
    }

    /// The token to send, renewed first when it is about to expire.
    async fn current_token(&self) -> Result<(Secret, Endpoints), ApiError> {
        let (token, info) = match self.inner.token.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let expiring = info
            .expires_at
            .is_some_and(|at| at - Utc::now() < RENEW_BEFORE);
        if expiring {
            return self.renew().await;
        }
        Ok((token, info.endpoints))
    }

    async fn renew(&self) -> Result<(Secret, Endpoints), ApiError> {
        let body = auth::token_request(&self.inner.auth, &self.inner.scope);
        let fresh = issue_token(
            &self.inner.http,
            &self.inner.calls,
            &self.inner.auth,
            &self.inner.scope,
            &body,
        )
        .await?;
        let endpoints = fresh.1.endpoints.clone();
        let token = fresh.0.clone();
        match self.inner.token.write() {
            Ok(mut guard) => *guard = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok((token, endpoints))
    }

    fn url(
        &self,
        endpoints: &Endpoints,
        service: ServiceType,
        path: &str,
    ) -> Result<Url, ApiError> {
        let base = match service {
            // Keystone is reached where the configuration says; catalogs often list an
            // internal or unversioned identity URL.
            ServiceType::Identity => self.inner.auth.identity_url(),
            other => endpoints
                .get(other)
                .ok_or_else(|| {
                    ApiError::Config(format!(
                        "the service catalog has no `{other}` endpoint for interface `{}`{}",
                        self.inner.auth.interface,
                        self.inner
                            .auth
                            .region
                            .as_deref()
                            .map(|r| format!(" in region `{r}`"))
                            .unwrap_or_default()
                    ))
                })?
                .to_string(),
        };
        Url::parse(&format!("{base}{path}"))
            .map_err(|e| ApiError::Config(format!("bad {service} URL `{base}{path}`: {e}")))
    }

    /// One call, JSON in and out. GET/PUT/DELETE/PATCH are retried on transient failures.
    /// A POST is retried only when it surely did nothing (connection refused, 429); when its
    /// outcome is unknown the error goes up, and the resource layer looks for what it made.
    pub async fn call(
        &self,
        service: ServiceType,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Option<Value>, ApiError> {
        let bytes = self
            .call_for_bytes(service, method.clone(), path, query, body)
            .await?;
        bytes
            .map(|body| parse_json(service, &method, path, &body))
            .transpose()
    }

    /// [`Session::call`], with the answer's bytes left unparsed (None for an empty body), so
    /// that big answers are decoded once, straight into their types.
    async fn call_for_bytes(
        &self,
        service: ServiceType,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Option<Bytes>, ApiError> {
        let attempt = || self.call_once(service, method.clone(), path, query, body);
        // PATCH is included: our PATCH bodies set absolute values, so repeating one is harmless.
        let idempotent = matches!(
            method,
            Method::GET | Method::PUT | Method::DELETE | Method::PATCH | Method::HEAD
        );
        let may_retry = |error: &ApiError| may_retry(error, idempotent);
        attempt
            .retry(backoff())
            .when(may_retry)
            .adjust(honour_retry_after)
            .notify(|error, delay| {
                tracing::debug!("retrying in {delay:?} after: {error}");
            })
            .await
    }

    async fn call_once(
        &self,
        service: ServiceType,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Option<Bytes>, ApiError> {
        let (token, endpoints) = self.current_token().await?;
        match self
            .send(&token, &endpoints, service, &method, path, query, body)
            .await
        {
            Err(error) if error.is_unauthorized() => {
                // The token was revoked or expired early: authenticate again, once.
                let (token, endpoints) = self.renew().await?;
                self.send(&token, &endpoints, service, &method, path, query, body)
                    .await
            }
            other => other,
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn send(
        &self,
        token: &Secret,
        endpoints: &Endpoints,
        service: ServiceType,
        method: &Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Option<Bytes>, ApiError> {
        let mut url = self.url(endpoints, service, path)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut request = self
            .inner
            .http
            .request(method.clone(), url.clone())
            .header(ACCEPT, "application/json")
            .header("X-Auth-Token", token.expose());
        if service == ServiceType::Compute {
            request = request
                .header(
                    "OpenStack-API-Version",
                    format!("compute {COMPUTE_MICROVERSION}"),
                )
                .header("X-OpenStack-Nova-API-Version", COMPUTE_MICROVERSION);
        }
        if service == ServiceType::BlockStorage {
            request = request.header(
                "OpenStack-API-Version",
                format!("volume {}", super::block_storage::VOLUME_MICROVERSION),
            );
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        // Held until the whole answer is read: that is when the service is done with it.
        let _permit = self.inner.calls.acquire().await;
        let started = std::time::Instant::now();
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(service, method, &url, e))?;
        let answer = read_response(service, method, &url, response).await;
        // Where an apply's time goes on a real cloud (STACKFORM_LOG=stackform=debug).
        tracing::debug!(
            target: "stackform::calls",
            "{method} {} {} in {} ms",
            url.path(),
            if answer.is_ok() { "ok" } else { "failed" },
            started.elapsed().as_millis()
        );
        answer
    }

    /// GET a collection, following the service's next links until the last page.
    ///
    /// Nova and Neutron name the link `<collection>_links` (rel `next`), Glance gives `next`.
    /// Only the link's query (marker, limit, filters) is used, applied to our own endpoint:
    /// behind TLS-terminating proxies services often build links with the wrong scheme or host.
    pub async fn list<T: DeserializeOwned>(
        &self,
        service: ServiceType,
        path: &str,
        collection: &str,
        query: &[(String, String)],
    ) -> Result<Vec<T>, ApiError> {
        let mut items = Vec::new();
        let mut query = query.to_vec();
        // A service that keeps answering with the same next link would loop forever.
        let mut seen = std::collections::HashSet::new();
        loop {
            let bytes = self
                .call_for_bytes(service, Method::GET, path, &query, None)
                .await?
                .unwrap_or_default();
            // Decoded straight into `T`: a big cloud's list is megabytes, and going through
            // `Value` first would build (then drop) a map for every object.
            let page =
                Page::<T>::decode(&bytes, collection).map_err(|detail| ApiError::Decode {
                    service: service.as_str(),
                    method: Method::GET,
                    url: path.to_string(),
                    detail,
                })?;
            items.extend(page.items);
            match page.next.as_deref().and_then(next_query_of_href) {
                Some(next) if seen.insert(next.clone()) => query = next,
                _ => break,
            }
        }
        Ok(items)
    }

    /// GET one object and decode the value under `key` (`network`, `server`...).
    pub async fn get<T: DeserializeOwned>(
        &self,
        service: ServiceType,
        path: &str,
        key: &str,
    ) -> Result<T, ApiError> {
        let value = self.call(service, Method::GET, path, &[], None).await?;
        decode(service, Method::GET, path, value, Some(key))
    }

    /// A call whose answer body is `{key: object}`.
    pub async fn send_json<T: DeserializeOwned>(
        &self,
        service: ServiceType,
        method: Method,
        path: &str,
        body: &Value,
        key: Option<&str>,
    ) -> Result<T, ApiError> {
        let value = self
            .call(service, method.clone(), path, &[], Some(body))
            .await?;
        decode(service, method, path, value, key)
    }

    /// Sends `body` as is, of `content_type` (an image's bytes, a JSON patch), within
    /// `timeout` for the whole exchange instead of the client's per-call one when given: an
    /// image upload takes as long as its size needs. Sent once, never retried: a stream
    /// cannot be replayed.
    pub async fn send_raw(
        &self,
        service: ServiceType,
        method: Method,
        path: &str,
        content_type: &str,
        body: reqwest::Body,
        timeout: Option<Duration>,
    ) -> Result<Option<Value>, ApiError> {
        let (token, endpoints) = self.current_token().await?;
        let url = self.url(&endpoints, service, path)?;
        let mut request = self
            .inner
            .http
            .request(method.clone(), url.clone())
            .header(ACCEPT, "application/json")
            .header("X-Auth-Token", token.expose())
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        let _permit = self.inner.calls.acquire().await;
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(service, &method, &url, e))?;
        read_response(service, &method, &url, response)
            .await?
            .map(|bytes| parse_json(service, &method, path, &bytes))
            .transpose()
    }

    /// A call whose answer body does not matter (204s, 202 actions).
    pub async fn send_no_content(
        &self,
        service: ServiceType,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(), ApiError> {
        self.call(service, method, path, &[], body)
            .await
            .map(|_| ())
    }
}

fn decode<T: DeserializeOwned>(
    service: ServiceType,
    method: Method,
    path: &str,
    value: Option<Value>,
    key: Option<&str>,
) -> Result<T, ApiError> {
    let error = |detail: String| ApiError::Decode {
        service: service.as_str(),
        method: method.clone(),
        url: path.to_string(),
        detail,
    };
    let mut value = value.ok_or_else(|| error("empty body".into()))?;
    if let Some(key) = key {
        value = value
            .get_mut(key)
            .map(Value::take)
            .ok_or_else(|| error(format!("no `{key}` in the answer")))?;
    }
    serde_json::from_value(value).map_err(|e| error(e.to_string()))
}

fn transport_error(
    service: ServiceType,
    method: &Method,
    url: &Url,
    error: reqwest::Error,
) -> ApiError {
    let shown = error::display_url(url);
    if error.is_timeout() {
        return ApiError::Timeout {
            service: service.as_str(),
            method: method.clone(),
            url: shown,
        };
    }
    if let Some(detail) = error::certificate_problem(&error) {
        return ApiError::Tls {
            service: service.as_str(),
            url: shown,
            detail,
        };
    }
    ApiError::Unreachable {
        service: service.as_str(),
        method: method.clone(),
        url: shown,
        connect: error.is_connect(),
        detail: error::chain(&error),
        source: error,
    }
}

async fn read_response(
    service: ServiceType,
    method: &Method,
    url: &Url,
    response: reqwest::Response,
) -> Result<Option<Bytes>, ApiError> {
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(|e| transport_error(service, method, url, e))?;
    if status.is_success() {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        return Ok(Some(body));
    }
    Err(ApiError::Status {
        service: service.as_str(),
        method: method.clone(),
        url: error::display_url(url).into(),
        status,
        message: error::service_message(&String::from_utf8_lossy(&body))
            .unwrap_or_default()
            .into(),
        request_id: request_id(&headers),
        retry_after: retry_after(status, &headers),
    })
}

/// A successful answer's JSON, parsed from its bytes.
fn parse_json(
    service: ServiceType,
    method: &Method,
    path: &str,
    body: &[u8],
) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::Decode {
        service: service.as_str(),
        method: method.clone(),
        url: path.to_string(),
        detail: e.to_string(),
    })
}

fn request_id(headers: &HeaderMap) -> Option<Box<str>> {
    [
        "x-openstack-request-id",
        "x-compute-request-id",
        "x-request-id",
    ]
    .iter()
    .find_map(|name| headers.get(*name))
    .and_then(|v| v.to_str().ok())
    .map(Box::from)
}

/// Whether a failed call is sent again. Besides the service being briefly unable, a 500 is
/// retried when repeating the request is harmless: real Keystone answers one to a project
/// delete while its database is busy with another writer (seen in CI), and the next attempt
/// succeeds. A POST's 500 is not: it may have made something.
fn may_retry(error: &ApiError, idempotent: bool) -> bool {
    let busy_server = idempotent && error.status() == Some(StatusCode::INTERNAL_SERVER_ERROR);
    busy_server || (error.is_retryable() && (idempotent || !error.is_unknown_outcome()))
}

fn retry_after(status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
    if !matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    ) {
        return None;
    }
    let seconds: u64 = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())?;
    // A service asking for minutes would stall an apply; cap what we honour.
    Some(Duration::from_secs(seconds.min(60)))
}

/// What a refused token was for. Real Keystone answers every refusal with the same
/// "The request you have made requires authentication.", whether the password is wrong or
/// the project is disabled or not the user's: say which request it was.
fn unauthorized_hint(auth: &AuthConfig, scope: &Scope) -> String {
    let domain = |d: &auth::DomainRef| match d {
        auth::DomainRef::Name(name) => format!("domain `{name}`"),
        auth::DomainRef::Id(id) => format!("domain id `{id}`"),
    };
    match scope {
        Scope::Configured => format!(
            "user `{}` in {}, project `{}` in {}: check the credentials",
            auth.username,
            domain(&auth.user_domain),
            auth.project_name,
            domain(&auth.project_domain)
        ),
        Scope::ProjectId(id) => format!(
            "a token for project {id}: Keystone refuses one for a disabled project or a user \
             with no role on it"
        ),
    }
}

/// `POST /v3/auth/tokens`: the token from X-Subject-Token, the rest from the body.
async fn issue_token(
    http: &reqwest::Client,
    calls: &CallLimit,
    auth: &AuthConfig,
    scope: &Scope,
    body: &Value,
) -> Result<(Secret, TokenInfo), ApiError> {
    let service = ServiceType::Identity;
    let url = Url::parse(&format!("{}/auth/tokens", auth.identity_url()))
        .map_err(|e| ApiError::Config(format!("bad OS_AUTH_URL `{}`: {e}", auth.auth_url)))?;
    let send = || async {
        let _permit = calls.acquire().await;
        let started = std::time::Instant::now();
        let _timing = log_token_time(started, scope);
        let response = http
            .post(url.clone())
            .header(ACCEPT, "application/json")
            .json(&body)
            .send()
            .await
            .map_err(|e| transport_error(service, &Method::POST, &url, e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .map_err(|e| transport_error(service, &Method::POST, &url, e))?;
        if !status.is_success() {
            let mut message = error::service_message(&text).unwrap_or_default();
            if status == StatusCode::UNAUTHORIZED {
                message = format!("{message} ({})", unauthorized_hint(auth, scope));
            }
            return Err(ApiError::Status {
                service: service.as_str(),
                method: Method::POST,
                url: error::display_url(&url).into(),
                status,
                message: message.into(),
                request_id: request_id(&headers),
                retry_after: retry_after(status, &headers),
            });
        }
        Ok((headers, text))
    };
    // Issuing a token creates nothing that matters, so it is retried like a read.
    let (headers, text) = send.retry(backoff()).when(ApiError::is_retryable).await?;
    let decode_error = |detail: String| ApiError::Decode {
        service: service.as_str(),
        method: Method::POST,
        url: error::display_url(&url),
        detail,
    };
    let token = headers
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| decode_error("no X-Subject-Token header".into()))?;
    let info =
        auth::parse_token(&text, &auth.interface, auth.region.as_deref()).map_err(decode_error)?;
    Ok((Secret::new(token), info))
}

/// Logs how long a token request took when dropped (each is a password check in Keystone
/// unless it rescopes a token): STACKFORM_LOG=stackform=debug.
fn log_token_time(started: std::time::Instant, scope: &Scope) -> impl Drop + '_ {
    struct Timing<'a>(std::time::Instant, &'a Scope);
    impl Drop for Timing<'_> {
        fn drop(&mut self) {
            tracing::debug!(
                target: "stackform::calls",
                "POST /v3/auth/tokens ({:?}) in {} ms",
                self.1,
                self.0.elapsed().as_millis()
            );
        }
    }
    Timing(started, scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_error_is_retried_only_where_repeating_is_harmless() {
        let error = |status| ApiError::Status {
            service: "identity",
            status,
            method: Method::DELETE,
            url: "http://cloud/v3/projects/p".into(),
            message: "An unexpected error prevented the server from fulfilling your request."
                .into(),
            request_id: None,
            retry_after: None,
        };
        assert!(may_retry(&error(StatusCode::INTERNAL_SERVER_ERROR), true));
        assert!(!may_retry(&error(StatusCode::INTERNAL_SERVER_ERROR), false));
        assert!(may_retry(&error(StatusCode::SERVICE_UNAVAILABLE), true));
        assert!(!may_retry(&error(StatusCode::SERVICE_UNAVAILABLE), false));
        assert!(may_retry(&error(StatusCode::TOO_MANY_REQUESTS), false));
        assert!(!may_retry(&error(StatusCode::CONFLICT), true));
    }

    #[test]
    fn retry_after_is_read_for_429_and_503_only() {
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, HeaderValue::from_static("4"));
        assert_eq!(
            retry_after(StatusCode::TOO_MANY_REQUESTS, &headers),
            Some(Duration::from_secs(4))
        );
        assert_eq!(retry_after(StatusCode::CONFLICT, &headers), None);
        headers.insert(
            reqwest::header::RETRY_AFTER,
            HeaderValue::from_static("3600"),
        );
        assert_eq!(
            retry_after(StatusCode::SERVICE_UNAVAILABLE, &headers),
            Some(Duration::from_secs(60))
        );
    }
}
