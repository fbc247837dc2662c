//! `image upload`: one image from a file that no spec names, put into a tenant of the state
//! the way `[image.NAME]` is (limits, record, streamed data, verification), and left alone by
//! later plans (it carries no ownership tag).

use std::path::Path;
use std::time::Duration;

use super::{OpsError, Result, Workspace, connect, state, validate};
use crate::addr::{Address, Kind};
use crate::openstack::image::Image;
use crate::resources::{self, image_file, image_upload};

/// What the image is to be, besides its file.
#[derive(Clone, Debug)]
pub struct UploadRequest {
    pub tenant: String,
    pub name: String,
    pub disk_format: String,
    pub container_format: String,
    pub visibility: String,
    pub min_disk: Option<u64>,
    pub min_ram: Option<u64>,
}

/// Uploads `file` as `request` says; returns the image as Glance stored it.
pub async fn upload_image(ws: &Workspace, file: &Path, request: &UploadRequest) -> Result<Image> {
    let desired = validate(ws)?;
    let settings = &desired.provider.images;
    if request.visibility == "public" && !settings.allow_public {
        return Err(OpsError::Usage(
            "public images are seen by every project of the cloud: only the service provider \
             may publish one (`allow_public_images = true` in [provider])"
                .into(),
        ));
    }
    let amazon = ["aki", "ami", "ari"];
    let (disk, container) = (&request.disk_format, &request.container_format);
    if (amazon.contains(&disk.as_str()) || amazon.contains(&container.as_str()))
        && disk != container
    {
        return Err(OpsError::Usage(format!(
            "disk format `{disk}` and container format `{container}` do not go together: aki, \
             ami and ari images use the same container format"
        )));
    }
    let local = image_file::identify(file)
        .map_err(|e| OpsError::Usage(format!("cannot read {}: {e}", file.display())))?;
    let store = state::open_read(ws)?;
    let tenant = Address::new(Kind::Tenant, &request.tenant);
    let project = store.ids().await?.get(&tenant).cloned().ok_or_else(|| {
        OpsError::Usage(format!(
            "`{}` is not a tenant of the state: apply the spec that defines it first",
            request.tenant
        ))
    })?;
    let lineage = store.lineage().await?;
    drop(store);
    let connection = connect(ws, &desired, lineage).await?;
    let result = async {
        let cx = &connection.context;
        let failed = |message: String| {
            OpsError::from(super::CloudError::Refresh(resources::Error::Failed {
                addr: tenant.clone(),
                message,
            }))
        };
        let session = cx
            .cloud
            .project_session(&project)
            .await
            .map_err(super::CloudError::Connect)?;
        image_upload::check_limits(&session, settings, &tenant.to_string(), local.size, &[])
            .await
            .map_err(|e| failed(e.to_string()))?;
        let mut attrs = crate::spec::Attrs::new();
        attrs.insert("disk_format".into(), disk.as_str().into());
        attrs.insert("container_format".into(), container.as_str().into());
        attrs.insert("visibility".into(), request.visibility.as_str().into());
        if let Some(min_disk) = request.min_disk {
            attrs.insert("min_disk".into(), min_disk.into());
        }
        if let Some(min_ram) = request.min_ram {
            attrs.insert("min_ram".into(), min_ram.into());
        }
        let body = serde_json::Value::Object(image_upload::record_body(&request.name, &attrs, &[]));
        let record = session
            .image()
            .create_image(&body)
            .await
            .map_err(super::CloudError::Connect)?;
        let timeout = Duration::from_secs(settings.upload_timeout_secs);
        image_upload::upload_and_verify(&session, &record.id, &local, timeout, &request.name)
            .await
            .map_err(|e| failed(e.to_string()))
    }
    .await;
    connection.close().await;
    result
}
