//! Putting one image into Glance the way v2 intends: the limits checked first, then the
//! record created, the file streamed to `PUT /v2/images/{id}/file`, and what Glance stored
//! compared with what was sent. An image that fails any step is deleted: nothing half made
//! stays behind. Shared by the `image` kind and `stackform image upload`.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::local::LocalImage;
use crate::openstack::image::{Image, UploadError};
use crate::openstack::{ApiError, Session};
use crate::spec::ImageProvider;

/// Why an image could not be put in place. Displays on one line.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("{0}")]
    Limit(String),
    #[error("upload failed: {0}")]
    Upload(String),
    #[error("Verification failed: {0}")]
    Verification(String),
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// Refuses one more image of `size` bytes in the session's project when it would pass the
/// provider's limits. `leaving` are images about to be deleted (they do not count).
pub async fn check_limits(
    session: &Session,
    settings: &ImageProvider,
    tenant: &str,
    size: u64,
    leaving: &[String],
) -> Result<(), Refused> {
    if settings.count_limit.is_none() && settings.size_limit.is_none() {
        return Ok(());
    }
    let project = session.project_id();
    let query = [("owner".to_string(), project.clone())];
    let owned: Vec<Image> = session
        .image()
        .list_images(&query)
        .await?
        .into_iter()
        // Filtered here too: a Glance ignoring the filter lists every visible image.
        .filter(|i| i.owner.as_deref() == Some(project.as_str()) && !leaving.contains(&i.id))
        .collect();
    if let Some(problem) = over_limits(settings, tenant, &owned, size) {
        return Err(Refused::Limit(problem));
    }
    Ok(())
}

/// What one more image of `size` bytes beside `owned` would pass, said as the user reads it.
pub fn over_limits(
    settings: &ImageProvider,
    tenant: &str,
    owned: &[Image],
    size: u64,
) -> Option<String> {
    let count = owned.len() as u64 + 1;
    if let Some(limit) = settings.count_limit.filter(|l| count > *l) {
        return Some(count_exceeded(tenant, count, limit));
    }
    let total = owned.iter().filter_map(|i| i.size).sum::<u64>() + size;
    if let Some(limit) = settings.size_limit.filter(|l| total > *l) {
        return Some(size_exceeded(tenant, total, limit));
    }
    None
}

pub fn count_exceeded(tenant: &str, count: u64, limit: u64) -> String {
    format!(
        "Image count limit exceeded: {tenant} would own {count} images, the limit is {limit} \
         ([provider] image_count_total_limit)"
    )
}

pub fn size_exceeded(tenant: &str, total: u64, limit: u64) -> String {
    format!(
        "Image size limit would be exceeded: {tenant}'s images would total {total} bytes, the \
         limit is {limit} bytes ([provider] image_size_total_limit)"
    )
}

/// Streams `local` into the image record `id`, then checks what Glance stored. On failure the
/// image is deleted and the error says why.
pub async fn upload_and_verify(
    session: &Session,
    id: &str,
    local: &LocalImage,
    timeout: Duration,
    label: &str,
) -> Result<Image, Refused> {
    let progress = reporter(label, local.size);
    let sent = session
        .image()
        .upload_file(id, &local.path, local.size, timeout, &*progress)
        .await;
    let outcome = match sent {
        Err(UploadError::Read(cause)) => Err(Refused::Upload(cause)),
        Err(UploadError::Api(e)) => Err(Refused::Upload(e.to_string())),
        Ok(()) => match session.image().get_image(id).await {
            Ok(stored) => match differences(&stored, local) {
                None => Ok(stored),
                Some(what) => Err(Refused::Verification(what)),
            },
            Err(e) => Err(Refused::Api(e)),
        },
    };
    if outcome.is_err()
        && let Err(e) = session.image().delete_image(id).await
        && !e.is_not_found()
    {
        tracing::warn!("{label}: cannot delete the image {id} after a failed upload: {e}");
    }
    outcome
}

/// What differs between what Glance stored and the file sent, or None.
pub fn differences(stored: &Image, local: &LocalImage) -> Option<String> {
    let mut problems = Vec::new();
    if stored.status != "active" {
        problems.push(format!("status is {}, not active", stored.status));
    }
    if stored.size != Some(local.size) {
        problems.push(format!(
            "size is {}, the file has {} bytes",
            stored.size.map_or("unset".into(), |s| s.to_string()),
            local.size
        ));
    }
    match stored.os_hash_value.as_deref() {
        Some(hash) if hash.eq_ignore_ascii_case(&local.sha512) => {}
        other => problems.push(format!(
            "os_hash_value (sha512) is {}, the file's is {}…",
            other.map_or("unset".into(), |h| format!("{}…", h.get(..16).unwrap_or(h))),
            &local.sha512[..16.min(local.sha512.len())]
        )),
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// The create body of an image record.
pub fn record_body(
    name: &str,
    attrs: &crate::spec::Attrs,
    tags: &[String],
) -> serde_json::Map<String, Value> {
    let mut body = serde_json::Map::new();
    body.insert("name".into(), Value::from(name));
    for key in [
        "disk_format",
        "container_format",
        "visibility",
        "min_disk",
        "min_ram",
    ] {
        if let Some(value) = attrs.get(key).filter(|v| !v.is_null()) {
            body.insert(key.into(), value.clone());
        }
    }
    if !tags.is_empty() {
        body.insert("tags".into(), Value::from(tags.to_vec()));
    }
    body
}

type Report = Box<dyn Fn(u64, u64) + Send + Sync>;

/// How an upload's progress is shown: a bar with bytes, rate and ETA on a terminal, a plain
/// line at most every 10 seconds otherwise (logs, CI).
fn reporter(label: &str, size: u64) -> Report {
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(size);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(label.to_string());
        return Box::new(move |sent, _| {
            bar.set_position(sent);
            if sent >= size {
                bar.finish_and_clear();
            }
        });
    }
    let label = label.to_string();
    let started = Instant::now();
    // When the last line was printed, and whether the 100% line was.
    let last = std::sync::Mutex::new((None::<Instant>, false));
    Box::new(move |sent, total| {
        let mut last = last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let finished = sent >= total;
        let due = last.0.is_none_or(|at| at.elapsed() >= Duration::from_secs(10));
        if last.1 || !(due || finished) {
            return;
        }
        *last = (Some(Instant::now()), finished);
        let seconds = started.elapsed().as_secs_f64().max(0.001);
        let percent = (sent * 100).checked_div(total).unwrap_or(100);
        eprintln!(
            "{label}: uploaded {sent} of {total} bytes ({percent}%, {:.1} MiB/s)",
            sent as f64 / seconds / (1024.0 * 1024.0)
        );
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> LocalImage {
        LocalImage {
            path: "disk.raw".into(),
            size: 3,
            sha512: "ddaf35a193617aba".to_string() + &"0".repeat(112),
        }
    }

    #[test]
    fn verification_names_each_difference() {
        let stored = Image {
            status: "active".into(),
            size: Some(3),
            os_hash_value: Some(local().sha512),
            ..Image::default()
        };
        assert_eq!(differences(&stored, &local()), None);
        let flipped = Image {
            os_hash_value: Some("ab".repeat(64)),
            size: Some(4),
            status: "queued".into(),
            ..stored
        };
        assert_eq!(
            differences(&flipped, &local()).as_deref(),
            Some(
                "status is queued, not active; size is 4, the file has 3 bytes; os_hash_value \
                 (sha512) is abababababababab…, the file's is ddaf35a193617aba…"
            )
        );
    }

    #[test]
    fn limits_count_the_owned_images_and_their_bytes() {
        let settings = ImageProvider {
            count_limit: Some(2),
            size_limit: Some(100),
            ..ImageProvider::default()
        };
        let owned = |size| Image {
            size: Some(size),
            ..Image::default()
        };
        assert_eq!(over_limits(&settings, "tenant.demo", &[owned(50)], 50), None);
        assert_eq!(
            over_limits(&settings, "tenant.demo", &[owned(50)], 51).as_deref(),
            Some(
                "Image size limit would be exceeded: tenant.demo's images would total 101 \
                 bytes, the limit is 100 bytes ([provider] image_size_total_limit)"
            )
        );
        assert_eq!(
            over_limits(&settings, "tenant.demo", &[owned(1), owned(1)], 1).as_deref(),
            Some(
                "Image count limit exceeded: tenant.demo would own 3 images, the limit is 2 \
                 ([provider] image_count_total_limit)"
            )
        );
    }
}
