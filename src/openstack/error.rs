//! Typed API errors: which service, which call, what the service said, and its request id.
//!
//! Every OpenStack service shapes its error body differently; [`service_message`] reads all
//! four shapes so the operator sees the service's own words, on one line.

use std::fmt;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

/// An OpenStack call that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The service answered with an error status.
    #[error("{}", status_line(.service, .method, .url, *.status, .message, .request_id.as_deref()))]
    Status {
        service: &'static str,
        method: Method,
        /// Scheme, host and path only: the query is dropped so no filter value leaks.
        /// (Boxed strings keep the error small enough to pass around in `Result`s.)
        url: Box<str>,
        status: StatusCode,
        /// The service's own message; empty when the body had none.
        message: Box<str>,
        request_id: Option<Box<str>>,
        /// From a `Retry-After` header in seconds (429/503), honoured by the retry loop.
        retry_after: Option<Duration>,
    },
    /// No answer: the connection failed or broke before a full response arrived.
    #[error("{service}: {method} {url} → unreachable: {detail}")]
    Unreachable {
        service: &'static str,
        method: Method,
        url: String,
        /// True when the connection was never established, so the request was surely not
        /// processed (a POST may then be sent again safely).
        connect: bool,
        detail: String,
        #[source]
        source: reqwest::Error,
    },
    /// The TLS handshake failed on the server's certificate: final, since every retry meets
    /// the same certificate. What to do is part of the message.
    #[error(
        "{service}: {url} → TLS certificate not trusted ({detail}): give the endpoint a \
         certificate from a CA this machine trusts, or add its CA to the system trust store"
    )]
    Tls {
        service: &'static str,
        url: String,
        detail: String,
    },
    #[error("{service}: {method} {url} → timed out waiting for the answer")]
    Timeout {
        service: &'static str,
        method: Method,
        url: String,
    },
    /// The answer was a success but not the JSON we expect.
    #[error("{service}: {method} {url} → unexpected response body: {detail}")]
    Decode {
        service: &'static str,
        method: Method,
        url: String,
        detail: String,
    },
    /// Configuration or catalog problem found before any call (missing variable, no endpoint).
    #[error("{0}")]
    Config(String),
}

fn status_line(
    service: &str,
    method: &Method,
    url: &str,
    status: StatusCode,
    message: &str,
    request_id: Option<&str>,
) -> String {
    let mut line = format!("{service}: {method} {url} → {status}");
    if !message.is_empty() {
        line.push_str(": ");
        line.push_str(message);
    }
    if let Some(id) = request_id {
        line.push_str(&format!(" (request {id})"));
    }
    line
}

impl ApiError {
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }

    pub fn is_conflict(&self) -> bool {
        self.status() == Some(StatusCode::CONFLICT)
    }

    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(StatusCode::UNAUTHORIZED)
    }

    /// Worth trying again after a pause: the service was briefly unable, not wrong.
    pub fn is_retryable(&self) -> bool {
        match self {
            ApiError::Unreachable { .. } | ApiError::Timeout { .. } => true,
            ApiError::Status { status, .. } => matches!(
                *status,
                StatusCode::TOO_MANY_REQUESTS
                    | StatusCode::BAD_GATEWAY
                    | StatusCode::SERVICE_UNAVAILABLE
                    | StatusCode::GATEWAY_TIMEOUT
            ),
            ApiError::Decode { .. } | ApiError::Config(_) | ApiError::Tls { .. } => false,
        }
    }

    /// The request may or may not have been carried out: a create must look for what it may
    /// have made before trying again. A refused connection is not such a case (nothing was
    /// sent), nor is a 429 (the service rejected it before doing anything).
    pub fn is_unknown_outcome(&self) -> bool {
        match self {
            ApiError::Unreachable { connect, .. } => !connect,
            ApiError::Timeout { .. } => true,
            ApiError::Status { status, .. } => matches!(
                *status,
                StatusCode::BAD_GATEWAY
                    | StatusCode::SERVICE_UNAVAILABLE
                    | StatusCode::GATEWAY_TIMEOUT
            ),
            ApiError::Decode { .. } | ApiError::Config(_) | ApiError::Tls { .. } => false,
        }
    }

    /// The delay the service asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The service's request id (`x-openstack-request-id`), when it answered with one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            ApiError::Status { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// The service's message (empty for errors without an answer).
    pub fn message(&self) -> &str {
        match self {
            ApiError::Status { message, .. } => message,
            _ => "",
        }
    }
}

/// The service's own message from an error body, whichever service shaped it:
/// Neutron `{"NeutronError": {"message"}}`, Nova/Cinder `{"<faultName>": {"message"}}`,
/// Keystone `{"error": {"message"}}`, Glance/webob `{"message"}`. Falls back to a plain-text
/// body (first line), and returns None when there is nothing readable.
pub fn service_message(body: &str) -> Option<String> {
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return None;
    }
    let Ok(json) = serde_json::from_str::<Value>(trimmed) else {
        // HTML pages (a proxy's 502) say nothing useful beyond the status.
        if trimmed.starts_with('<') {
            return None;
        }
        return trimmed.lines().next().map(|l| clean(l.trim()));
    };
    let object = json.as_object()?;
    if let Some(Value::String(m)) = object.get("message") {
        return Some(clean(m));
    }
    // NeutronError, error, and every Nova fault name hold one object with a message.
    for value in object.values() {
        if let Some(Value::String(m)) = value.get("message") {
            return Some(clean(m));
        }
    }
    None
}

/// Glance's webob template appends `<br /><br />` and blank lines to its messages.
fn clean(message: &str) -> String {
    message
        .replace("<br />", " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `url` without its query string or credentials: errors are shown and logged.
pub fn display_url(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.to_string()
}

/// The cause chain of a transport error on one line (reqwest's own Display stops at the top).
/// The certificate problem behind a failed connection, if that is what failed it.
///
/// The rustls error sits inside an `io::Error`, whose `source()` skips the error it wraps, so
/// the chain is walked with `io::Error::get_ref` as well.
pub fn certificate_problem(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(rustls::Error::InvalidCertificate(problem)) = e.downcast_ref::<rustls::Error>()
        {
            return Some(certificate_words(problem));
        }
        // reqwest nests the handshake's io::Error in another one.
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

/// rustls' certificate errors in an operator's words.
fn certificate_words(problem: &rustls::CertificateError) -> String {
    use rustls::CertificateError as C;
    match problem {
        C::UnknownIssuer => "issued by an unknown CA, or self-signed".into(),
        C::Expired | C::ExpiredContext { .. } => "expired".into(),
        C::NotValidYet | C::NotValidYetContext { .. } => "not valid yet".into(),
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "issued for another host name".into()
        }
        C::Revoked => "revoked".into(),
        other => format!("{other:?}"),
    }
}

pub fn chain(error: &dyn std::error::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut next = error.source();
    while let Some(e) = next {
        let text = e.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

impl fmt::Display for crate::openstack::ServiceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/openstack/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn reads_the_neutron_error_shape() {
        assert_eq!(
            service_message(&fixture("network-NeutronError-OverQuota.json")).as_deref(),
            Some("Quota exceeded for resources: ['network'].")
        );
    }

    #[test]
    fn reads_the_nova_fault_shape() {
        assert_eq!(
            service_message(&fixture("compute-overLimit-test.json")).as_deref(),
            Some("sorry")
        );
    }

    #[test]
    fn reads_the_keystone_error_shape() {
        assert_eq!(
            service_message(&fixture("identity-404-project.json")).as_deref(),
            Some("Could not find project: a6944d763bf64ee6a275f1263fae0352.")
        );
    }

    #[test]
    fn reads_the_glance_webob_shape_without_its_html_breaks() {
        assert_eq!(
            service_message(&fixture("image-404-webob-json.json")).as_deref(),
            Some("No image found with ID b2173dd3-7ad6-4362-baa6-a68bce3565cb")
        );
    }

    #[test]
    fn plain_text_and_html_bodies() {
        assert_eq!(
            service_message("Bad Gateway\nmore").as_deref(),
            Some("Bad Gateway")
        );
        assert_eq!(service_message("<html><body>502</body></html>"), None);
        assert_eq!(service_message("  "), None);
    }

    #[test]
    fn status_error_displays_on_one_line_with_request_id() {
        let error = ApiError::Status {
            service: "network",
            method: Method::POST,
            url: "http://cloud:9696/v2.0/networks".into(),
            status: StatusCode::CONFLICT,
            message: "Quota exceeded for resources: ['network'].".into(),
            request_id: Some("req-1234".into()),
            retry_after: None,
        };
        assert_eq!(
            error.to_string(),
            "network: POST http://cloud:9696/v2.0/networks → 409 Conflict: Quota exceeded for \
             resources: ['network']. (request req-1234)"
        );
        assert!(error.is_conflict());
        assert!(!error.is_retryable());
        assert!(!error.is_unknown_outcome());
    }

    #[test]
    fn classifies_statuses() {
        let with = |status: StatusCode| ApiError::Status {
            service: "compute",
            method: Method::GET,
            url: "http://x/servers".into(),
            status,
            message: "".into(),
            request_id: None,
            retry_after: None,
        };
        assert!(with(StatusCode::NOT_FOUND).is_not_found());
        assert!(with(StatusCode::SERVICE_UNAVAILABLE).is_retryable());
        assert!(with(StatusCode::SERVICE_UNAVAILABLE).is_unknown_outcome());
        assert!(with(StatusCode::TOO_MANY_REQUESTS).is_retryable());
        assert!(!with(StatusCode::TOO_MANY_REQUESTS).is_unknown_outcome());
        assert!(!with(StatusCode::BAD_REQUEST).is_retryable());
        assert_eq!(
            with(StatusCode::NOT_FOUND).to_string(),
            "compute: GET http://x/servers → 404 Not Found"
        );
    }

    #[test]
    fn display_url_drops_query_and_credentials() {
        let url = reqwest::Url::parse("http://u:p@cloud:9696/v2.0/ports?name=x").unwrap();
        assert_eq!(display_url(&url), "http://cloud:9696/v2.0/ports");
    }
}
