//! `[provider]` settings of images: who may publish, the limits per tenant, the upload
//! timeout.

use super::Provider;
use super::load::parse_timeout;
use super::reader::Table;
use crate::diag::{Diagnostic, Diagnostics};

/// `allow_public_images`, `image_count_total_limit`, `image_size_total_limit` (bytes) and
/// `image_upload_timeout`.
pub(super) fn read(t: &Table<'_, '_>, provider: &mut Provider, diags: &mut Diagnostics) {
    let images = &mut provider.images;
    if let Some(allow) = t.bool("allow_public_images", diags) {
        images.allow_public = *allow.get_ref();
    }
    for (key, limit, unit) in [
        ("image_count_total_limit", &mut images.count_limit, "images"),
        ("image_size_total_limit", &mut images.size_limit, "bytes"),
    ] {
        if let Some(n) = t.integer(key, diags) {
            match u64::try_from(*n.get_ref()) {
                Ok(value) => *limit = Some(value),
                Err(_) => diags.push(
                    Diagnostic::error(format!(
                        "`{key}` must be zero or more, found {}",
                        n.get_ref()
                    ))
                    .at(t.span(n.span()))
                    .help(format!(
                        "the number of {unit} one tenant may hold; remove it for no limit"
                    )),
                ),
            }
        }
    }
    if let Some((_, item)) = t.get("image_upload_timeout") {
        match parse_timeout(item) {
            Ok(secs) => images.upload_timeout_secs = secs,
            Err(found) => diags.push(
                Diagnostic::error(format!("invalid image_upload_timeout {found}"))
                    .at(t.span(item.span()))
                    .help("write a duration such as \"90s\", \"30m\" or \"2h\" (seconds if no unit), more than zero"),
            ),
        }
    }
}
