//! Volumes (Cinder): a block device in its tenant's project, made empty or from one source (a
//! snapshot, a backup restored onto it, an image, another volume), grown in place (os-extend),
//! never shrunk. Cinder has no tags: ownership is in the volume's metadata.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::common::{self, ADDRESS_METADATA, Names, bad_attr, create_or_adopt, gone_ok, name_of};
use super::schema::{Api, Attr, AttrType, Catalog, KindSchema, ListScope, Ownership, Ref, Service};
use super::{Context, Ids, KindOps, Listed, Observed, ObservedResource, Result, Scope};
use crate::addr::{Address, Kind};
use crate::diag::{Diagnostic, Diagnostics};
use crate::openstack::block_storage::{self as cinder, VOLUMES};
use crate::openstack::image::Image;
use crate::openstack::wait::Poll;
use crate::openstack::{ApiError, Session};
use crate::spec::{Attrs, Desired, DesiredResource};

pub struct Volume;

/// Metadata key holding the state's lineage id (the address is under [`ADDRESS_METADATA`]).
pub const LINEAGE_METADATA: &str = "stackform_lineage";
/// Metadata key recording the source a volume was made from (`snapshot:NAME`...): Cinder
/// keeps a snapshot or a source volume's id, but nothing of a backup restored onto a volume
/// nor of an image's name.
const SOURCE_METADATA: &str = "stackform_source";

/// The source attributes: at most one is written.
const SOURCES: [&str; 4] = ["snapshot", "backup", "image", "source_volume"];

/// Statuses of work under way (Cinder refuses actions until they end).
const SETTLING: &[&str] = &[
    "creating",
    "extending",
    "restoring-backup",
    "downloading",
    "uploading",
    "attaching",
    "detaching",
    "reserved",
    "backing-up",
    "retyping",
    "maintenance",
    "deleting",
];

const FAILED: &[&str] = &["error", "error_restoring", "error_extending"];

/// The failed status that replaces a volume: `error` is a create that never made a disk.
/// `error_extending` and `error_restoring` are a disk with data on it: reported, never
/// destroyed.
const REPLACED: &[&str] = &["error"];

const SCHEMA: KindSchema = KindSchema {
    spec_check: Some(spec_check),
    plan_check: Some(plan_check),
    replace_failed: true,
    settling: SETTLING,
    ..KindSchema::new(
        "volume",
        "a Cinder volume in its tenant's project, empty or made from one source",
        Api {
            service: Service::BlockStorage,
            collection: "/v3/{project_id}/volumes",
            scope: ListScope::Tenant,
            ownership: Ownership::Metadata,
        },
        &[
            Attr::new("tenant", AttrType::Reference(Ref::to(Kind::Tenant))).forces_replacement(),
            Attr::new(
                "name",
                AttrType::Name {
                    max: super::schema::NAME_MAX,
                },
            ),
            Attr::new("description", AttrType::Text { default: "" }),
            // Grown in place with os-extend; a smaller size is refused in plan.
            Attr::new(
                "size",
                AttrType::Integer {
                    min: 1,
                    max: i32::MAX as i64,
                    help: "the size in gigabytes (GB), at least 1",
                },
            )
            .own_calls(),
            Attr::new(
                "type",
                AttrType::OptionalCloudName {
                    example: "\"<volume type>\"",
                    catalog: Catalog::VolumeTypes,
                },
            )
            .forces_replacement()
            .own_calls(),
            Attr::new(
                "availability_zone",
                AttrType::OptionalCloudName {
                    example: "\"<zone>\"",
                    catalog: Catalog::VolumeZones,
                },
            )
            .forces_replacement()
            .own_calls(),
            Attr::new("bootable", AttrType::OptionalBool).own_calls(),
            Attr::new("metadata", AttrType::Metadata).own_calls(),
            Attr::new(
                "snapshot",
                AttrType::Reference(
                    Ref::to(Kind::Snapshot)
                        .only_at_create()
                        .same_tenant(
                            "restore",
                            "a volume is made from snapshots of its own tenant only: pick one of",
                        )
                        .optional(),
                ),
            )
            .forces_replacement()
            .own_calls(),
            Attr::new(
                "backup",
                AttrType::Reference(
                    Ref::to(Kind::Backup)
                        .only_at_create()
                        .same_tenant(
                            "restore",
                            "a volume is restored from backups of its own tenant only: pick one of",
                        )
                        .optional(),
                ),
            )
            .forces_replacement()
            .own_calls(),
            Attr::new(
                "image",
                AttrType::OptionalCloudName {
                    example: "\"<image name>\"",
                    catalog: Catalog::Images,
                },
            )
            .forces_replacement()
            .own_calls(),
            Attr::new(
                "source_volume",
                AttrType::Reference(
                    Ref::to(Kind::Volume)
                        .only_at_create()
                        .same_tenant(
                            "clone",
                            "a volume is cloned from volumes of its own tenant only: pick one of",
                        )
                        .optional(),
                ),
            )
            .forces_replacement()
            .own_calls(),
        ],
    )
    .parent("tenant")
    .statuses(&["available", "in-use"], REPLACED)
};

/// `size` is required unless a source gives it, and a volume has at most one source.
fn spec_check(
    res: &DesiredResource,
    _: &BTreeMap<Address, DesiredResource>,
    out: &mut Diagnostics,
) {
    if !res.attrs.contains_key("size") && source_of(res).is_none() {
        out.push(
            Diagnostic::error(format!("{}: `size` is required", res.addr))
                .at(res.span.clone())
                .help("write the size in gigabytes: size = 10 (a volume made from a source may leave it out: it takes the source's size)"),
        );
    }
    let written: Vec<&str> = SOURCES
        .into_iter()
        .filter(|s| res.attrs.get(*s).is_some_and(|v| !v.is_null()))
        .collect();
    if let [first, second, ..] = written.as_slice() {
        out.push(
            Diagnostic::error(format!(
                "{}: a volume has at most one source, but `{first}` and `{second}` are both set",
                res.addr
            ))
            .at(res.span_of(second))
            .help(format!(
                "keep one of {}: a volume is made from one snapshot, backup, image or volume",
                written.join(", ")
            )),
        );
    }
}

/// Cinder cannot shrink a volume (os-extend refuses a size not larger): a smaller `size` is
/// refused here rather than turned into a replacement that would lose the data. A volume
/// whose extend or restore failed holds data: the plan stops rather than replace it.
fn plan_check(res: &DesiredResource, desired: &Desired, observed: &Observed, out: &mut Diagnostics) {
    let Some(current) = observed.resources.get(&res.addr) else {
        check_source_size(res, desired, observed, out);
        return;
    };
    if let Some(status) = current
        .status
        .as_deref()
        .filter(|s| FAILED.contains(s) && !REPLACED.contains(s))
    {
        out.push(
            Diagnostic::error(format!(
                "{}: volume {} is in status {status} in the cloud; it still holds its data, so \
                 stackform does not replace it",
                res.addr, current.id
            ))
            .at(res.span.clone())
            .help(format!(
                "check the volume, then have an admin reset its status (openstack volume set \
                 --state available {}), or remove [{}] from the spec to delete it",
                current.id, res.addr
            )),
        );
    }
    let (Some(wanted), Some(have)) = (
        res.attrs.get("size").and_then(Value::as_u64),
        current.attrs.get("size").and_then(Value::as_u64),
    ) else {
        return;
    };
    if wanted < have {
        out.push(
            Diagnostic::error(format!(
                "{}: size {wanted} GB is smaller than the volume's {have} GB, and Cinder cannot \
                 shrink a volume",
                res.addr
            ))
            .at(res.span_of("size"))
            .help(format!(
                "keep size = {have} or more; for a smaller disk, add a new [volume.NAME], copy \
                 the data, then remove this one"
            )),
        );
    }
}

/// A volume made from a source is at least the source's size (Cinder refuses a smaller one,
/// 400 "Volume size ... cannot be smaller than the snapshot size"): when the spec or the state
/// knows that size, a smaller `size` fails in plan, at its line.
fn check_source_size(
    res: &DesiredResource,
    desired: &Desired,
    observed: &Observed,
    out: &mut Diagnostics,
) {
    let Some(wanted) = res.attrs.get("size").and_then(Value::as_u64) else {
        return;
    };
    let Some((source, source_size)) = known_source_size(res, desired, observed) else {
        return;
    };
    if wanted < source_size {
        out.push(
            Diagnostic::error(format!(
                "{}: size {wanted} GB is smaller than its source {source} ({source_size} GB)",
                res.addr
            ))
            .at(res.span_of("size"))
            .help(format!(
                "write size = {source_size} or more: Cinder makes a volume at least as large as \
                 its source"
            )),
        );
    }
}

/// The source of a volume to be made and its size, when the spec or the state knows it: a
/// volume's, and a snapshot's or backup's made by this apply (its volume's size then, as it
/// follows the volume's own create or extend; one made before may be smaller than the volume
/// is now, and its size is not kept).
fn known_source_size(
    res: &DesiredResource,
    desired: &Desired,
    observed: &Observed,
) -> Option<(Address, u64)> {
    let (attr, name) = source_of(res)?;
    let copied = |kind: Kind| {
        let copy = Address::new(kind, name);
        if observed.resources.contains_key(&copy) {
            return None;
        }
        desired.get(&copy)?.attrs.get("volume")?.as_str()
    };
    let (source, volume) = match attr {
        "source_volume" => (Address::new(Kind::Volume, name), Some(name)),
        "snapshot" => (Address::new(Kind::Snapshot, name), copied(Kind::Snapshot)),
        "backup" => (Address::new(Kind::Backup, name), copied(Kind::Backup)),
        _ => return None,
    };
    let volume = Address::new(Kind::Volume, volume?);
    let size = desired
        .get(&volume)
        .map(|r| &r.attrs)
        .or_else(|| observed.resources.get(&volume).map(|r| &r.attrs))?
        .get("size")?
        .as_u64()?;
    Some((source, size))
}

/// The size a volume of the spec has once applied, for the quota check: its `size`, else its
/// source's when known, else what the cloud holds (0 when nothing tells).
pub(super) fn planned_size(res: &DesiredResource, desired: &Desired, observed: &Observed) -> u64 {
    res.attrs
        .get("size")
        .and_then(Value::as_u64)
        .or_else(|| observed.resources.get(&res.addr)?.attrs.get("size")?.as_u64())
        .or_else(|| known_source_size(res, desired, observed).map(|(_, size)| size))
        .unwrap_or(0)
}

/// Normalized attributes of a volume.
pub fn observe(volume: &cinder::Volume, names: &Names) -> Attrs {
    let mut attrs = Attrs::new();
    let project = volume.project_id.as_deref().unwrap_or_default();
    attrs.insert("tenant".into(), json!(names.name(Kind::Tenant, project)));
    attrs.insert(
        "name".into(),
        json!(volume.name.clone().unwrap_or_default()),
    );
    attrs.insert(
        "description".into(),
        json!(volume.description.clone().unwrap_or_default()),
    );
    attrs.insert("size".into(), json!(volume.size));
    if let Some(ty) = &volume.volume_type {
        attrs.insert("type".into(), json!(ty));
    }
    if let Some(zone) = &volume.availability_zone {
        attrs.insert("availability_zone".into(), json!(zone));
    }
    attrs.insert("bootable".into(), json!(volume.bootable));
    attrs.insert(
        "metadata".into(),
        Value::Object(user_metadata(&volume.metadata)),
    );
    if let Some((attr, name)) = volume
        .metadata
        .get(SOURCE_METADATA)
        .and_then(|s| s.split_once(':'))
    {
        attrs.insert(attr.into(), json!(name));
    } else if let Some(source) = &volume.source_volid {
        attrs.insert(
            "source_volume".into(),
            json!(names.name(Kind::Volume, source)),
        );
    }
    attrs
}

/// The metadata the user wrote: every key but stackform's own.
fn user_metadata(metadata: &BTreeMap<String, String>) -> Map<String, Value> {
    metadata
        .iter()
        .filter(|(k, _)| !k.starts_with("stackform_"))
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect()
}

/// The ownership marks as the tags `common` reads (lineage, address), so that claims and
/// foreign claims are decided as for every tagged kind.
pub(super) fn ownership_of(metadata: &BTreeMap<String, String>) -> Vec<String> {
    let mut tags = Vec::new();
    if let Some(lineage) = metadata.get(LINEAGE_METADATA) {
        tags.push(format!("stackform-lineage:{lineage}"));
    }
    if let Some(addr) = metadata.get(ADDRESS_METADATA) {
        tags.push(format!("stackform:{addr}"));
    }
    tags
}

pub(super) fn ownership_metadata(cx: &Context, addr: &Address) -> BTreeMap<String, String> {
    [
        (LINEAGE_METADATA.to_string(), cx.lineage.clone()),
        (ADDRESS_METADATA.to_string(), addr.to_string()),
    ]
    .into()
}

/// The whole metadata a volume of `res` carries: the user's, the ownership marks, the source.
fn full_metadata(cx: &Context, res: &DesiredResource) -> BTreeMap<String, String> {
    let mut metadata: BTreeMap<String, String> = res
        .attrs
        .get("metadata")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect();
    metadata.extend(ownership_metadata(cx, &res.addr));
    if let Some((attr, name)) = source_of(res) {
        metadata.insert(SOURCE_METADATA.into(), format!("{attr}:{name}"));
    }
    metadata
}

/// The one source attribute `res` writes, with its value.
fn source_of(res: &DesiredResource) -> Option<(&'static str, &str)> {
    SOURCES
        .into_iter()
        .find_map(|attr| Some((attr, res.attrs.get(attr)?.as_str()?)))
}

/// Sends `call` again while Cinder refuses it because the volume it copies is busy: a
/// snapshot, a backup and a clone of one volume each need it `available` (Cinder answers 400
/// "Invalid volume: ... status must be available ..." or "Unable to clone volumes that are in
/// a backing-up state" to the others while one runs), and the plan starts them side by side.
pub(super) async fn while_source_busy<T, C, F>(cx: &Context, call: C) -> Result<T, ApiError>
where
    C: Fn() -> F,
    F: std::future::Future<Output = Result<T, ApiError>>,
{
    let started = tokio::time::Instant::now();
    loop {
        match call().await {
            Err(e)
                if e.status() == Some(reqwest::StatusCode::BAD_REQUEST)
                    && e.message().starts_with("Invalid volume")
                    && (e.message().contains("status") || e.message().contains("state"))
                    && started.elapsed() < cx.timeout =>
            {
                tracing::debug!("source volume busy, trying again: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            other => return other,
        }
    }
}

/// Deletes the volume, sending the delete again only while Cinder's 400 is about work that
/// ends by itself: the volume in a transient status (a server just deleted leaves it
/// `detaching` for a moment) or one of its snapshots being deleted. A volume kept by a
/// snapshot stackform does not manage fails at once, with Cinder's message.
async fn delete_when_settled(cx: &Context, id: &str) -> Result<(), ApiError> {
    let api = cx.cloud.admin().block_storage();
    let started = tokio::time::Instant::now();
    loop {
        let refused = match api.delete(VOLUMES, id).await {
            Err(e) if e.status() == Some(reqwest::StatusCode::BAD_REQUEST) => e,
            other => return other,
        };
        if started.elapsed() >= cx.timeout {
            return Err(refused);
        }
        let volume: cinder::Volume = api.get(VOLUMES, id).await?;
        let query = [
            ("all_tenants".to_string(), "1".to_string()),
            ("volume_id".to_string(), id.to_string()),
        ];
        let snapshots: Vec<cinder::Snapshot> = api.list(cinder::SNAPSHOTS, &query).await?;
        let settling = SETTLING.contains(&volume.status.as_str())
            || snapshots
                .iter()
                .any(|s| s.volume_id == id && s.status == "deleting");
        if !settling {
            return Err(refused);
        }
        tracing::debug!("volume {id} busy ({}), deleting again: {refused}", volume.status);
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// The image of `name`, from what refresh listed, else from Glance.
async fn image_of(cx: &Context, addr: &Address, name: &str) -> Result<Image> {
    let mut images = cx.listed(|l| l.images.clone());
    if images.is_empty() {
        images = cx.cloud.admin().image().list_images(&[]).await?;
    }
    images
        .into_iter()
        .find(|i| i.id == name || i.name.as_deref() == Some(name))
        .ok_or_else(|| bad_attr(addr, "image", format!("`{name}` is no image of the cloud")))
}

/// The size of a volume whose spec leaves it to its source: a backup's (the volume is made
/// empty, then the backup restored onto it), an image's (its bytes rounded up to whole GB, at
/// least its `min_disk`); None for a snapshot or a clone, which Cinder sizes itself.
async fn source_size(
    session: &Session,
    ids: &Ids,
    source: Option<(&str, &str)>,
    image: Option<&Image>,
) -> Result<Option<u64>> {
    const GIB: u64 = 1 << 30;
    Ok(match (source, image) {
        (Some(("backup", name)), _) => {
            let id = common::dep_id(ids, Kind::Backup, name)?;
            let backup: cinder::Backup = session.block_storage().get(cinder::BACKUPS, id).await?;
            Some(backup.size)
        }
        (_, Some(image)) => {
            let bytes = image.size.unwrap_or(0).div_ceil(GIB);
            Some(bytes.max(image.min_disk.unwrap_or(0)).max(1))
        }
        _ => None,
    })
}

/// Waits until the volume is available or in use, reporting a failed status with the reason
/// Cinder gives none of (so the status itself is the message).
async fn wait_ready(
    cx: &Context,
    session: &Session,
    addr: &Address,
    id: &str,
    what: &str,
) -> Result<cinder::Volume> {
    let project = session.project_id();
    let verdict = |volume: cinder::Volume| match volume.status.as_str() {
        "available" | "in-use" => Poll::Ready(volume),
        status if FAILED.contains(&status) => {
            Poll::Failed(format!("volume {id} went to status {status} while {what}"))
        }
        status => Poll::Pending(status.to_string()),
    };
    session
        .block_storage()
        .wait_polled(VOLUMES, &project, id, cx.timeout, verdict)
        .await
        .map_err(|e| common::wait_error(addr, what, e))
}

impl KindOps for Volume {
    const SCHEMA: KindSchema = SCHEMA;

    /// One list across projects (admin, `all_tenants=1`), narrowed to the project when there
    /// is only one.
    async fn list(cx: &Context, scope: Scope<'_>) -> Result<Vec<Listed>> {
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
        let volumes: Vec<cinder::Volume> =
            match cx.cloud.admin().block_storage().list(VOLUMES, &query).await {
                // A cloud without Cinder holds no volumes.
                Err(ApiError::Config(message)) if projects.known(Kind::Volume).is_empty() => {
                    tracing::debug!("no volumes listed: {message}");
                    return Ok(Vec::new());
                }
                other => other?,
            };
        let lineage = common::lineage_tag(cx);
        Ok(volumes
            .into_iter()
            .filter(|v| projects.contains(v.project_id.as_deref().unwrap_or_default()))
            .map(|volume| {
                let tags = ownership_of(&volume.metadata);
                let claim = common::tagged_address(&lineage, &tags);
                let foreign = common::foreign_claim(&lineage, &tags);
                let (id, status) = (volume.id.clone(), volume.status.clone());
                Listed::new(id, claim, Some(&status), move |_, o| {
                    observe(&volume, &o.names)
                })
                .foreign(foreign)
            })
            .collect())
    }

    async fn create(cx: &Context, res: &DesiredResource, ids: &Ids) -> Result<String> {
        let addr = &res.addr;
        let session = common::tenant_session(cx, res, ids).await?;
        let metadata = full_metadata(cx, res);
        let source = source_of(res);
        let image = match source {
            Some(("image", wanted)) => Some(image_of(cx, addr, wanted).await?),
            _ => None,
        };
        let size = match res.attrs.get("size").and_then(Value::as_u64) {
            Some(size) => Some(size),
            None => source_size(&session, ids, source, image.as_ref()).await?,
        };
        // A volume restored from a backup gets its source mark only once the restore is done:
        // one whose restore failed or was cut short shows no source (`backup` then differs
        // from the spec, which replaces it) rather than pass for a restored disk.
        let mut created_metadata = metadata.clone();
        if let Some(("backup", _)) = source {
            created_metadata.remove(SOURCE_METADATA);
        }
        let mut body = json!({
            "name": name_of(res),
            "description": res.attrs.get("description").and_then(Value::as_str).unwrap_or(""),
            "metadata": created_metadata,
        });
        // Cinder sizes a volume from a snapshot or a clone as its source when the size is left
        // out.
        if let Some(size) = size {
            body["size"] = json!(size);
        }
        for (attr, field) in [
            ("type", "volume_type"),
            ("availability_zone", "availability_zone"),
        ] {
            if let Some(value) = res.attrs.get(attr).and_then(Value::as_str) {
                body[field] = json!(value);
            }
        }
        match source {
            Some(("snapshot", name)) => {
                body["snapshot_id"] = json!(common::dep_id(ids, Kind::Snapshot, name)?)
            }
            Some(("image", _)) => body["imageRef"] = json!(image.as_ref().map(|i| i.id.clone())),
            Some(("source_volume", name)) => {
                body["source_volid"] = json!(common::dep_id(ids, Kind::Volume, name)?)
            }
            _ => {}
        }
        let backup = match source {
            Some(("backup", name)) => Some(common::dep_id(ids, Kind::Backup, name)?.to_string()),
            _ => None,
        };
        // A create whose reply was lost is found by its ownership metadata in the project,
        // matched here: Cinder takes `metadata=` from a project member only where its
        // resource_filters.json lists it (400 "Invalid filters metadata are found in query
        // options." where the file is missing, as on the real services of the tests).
        let marks = ownership_metadata(cx, addr);
        let find = || async {
            let found: Vec<cinder::Volume> = session.block_storage().list(VOLUMES, &[]).await?;
            Ok(found
                .into_iter()
                .find(|v| marks.iter().all(|(k, val)| v.metadata.get(k) == Some(val))))
        };
        let created: cinder::Volume = create_or_adopt(
            addr,
            || while_source_busy(cx, || session.block_storage().create(VOLUMES, body.clone())),
            find,
        )
        .await?;
        let mut volume = wait_ready(cx, &session, addr, &created.id, "creating").await?;
        if let Some(backup) = backup {
            session
                .block_storage()
                .restore_backup(&backup, &volume.id)
                .await?;
            volume = wait_ready(cx, &session, addr, &volume.id, "restoring the backup").await?;
            // A restore writes the backed-up volume's metadata over the volume's own (seen on
            // real Cinder): its ownership marks would then claim the source's address. This
            // write also adds the source mark, now that the restore is done.
            let _: cinder::Volume = session
                .block_storage()
                .update(VOLUMES, &volume.id, json!({ "metadata": metadata }))
                .await?;
        }
        if let Some(bootable) = res.attrs.get("bootable").and_then(Value::as_bool)
            && bootable != volume.bootable
        {
            session
                .block_storage()
                .set_bootable(&volume.id, bootable)
                .await?;
        }
        Ok(volume.id)
    }

    async fn update(
        cx: &Context,
        res: &DesiredResource,
        current: &ObservedResource,
        ids: &Ids,
    ) -> Result<()> {
        let addr = &res.addr;
        let api = cx.cloud.admin().block_storage();
        let mut changes = common::body_changes(&SCHEMA, res, current);
        if res.attrs.get("metadata") != current.attrs.get("metadata") {
            changes.insert("metadata".into(), json!(full_metadata(cx, res)));
        }
        if !changes.is_empty() {
            let _: cinder::Volume = api
                .update(VOLUMES, &current.id, Value::Object(changes))
                .await?;
        }
        let wanted = res.attrs.get("size").and_then(Value::as_u64);
        let have = current.attrs.get("size").and_then(Value::as_u64);
        if let (Some(wanted), Some(have)) = (wanted, have)
            && wanted > have
        {
            api.extend(&current.id, wanted).await?;
            // Extending ends in the volume's previous status (available or in-use), with the
            // new size; `extending` in between.
            let verdict = |volume: cinder::Volume| match volume.status.as_str() {
                "available" | "in-use" if volume.size >= wanted => Poll::Ready(()),
                "error_extending" => Poll::Failed(format!(
                    "volume {} failed to extend to {wanted} GB (status error_extending)",
                    current.id
                )),
                status => Poll::Pending(status.to_string()),
            };
            let project = common::ref_id(res, ids, "tenant", Kind::Tenant)?;
            api.wait_polled(VOLUMES, project, &current.id, cx.timeout, verdict)
                .await
                .map_err(|e| common::wait_error(addr, "extending", e))?;
        }
        if let Some(bootable) = res.attrs.get("bootable").and_then(Value::as_bool)
            && current.attrs.get("bootable") != Some(&json!(bootable))
        {
            api.set_bootable(&current.id, bootable).await?;
        }
        Ok(())
    }

    async fn delete(cx: &Context, current: &ObservedResource, _ids: &Ids) -> Result<()> {
        let api = cx.cloud.admin().block_storage();
        // A volume leaving the spec with the instance it is attached to, or still attached
        // to one, is detached first: Cinder refuses to delete an in-use volume (400).
        let volume: cinder::Volume = match api.get(VOLUMES, &current.id).await {
            Err(e) if e.is_not_found() => return Ok(()),
            other => other?,
        };
        for server in volume
            .attachments
            .iter()
            .filter_map(|a| a.server_id.as_deref())
        {
            match cx
                .cloud
                .admin()
                .compute()
                .detach_volume(server, &current.id)
                .await
            {
                Err(e) if e.is_not_found() => {}
                other => other?,
            }
        }
        gone_ok(delete_when_settled(cx, &current.id).await)?;
        let project = volume.project_id.unwrap_or_default();
        api.wait_gone_polled::<cinder::Volume>(VOLUMES, &project, &current.id, cx.timeout)
            .await
            .map_err(|e| common::wait_error(&current.addr, "the volume to be deleted", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observes_user_metadata_and_the_recorded_source() {
        let mut names = Names::default();
        names.insert(Kind::Tenant, "p1", "demo");
        let volume = cinder::Volume {
            id: "v1".into(),
            name: Some("data".into()),
            status: "available".into(),
            size: 10,
            availability_zone: Some("nova".into()),
            volume_type: Some("__DEFAULT__".into()),
            metadata: [
                ("role".to_string(), "db".to_string()),
                (LINEAGE_METADATA.to_string(), "L".to_string()),
                (ADDRESS_METADATA.to_string(), "volume.data".to_string()),
                (SOURCE_METADATA.to_string(), "backup:nightly".to_string()),
            ]
            .into(),
            project_id: Some("p1".into()),
            ..cinder::Volume::default()
        };
        let attrs = observe(&volume, &names);
        assert_eq!(attrs["tenant"], json!("demo"));
        assert_eq!(attrs["metadata"], json!({"role": "db"}));
        assert_eq!(attrs["backup"], json!("nightly"));
        assert_eq!(attrs["size"], json!(10));
        assert_eq!(attrs["type"], json!("__DEFAULT__"));
        let tags = ownership_of(&volume.metadata);
        assert_eq!(
            common::tagged_address("stackform-lineage:L", &tags),
            Some(Address::new(Kind::Volume, "data"))
        );
    }
}
