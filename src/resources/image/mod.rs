//! Glance images of a tenant, uploaded from a file beside the spec: `[image.NAME]`.
//!
//! The file's content is what the image is: the plan compares its SHA-512 with Glance's
//! `os_hash_value`, so a changed file replaces the image (Glance never changes an active
//! image's data). Instances name an image of the spec by its address name, which makes them
//! depend on it (see `instance`). An image whose upload was interrupted (queued or saving,
//! carrying our tags) is replaced by the next apply; one whose stored data differs from the
//! file is deleted at once.

pub mod local;
pub mod upload;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::common::{self, Names, gone_ok};
use super::schema::{Api, Attr, AttrType, Catalog, KindSchema, ListScope, Ownership, Ref, Service};
use super::{Context, Error, Ids, KindOps, Listed, Observed, ObservedResource, Result, Scope};
use crate::addr::{Address, Kind};
use crate::diag::{Diagnostic, Diagnostics};
use crate::openstack::image::Image as GlanceImage;
use crate::spec::{Attrs, Desired, DesiredResource};

pub struct Image;

pub const DISK_FORMATS: &[&str] = &[
    "qcow2", "raw", "vhd", "vmdk", "vdi", "iso", "aki", "ami", "ari",
];
pub const CONTAINER_FORMATS: &[&str] = &["bare", "ovf", "aki", "ami", "ari"];
pub const VISIBILITIES: &[&str] = &["private", "shared", "community", "public"];
/// Amazon's kernel, ramdisk and machine formats: each is its own container format too.
const AMAZON: &[&str] = &["aki", "ami", "ari"];

const SCHEMA: KindSchema = KindSchema {
    spec_check: Some(spec_check),
    plan_check: Some(plan_check),
    replace_failed: true,
    catalog: Some(Catalog::Images),
    ..KindSchema::new(
        "image",
        "a Glance image of a tenant, its data uploaded from a file beside the spec and verified by SHA-512; instances boot from it with `image = \"<its address name>\"`",
        Api {
            service: Service::Image,
            collection: "/v2/images",
            scope: ListScope::Tenant,
            ownership: Ownership::Tags,
        },
        &[
            Attr::new("tenant", AttrType::Reference(Ref::to(Kind::Tenant))).forces_replacement(),
            Attr::new("name", AttrType::Name { max: 255 }),
            // Glance never changes an active image's data: new content is a new image.
            Attr::new("file", AttrType::UploadFile { size_attr: "size" }).forces_replacement(),
            // Follows `file`, whose change already says why the image is replaced.
            Attr::new("size", AttrType::Derived).own_calls(),
            Attr::new(
                "disk_format",
                AttrType::Choice {
                    values: DISK_FORMATS,
                    default: "qcow2",
                },
            )
            .forces_replacement(),
            Attr::new(
                "container_format",
                AttrType::Choice {
                    values: CONTAINER_FORMATS,
                    default: "bare",
                },
            )
            .forces_replacement(),
            Attr::new(
                "visibility",
                AttrType::Choice {
                    values: VISIBILITIES,
                    default: "private",
                },
            ),
            Attr::new(
                "min_disk",
                AttrType::Integer {
                    min: 0,
                    max: i32::MAX as i64,
                    help: "the smallest disk (GB) a server booted from the image needs",
                },
            ),
            Attr::new(
                "min_ram",
                AttrType::Integer {
                    min: 0,
                    max: i32::MAX as i64,
                    help: "the smallest RAM (MB) a server booted from the image needs",
                },
            ),
        ],
    )
    .parent("tenant")
    // Glance's statuses of an image without (all its) data: an upload that was interrupted.
    .statuses(&["active"], &["queued", "saving", "killed"])
};

/// aki, ami and ari go with the same container format (Glance stores Amazon images that way).
fn spec_check(image: &DesiredResource, _: &BTreeMap<Address, DesiredResource>, out: &mut Diagnostics) {
    let disk = image.attrs.get("disk_format").and_then(Value::as_str);
    let container = image.attrs.get("container_format").and_then(Value::as_str);
    let (Some(disk), Some(container)) = (disk, container) else {
        return;
    };
    if (AMAZON.contains(&disk) || AMAZON.contains(&container)) && disk != container {
        let (attr, help) = if AMAZON.contains(&disk) {
            ("container_format", format!("set container_format = \"{disk}\""))
        } else {
            ("disk_format", format!("set disk_format = \"{container}\""))
        };
        out.push(
            Diagnostic::error(format!(
                "{}: disk_format `{disk}` and container_format `{container}` do not go together: aki, ami and ari images use the same container format",
                image.addr
            ))
            .at(image.span_of(attr))
            .help(help),
        );
    }
}

/// Public images need the service provider's permission; each tenant's images stay within the
/// provider's count and size limits (the spec's images of the tenant, counted in address order).
fn plan_check(image: &DesiredResource, desired: &Desired, _: &Observed, out: &mut Diagnostics) {
    let settings = &desired.provider.images;
    if image.attrs.get("visibility").and_then(Value::as_str) == Some("public") && !settings.allow_public {
        out.push(
            Diagnostic::error(format!(
                "{}: public images are seen by every project of the cloud: only the service provider may publish one",
                image.addr
            ))
            .at(image.span_of("visibility"))
            .help("set `allow_public_images = true` in [provider] if you are the service provider, or use visibility = \"shared\""),
        );
    }
    let Some(tenant) = image.attrs.get("tenant").and_then(Value::as_str) else {
        return;
    };
    let of_tenant: Vec<&DesiredResource> = desired
        .of_kind(Kind::Image)
        .filter(|r| r.attrs.get("tenant").and_then(Value::as_str) == Some(tenant))
        .collect();
    let Some(position) = of_tenant.iter().position(|r| r.addr == image.addr) else {
        return;
    };
    let tenant_addr = format!("tenant.{tenant}");
    // Reported once per tenant, on the first image over the limit.
    if let Some(limit) = settings.count_limit
        && position as u64 == limit
    {
        out.push(
            Diagnostic::error(upload::count_exceeded(&tenant_addr, of_tenant.len() as u64, limit))
                .at(image.span.clone())
                .help("raise image_count_total_limit in [provider], or remove images from the tenant"),
        );
    }
    if let Some(limit) = settings.size_limit {
        let sizes: Vec<u64> = of_tenant
            .iter()
            .map(|r| r.attrs.get("size").and_then(Value::as_u64).unwrap_or(0))
            .collect();
        let before: u64 = sizes[..position].iter().sum();
        let total: u64 = sizes.iter().sum();
        if before <= limit && before + sizes[position] > limit {
            out.push(
                Diagnostic::error(upload::size_exceeded(&tenant_addr, total, limit))
                    .at(image.span_of("file"))
                    .help("raise image_size_total_limit in [provider], or upload smaller images"),
            );
        }
    }
}

/// Normalized attributes. An image without data has no `file` nor `size`.
fn observe(image: &GlanceImage, names: &Names) -> Attrs {
    let mut attrs = Attrs::new();
    let owner = image.owner.as_deref().unwrap_or_default();
    attrs.insert("tenant".into(), json!(names.name(Kind::Tenant, owner)));
    attrs.insert("name".into(), json!(image.name));
    attrs.insert(
        "file".into(),
        json!(image.os_hash_value.as_deref().map(local::content_id)),
    );
    attrs.insert("size".into(), json!(image.size));
    attrs.insert("disk_format".into(), json!(image.disk_format));
    attrs.insert("container_format".into(), json!(image.container_format));
    attrs.insert("visibility".into(), json!(image.visibility));
    attrs.insert("min_disk".into(), json!(image.min_disk));
    attrs.insert("min_ram".into(), json!(image.min_ram));
    attrs
}

/// The images of `addr` in the session's project, by its ownership tags.
async fn tagged(
    cx: &Context,
    session: &crate::openstack::Session,
    addr: &Address,
) -> Result<Vec<GlanceImage>, crate::openstack::ApiError> {
    let tags = common::ownership_tags(cx, addr);
    let query = [("tag".to_string(), common::address_tag(addr))];
    let project = session.project_id();
    Ok(cx
        .cloud
        .admin()
        .image()
        .list_images(&query)
        .await?
        .into_iter()
        .filter(|i| i.owner.as_deref() == Some(project.as_str()) && common::has_tags(&i.tags, &tags))
        .collect())
}

impl KindOps for Image {
    const SCHEMA: KindSchema = SCHEMA;

    /// The images carrying this lineage's tag, in one list (Glance filters by tag), kept to
    /// the spec's projects.
    async fn list(cx: &Context, scope: Scope<'_>) -> Result<Vec<Listed>> {
        let Scope::Projects(projects) = scope else {
            return Ok(Vec::new());
        };
        if projects.ids().is_empty() {
            return Ok(Vec::new());
        }
        let query = [("tag".to_string(), common::lineage_tag(cx))];
        let images = cx.cloud.admin().image().list_images(&query).await?;
        let lineage = common::lineage_tag(cx);
        Ok(images
            .into_iter()
            .filter(|i| i.owner.as_deref().is_some_and(|o| projects.contains(o)))
            .map(|image| {
                let claim = common::tagged_address(&lineage, &image.tags);
                let foreign = common::foreign_claim(&lineage, &image.tags);
                let status = image.status.clone();
                Listed::new(image.id.clone(), claim, Some(&status), move |_, o| {
                    observe(&image, &o.names)
                })
                .foreign(foreign)
            })
            .collect())
    }

    /// Limits checked, record created (tagged), data streamed, result verified. What a
    /// previous run left of this address (an interrupted upload) is deleted first, unless it
    /// is the same content, complete: then it is adopted.
    async fn create(cx: &Context, res: &DesiredResource, ids: &Ids) -> Result<String> {
        let addr = &res.addr;
        let failed = |message: String| Error::Failed {
            addr: addr.clone(),
            message,
        };
        let content = common::str_attr(res, "file")?;
        let file = local::known(content).ok_or_else(|| {
            failed(format!("the file with content {content} was not read by this run"))
        })?;
        let session = common::tenant_session(cx, res, ids).await?;
        let mut leaving = Vec::new();
        for found in tagged(cx, &session, addr).await? {
            if upload::differences(&found, &file).is_none() {
                tracing::info!("{addr}: adopted image {} (same content, active)", found.id);
                return Ok(found.id);
            }
            tracing::info!(
                "{addr}: deleting image {} left {} by an earlier run",
                found.id,
                found.status
            );
            gone_ok(cx.cloud.admin().image().delete_image(&found.id).await)?;
            leaving.push(found.id);
        }
        let tenant = format!("tenant.{}", common::str_attr(res, "tenant")?);
        upload::check_limits(&session, &cx.images, &tenant, file.size, &leaving)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let tags = common::ownership_tags(cx, addr);
        let body = Value::Object(upload::record_body(common::name_of(res), &res.attrs, &tags));
        let record = common::create_or_adopt(
            addr,
            || session.image().create_image(&body),
            || async { Ok(tagged(cx, &session, addr).await?.into_iter().next()) },
        )
        .await?;
        let timeout = std::time::Duration::from_secs(cx.images.upload_timeout_secs);
        upload::upload_and_verify(&session, &record.id, &file, timeout, &addr.to_string())
            .await
            .map_err(|e| failed(e.to_string()))?;
        Ok(record.id)
    }

    /// Name, visibility and minimums change with a JSON patch.
    async fn update(
        cx: &Context,
        res: &DesiredResource,
        current: &ObservedResource,
        _: &Ids,
    ) -> Result<()> {
        let patch: Vec<Value> = common::changed(
            &res.attrs,
            &current.attrs,
            &["name", "visibility", "min_disk", "min_ram"],
        )
        .into_iter()
        .map(|(attr, value)| json!({"op": "replace", "path": format!("/{attr}"), "value": value}))
        .collect();
        if patch.is_empty() {
            return Ok(());
        }
        Ok(cx
            .cloud
            .admin()
            .image()
            .update_image(&current.id, &Value::Array(patch))
            .await?)
    }

    async fn delete(cx: &Context, current: &ObservedResource, _: &Ids) -> Result<()> {
        gone_ok(cx.cloud.admin().image().delete_image(&current.id).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observes_content_by_hash_and_nothing_without_data() {
        let mut names = Names::default();
        names.insert(Kind::Tenant, "p1", "demo");
        let image = GlanceImage {
            id: "i1".into(),
            name: Some("ubuntu".into()),
            status: "active".into(),
            owner: Some("p1".into()),
            size: Some(3),
            os_hash_value: Some("ddaf35a193617aba".to_string() + &"0".repeat(112)),
            disk_format: Some("raw".into()),
            container_format: Some("bare".into()),
            visibility: Some("private".into()),
            min_disk: Some(1),
            min_ram: Some(0),
            ..GlanceImage::default()
        };
        let attrs = observe(&image, &names);
        assert_eq!(attrs["tenant"], json!("demo"));
        assert_eq!(attrs["file"], json!("sha512:ddaf35a193617aba"));
        assert_eq!(attrs["size"], json!(3));
        let queued = GlanceImage {
            status: "queued".into(),
            size: None,
            os_hash_value: None,
            ..image
        };
        assert_eq!(observe(&queued, &names)["file"], Value::Null);
    }
}
