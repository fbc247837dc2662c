//! What Neutron's and Cinder's collections share: objects travel wrapped in their singular
//! name (`{"volume": {...}}`), lists under the plural, each object at `/{path}/{id}`.
//! [`Wrapped`] is one such collection of one service; the service clients (`Neutron`,
//! `BlockStorage`) answer their generic calls through it.

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{ApiError, ServiceType, Session};

#[derive(Clone, Copy)]
pub struct Wrapped<'a> {
    pub session: &'a Session,
    pub service: ServiceType,
    /// Where the objects live (`volumes`).
    pub path: &'a str,
    /// Where their full list is read: the path itself, or Cinder's `volumes/detail`.
    pub list_path: &'a str,
    pub plural: &'a str,
    pub singular: &'a str,
}

impl Wrapped<'_> {
    /// Every page of the list.
    pub async fn list<T: DeserializeOwned>(
        self,
        query: &[(String, String)],
    ) -> Result<Vec<T>, ApiError> {
        let path = format!("/{}", self.list_path);
        self.session
            .list(self.service, &path, self.plural, query)
            .await
    }

    pub async fn get<T: DeserializeOwned>(self, id: &str) -> Result<T, ApiError> {
        let path = format!("/{}/{id}", self.path);
        self.session.get(self.service, &path, self.singular).await
    }

    /// POSTs `{singular: body}`. Never retried.
    pub async fn create<T: DeserializeOwned>(self, body: Value) -> Result<T, ApiError> {
        let path = format!("/{}", self.path);
        self.send(Method::POST, &path, body).await
    }

    /// PUTs `{singular: changes}`.
    pub async fn update<T: DeserializeOwned>(
        self,
        id: &str,
        changes: Value,
    ) -> Result<T, ApiError> {
        let path = format!("/{}/{id}", self.path);
        self.send(Method::PUT, &path, changes).await
    }

    pub async fn delete(self, id: &str) -> Result<(), ApiError> {
        let path = format!("/{}/{id}", self.path);
        self.session
            .send_no_content(self.service, Method::DELETE, &path, None)
            .await
    }

    async fn send<T: DeserializeOwned>(
        self,
        method: Method,
        path: &str,
        inner: Value,
    ) -> Result<T, ApiError> {
        let body = json!({ self.singular: inner });
        self.session
            .send_json(self.service, method, path, &body, Some(self.singular))
            .await
    }
}
