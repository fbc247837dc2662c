//! Snapshots and backups (Cinder): copies of a `[volume.NAME]` of the spec, made in the
//! volume's project, owned through their metadata like volumes. A snapshot lives beside its
//! volume (Cinder refuses to delete a volume that has snapshots, so the plan deletes the
//! snapshots first: they name the volume); a backup outlives it, as in Cinder.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::common::{self, Names, create_or_adopt, gone_ok, name_of};
use super::schema::{
    Api, Attr, AttrType, Implied, KindSchema, ListScope, Ownership, Ref, Service, View,
};
use super::volume::{ownership_metadata, ownership_of};
use super::{Context, Ids, KindOps, Listed, ObservedResource, Result, Scope};
use crate::addr::{Address, Kind};
use crate::openstack::block_storage::{self as cinder, BACKUPS, Collection, SNAPSHOTS, VOLUMES};
use crate::openstack::wait::Poll;
use crate::openstack::{ApiError, Polled, Session};
use crate::spec::{Attrs, DesiredResource};

pub struct Snapshot;
pub struct Backup;

/// The observed attribute of an errored backup holding Cinder's `fail_reason` (not part of
/// the spec: shown in the plan's reason for replacing it).
const FAIL_REASON: &str = "fail_reason";

/// Metadata key recording `force` (Cinder does not show it back).
const FORCE_METADATA: &str = "stackform_force";

const fn volume_ref() -> AttrType {
    AttrType::Reference(Ref::to(Kind::Volume).link("copy"))
}

/// A backup needs its volume only to be made: it outlives it.
const fn backed_up_volume_ref() -> AttrType {
    AttrType::Reference(Ref::to(Kind::Volume).link("copy").only_at_create())
}

const SNAPSHOT_SCHEMA: KindSchema = KindSchema {
    replace_failed: true,
    settling: &["creating", "deleting"],
    ..KindSchema::new(
        "snapshot",
        "a Cinder snapshot of a volume of the spec, in the volume's project",
        Api {
            service: Service::BlockStorage,
            collection: "/v3/{project_id}/snapshots",
            scope: ListScope::Tenant,
            ownership: Ownership::Metadata,
        },
        &[
            Attr::new("volume", volume_ref()).forces_replacement(),
            Attr::new(
                "name",
                AttrType::Name {
                    max: super::schema::NAME_MAX,
                },
            ),
            Attr::new("description", AttrType::Text { default: "" }),
            // Snapshot an in-use volume (Cinder refuses without it).
            Attr::new("force", AttrType::Bool { default: false }).own_calls(),
        ],
    )
    .parent("volume")
    .statuses(&["available"], &["error"])
};

const BACKUP_SCHEMA: KindSchema = KindSchema {
    replace_failed: true,
    implicit_dependencies: Some(full_backups_first),
    failure_detail: Some(FAIL_REASON),
    settling: &["creating", "restoring", "deleting"],
    ..KindSchema::new(
        "backup",
        "a Cinder backup of a volume of the spec, in the volume's project",
        Api {
            service: Service::BlockStorage,
            collection: "/v3/{project_id}/backups",
            scope: ListScope::Tenant,
            ownership: Ownership::Metadata,
        },
        &[
            Attr::new("volume", backed_up_volume_ref()).forces_replacement(),
            Attr::new(
                "name",
                AttrType::Name {
                    max: super::schema::NAME_MAX,
                },
            ),
            Attr::new("description", AttrType::Text { default: "" }),
            // Only what changed since the volume's last backup.
            Attr::new("incremental", AttrType::Bool { default: false })
                .forces_replacement()
                .own_calls(),
            // Back up an in-use volume.
            Attr::new("force", AttrType::Bool { default: false }).own_calls(),
        ],
    )
    .parent("volume")
    .statuses(&["available"], &["error"])
};

/// An incremental backup builds on the volume's last full one, and Cinder refuses it when
/// there is none (400 "Invalid backup: No backups available to do an incremental backup."):
/// it is made after the full backups of its volume.
fn full_backups_first(
    backup: &Address,
    view: &View<'_>,
    nodes: &BTreeSet<Address>,
) -> Vec<Implied> {
    let is_incremental = |attrs: &Attrs| attrs.get("incremental") == Some(&json!(true));
    let Some(attrs) = view.attrs(backup).filter(|a| is_incremental(a)) else {
        return Vec::new();
    };
    let Some(volume) = attrs.get("volume").and_then(Value::as_str) else {
        return Vec::new();
    };
    let volume = Address::new(Kind::Volume, volume);
    view.referrers(&volume, Kind::Backup, "volume")
        .into_iter()
        .filter(|full| *full != backup && nodes.contains(*full))
        .filter(|full| view.attrs(full).is_some_and(|a| !is_incremental(a)))
        .map(|full| Implied {
            dependency: full.clone(),
            attr: "incremental",
            via: volume.clone(),
            relation: "a full backup of",
        })
        .collect()
}

/// What snapshots and backups share, so one implementation serves both.
trait Copy {
    const COLLECTION: Collection;
    fn id(&self) -> &str;
    fn status(&self) -> &str;
    fn project(&self) -> &str;
    fn metadata(&self) -> &BTreeMap<String, String>;
    fn observe(&self, names: &Names) -> Attrs;
    /// Why the cloud holds it in `error`, when it says.
    fn fail_reason(&self) -> Option<&str> {
        None
    }
}

fn common_attrs(
    names: &Names,
    volume_id: &str,
    name: Option<&str>,
    description: Option<&str>,
    metadata: &BTreeMap<String, String>,
) -> Attrs {
    let mut attrs = Attrs::new();
    attrs.insert("volume".into(), json!(names.name(Kind::Volume, volume_id)));
    attrs.insert("name".into(), json!(name.unwrap_or_default()));
    attrs.insert("description".into(), json!(description.unwrap_or_default()));
    attrs.insert(
        "force".into(),
        json!(metadata.get(FORCE_METADATA).is_some_and(|f| f == "true")),
    );
    attrs
}

impl Copy for cinder::Snapshot {
    const COLLECTION: Collection = SNAPSHOTS;
    fn id(&self) -> &str {
        &self.id
    }
    fn status(&self) -> &str {
        &self.status
    }
    fn project(&self) -> &str {
        self.project_id.as_deref().unwrap_or_default()
    }
    fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }
    fn observe(&self, names: &Names) -> Attrs {
        common_attrs(
            names,
            &self.volume_id,
            self.name.as_deref(),
            self.description.as_deref(),
            &self.metadata,
        )
    }
}

impl Copy for cinder::Backup {
    const COLLECTION: Collection = BACKUPS;
    fn id(&self) -> &str {
        &self.id
    }
    fn status(&self) -> &str {
        &self.status
    }
    fn project(&self) -> &str {
        self.project_id.as_deref().unwrap_or_default()
    }
    fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }
    fn observe(&self, names: &Names) -> Attrs {
        let mut attrs = common_attrs(
            names,
            &self.volume_id,
            self.name.as_deref(),
            self.description.as_deref(),
            &self.metadata,
        );
        attrs.insert("incremental".into(), json!(self.is_incremental));
        // A backup outlives its volume: one whose volume is gone (deleted, or replaced by a
        // new one) names none, and the plan leaves it as it is.
        if names.get(Kind::Volume, &self.volume_id).is_none() {
            attrs.insert("volume".into(), Value::Null);
        }
        if let Some(reason) = self.fail_reason() {
            attrs.insert(FAIL_REASON.into(), json!(reason));
        }
        attrs
    }
    fn fail_reason(&self) -> Option<&str> {
        self.fail_reason.as_deref().filter(|r| !r.is_empty())
    }
}

/// One list across the spec's projects (admin, `all_tenants=1`), of `kind`.
async fn list<T>(cx: &Context, scope: Scope<'_>, kind: Kind) -> Result<Vec<Listed>>
where
    T: Copy + serde::de::DeserializeOwned + Send + 'static,
{
    let Scope::Projects(projects) = scope else {
        return Ok(Vec::new());
    };
    if projects.ids().is_empty() {
        return Ok(Vec::new());
    }
    let mut query = vec![("all_tenants".to_string(), "1".to_string())];
    if let [only] = projects.ids() {
        query.push(("project_id".to_string(), only.clone()));
    }
    let items: Vec<T> = match cx
        .cloud
        .admin()
        .block_storage()
        .list(T::COLLECTION, &query)
        .await
    {
        // A cloud without Cinder holds none, but one the state knows of must not look gone
        // (and be made again) because the catalog lost its endpoint.
        Err(ApiError::Config(message)) if projects.known(kind).is_empty() => {
            tracing::debug!("no {} listed: {message}", kind.schema().name);
            return Ok(Vec::new());
        }
        other => other?,
    };
    let lineage = common::lineage_tag(cx);
    Ok(items
        .into_iter()
        .filter(|item| projects.contains(item.project()))
        .map(|item| {
            let tags = ownership_of(item.metadata());
            let claim = common::tagged_address(&lineage, &tags);
            let foreign = common::foreign_claim(&lineage, &tags);
            let (id, status) = (item.id().to_string(), item.status().to_string());
            Listed::new(id, claim, Some(&status), move |_, o| item.observe(&o.names))
                .foreign(foreign)
        })
        .collect())
}

/// The session of the project the copy's volume lives in: the copy is made there.
async fn volume_session(cx: &Context, volume_id: &str) -> Result<Session> {
    let volume: cinder::Volume = cx
        .cloud
        .admin()
        .block_storage()
        .get(VOLUMES, volume_id)
        .await?;
    let project = volume.project_id.unwrap_or_default();
    super::common::project_session(cx, &project).await
}

/// Creates the copy (adopting one whose reply was lost, by its metadata), then waits for it.
async fn create<T>(
    cx: &Context,
    res: &DesiredResource,
    ids: &Ids,
    mut body: Value,
) -> Result<String>
where
    T: Copy + Polled,
{
    let addr = &res.addr;
    let volume_id = common::ref_id(res, ids, "volume", Kind::Volume)?;
    let session = volume_session(cx, volume_id).await?;
    let force = common::bool_attr(res, "force", false);
    let marks = ownership_metadata(cx, addr);
    let mut metadata = marks.clone();
    metadata.insert(FORCE_METADATA.into(), force.to_string());
    body["volume_id"] = json!(volume_id);
    body["name"] = json!(name_of(res));
    body["description"] = json!(
        res.attrs
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
    );
    body["force"] = json!(force);
    body["metadata"] = json!(metadata);
    let api = session.block_storage();
    // Matched here, not by a `metadata=` filter: Cinder refuses that filter on backups
    // always, and on snapshots where its resource_filters.json does not list it (400 "Invalid
    // filters metadata are found in query options.").
    let find = || async {
        let found: Vec<T> = api.list(T::COLLECTION, &[]).await?;
        Ok(found
            .into_iter()
            .find(|item| marks.iter().all(|(k, v)| item.metadata().get(k) == Some(v))))
    };
    let created: T = create_or_adopt(
        addr,
        || super::volume::while_source_busy(cx, || api.create(T::COLLECTION, body.clone())),
        find,
    )
    .await?;
    let id = created.id().to_string();
    let verdict = |item: T| match item.status() {
        "available" => Poll::Ready(()),
        "error" => Poll::Failed(match item.fail_reason() {
            Some(reason) => format!(
                "{} {id} went to status error: {reason}",
                T::COLLECTION.singular
            ),
            None => format!("{} {id} went to status error", T::COLLECTION.singular),
        }),
        status => Poll::Pending(status.to_string()),
    };
    api.wait_polled(
        T::COLLECTION,
        &session.project_id(),
        &id,
        cx.timeout,
        verdict,
    )
    .await
    .map_err(|e| common::wait_error(addr, "creating", e))?;
    Ok(id)
}

async fn update(
    cx: &Context,
    schema: &KindSchema,
    res: &DesiredResource,
    current: &ObservedResource,
    c: Collection,
) -> Result<()> {
    let mut changes = common::body_changes(schema, res, current);
    let force = common::bool_attr(res, "force", false);
    if current.attrs.get("force") != Some(&json!(force)) {
        // `force` only matters to the create: what changes is the mark that records it.
        let mut metadata = ownership_metadata(cx, &res.addr);
        metadata.insert(FORCE_METADATA.into(), force.to_string());
        if c == SNAPSHOTS {
            // A snapshot's PUT ignores metadata; it has an endpoint of its own.
            cx.cloud
                .admin()
                .block_storage()
                .set_snapshot_metadata(&current.id, &metadata)
                .await?;
        } else {
            changes.insert("metadata".into(), json!(metadata));
        }
    }
    if !changes.is_empty() {
        let _: Value = cx
            .cloud
            .admin()
            .block_storage()
            .update(c, &current.id, Value::Object(changes))
            .await?;
    }
    Ok(())
}

/// Deletes and waits until it is gone: a volume's delete right after its snapshot's is
/// refused while the snapshot is still `deleting`. The copy is read first for its project,
/// whose list the wait shares with the other deletes there.
async fn delete<T: Copy + Polled>(cx: &Context, current: &ObservedResource) -> Result<()> {
    let api = cx.cloud.admin().block_storage();
    let item: T = match api.get(T::COLLECTION, &current.id).await {
        Err(e) if e.is_not_found() => return Ok(()),
        other => other?,
    };
    gone_ok(api.delete(T::COLLECTION, &current.id).await)?;
    api.wait_gone_polled::<T>(T::COLLECTION, item.project(), &current.id, cx.timeout)
        .await
        .map_err(|e| common::wait_error(&current.addr, "the delete", e))
}

impl KindOps for Snapshot {
    const SCHEMA: KindSchema = SNAPSHOT_SCHEMA;

    async fn list(cx: &Context, scope: Scope<'_>) -> Result<Vec<Listed>> {
        list::<cinder::Snapshot>(cx, scope, Kind::Snapshot).await
    }

    async fn create(cx: &Context, res: &DesiredResource, ids: &Ids) -> Result<String> {
        create::<cinder::Snapshot>(cx, res, ids, json!({})).await
    }

    async fn update(
        cx: &Context,
        res: &DesiredResource,
        current: &ObservedResource,
        _ids: &Ids,
    ) -> Result<()> {
        update(cx, &SNAPSHOT_SCHEMA, res, current, SNAPSHOTS).await
    }

    async fn delete(cx: &Context, current: &ObservedResource, _ids: &Ids) -> Result<()> {
        delete::<cinder::Snapshot>(cx, current).await
    }
}

impl KindOps for Backup {
    const SCHEMA: KindSchema = BACKUP_SCHEMA;

    async fn list(cx: &Context, scope: Scope<'_>) -> Result<Vec<Listed>> {
        list::<cinder::Backup>(cx, scope, Kind::Backup).await
    }

    async fn create(cx: &Context, res: &DesiredResource, ids: &Ids) -> Result<String> {
        let incremental = common::bool_attr(res, "incremental", false);
        create::<cinder::Backup>(cx, res, ids, json!({ "incremental": incremental })).await
    }

    async fn update(
        cx: &Context,
        res: &DesiredResource,
        current: &ObservedResource,
        _ids: &Ids,
    ) -> Result<()> {
        update(cx, &BACKUP_SCHEMA, res, current, BACKUPS).await
    }

    async fn delete(cx: &Context, current: &ObservedResource, _ids: &Ids) -> Result<()> {
        delete::<cinder::Backup>(cx, current).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_observe_their_volume_by_name_and_force_from_metadata() {
        let mut names = Names::default();
        names.insert(Kind::Volume, "v1", "data");
        let backup = cinder::Backup {
            id: "b1".into(),
            name: Some("nightly".into()),
            volume_id: "v1".into(),
            is_incremental: true,
            metadata: [(FORCE_METADATA.to_string(), "true".to_string())].into(),
            ..cinder::Backup::default()
        };
        let attrs = backup.observe(&names);
        assert_eq!(attrs["volume"], json!("data"));
        assert_eq!(attrs["incremental"], json!(true));
        assert_eq!(attrs["force"], json!(true));
        assert_eq!(attrs["description"], json!(""));
    }
}
