//! Keystone v3: projects (with tags), users, roles and role grants.

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ServiceType, Session};

const IDENTITY: ServiceType = ServiceType::Identity;

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Project {
    pub id: String,
    pub name: String,
    /// Keystone returns null for projects created without one.
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub domain_id: Option<String>,
    pub tags: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Role {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct User {
    pub id: String,
    pub name: String,
    pub domain_id: Option<String>,
    pub default_project_id: Option<String>,
}

/// A reference in a role assignment: its id, and its name when asked with `include_names`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct NamedRef {
    pub id: String,
    pub name: Option<String>,
}

/// One row of `GET /v3/role_assignments`. A group's assignment has no `user`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct RoleAssignment {
    pub user: Option<NamedRef>,
    pub role: NamedRef,
}

/// Keystone calls of one session.
#[derive(Clone, Copy)]
pub struct Identity<'a>(pub &'a Session);

impl Session {
    pub fn identity(&self) -> Identity<'_> {
        Identity(self)
    }
}

impl Identity<'_> {
    pub async fn list_projects(self, query: &[(String, String)]) -> Result<Vec<Project>, ApiError> {
        self.0.list(IDENTITY, "/projects", "projects", query).await
    }

    pub async fn get_project(self, id: &str) -> Result<Project, ApiError> {
        self.0
            .get(IDENTITY, &format!("/projects/{id}"), "project")
            .await
    }

    /// `project` is the inner object: name, description, enabled, domain_id, tags.
    pub async fn create_project(self, project: Value) -> Result<Project, ApiError> {
        self.0
            .send_json(
                IDENTITY,
                Method::POST,
                "/projects",
                &json!({ "project": project }),
                Some("project"),
            )
            .await
    }

    /// Keystone updates projects with PATCH and only the given fields.
    pub async fn update_project(self, id: &str, changes: Value) -> Result<Project, ApiError> {
        self.0
            .send_json(
                IDENTITY,
                Method::PATCH,
                &format!("/projects/{id}"),
                &json!({ "project": changes }),
                Some("project"),
            )
            .await
    }

    pub async fn delete_project(self, id: &str) -> Result<(), ApiError> {
        self.0
            .send_no_content(IDENTITY, Method::DELETE, &format!("/projects/{id}"), None)
            .await
    }

    pub async fn set_project_tags(self, id: &str, tags: &[String]) -> Result<(), ApiError> {
        self.0
            .send_no_content(
                IDENTITY,
                Method::PUT,
                &format!("/projects/{id}/tags"),
                Some(&json!({ "tags": tags })),
            )
            .await
    }

    /// The role named `name`, if it exists.
    pub async fn find_role(self, name: &str) -> Result<Option<Role>, ApiError> {
        let roles: Vec<Role> = self
            .0
            .list(IDENTITY, "/roles", "roles", &[("name".into(), name.into())])
            .await?;
        Ok(roles.into_iter().find(|r| r.name == name))
    }

    /// `PUT /projects/{p}/users/{u}/roles/{r}`: idempotent, 204 with no body.
    pub async fn grant_project_role(
        self,
        project: &str,
        user: &str,
        role: &str,
    ) -> Result<(), ApiError> {
        self.0
            .send_no_content(
                IDENTITY,
                Method::PUT,
                &format!("/projects/{project}/users/{user}/roles/{role}"),
                None,
            )
            .await
    }

    /// `user` is the inner object: name, password, domain_id, default_project_id, ...
    pub async fn create_user(self, user: Value) -> Result<User, ApiError> {
        self.0
            .send_json(
                IDENTITY,
                Method::POST,
                "/users",
                &json!({ "user": user }),
                Some("user"),
            )
            .await
    }

    /// `DELETE /projects/{p}/users/{u}/roles/{r}`: 204, or 404 when the grant is absent.
    pub async fn revoke_project_role(
        self,
        project: &str,
        user: &str,
        role: &str,
    ) -> Result<(), ApiError> {
        self.0
            .send_no_content(
                IDENTITY,
                Method::DELETE,
                &format!("/projects/{project}/users/{user}/roles/{role}"),
                None,
            )
            .await
    }

    /// `PATCH /users/{id}`: `user` is the inner object of the fields to change (password, ...).
    pub async fn update_user(self, id: &str, user: Value) -> Result<User, ApiError> {
        self.0
            .send_json(
                IDENTITY,
                Method::PATCH,
                &format!("/users/{id}"),
                &json!({ "user": user }),
                Some("user"),
            )
            .await
    }

    pub async fn delete_user(self, id: &str) -> Result<(), ApiError> {
        self.0
            .send_no_content(IDENTITY, Method::DELETE, &format!("/users/{id}"), None)
            .await
    }

    /// Users named `name` (in any domain the caller sees).
    pub async fn find_users(self, name: &str) -> Result<Vec<User>, ApiError> {
        self.0
            .list(IDENTITY, "/users", "users", &[("name".into(), name.into())])
            .await
    }

    /// Every role of the cloud.
    pub async fn list_roles(self) -> Result<Vec<Role>, ApiError> {
        self.0.list(IDENTITY, "/roles", "roles", &[]).await
    }

    /// The users matching `query` (`name`, `domain_id`...).
    pub async fn list_users(self, query: &[(String, String)]) -> Result<Vec<User>, ApiError> {
        self.0.list(IDENTITY, "/users", "users", query).await
    }

    /// The direct role assignments on a project, with the names of users and roles.
    pub async fn project_assignments(self, project: &str) -> Result<Vec<RoleAssignment>, ApiError> {
        let query = [
            ("scope.project.id".to_string(), project.to_string()),
            ("include_names".to_string(), "true".to_string()),
        ];
        self.0
            .list(IDENTITY, "/role_assignments", "role_assignments", &query)
            .await
    }
}
