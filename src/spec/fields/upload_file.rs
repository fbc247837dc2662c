//! A file uploaded as a resource's data (an image's disk): named relative to the spec's
//! folder, identified by its content's SHA-512 (read once per version of the file: the hash
//! is cached by path, size and modification time).

use serde_json::json;

use super::Builder;

impl Builder<'_, '_, '_> {
    pub(super) fn upload_file(&mut self, key: &str, size_attr: &str) {
        if self.t.get(key).is_none() {
            self.t.missing(key, "\"images/disk.qcow2\"", self.diags);
            return;
        }
        let Some(path) = self.t.string(key, self.diags) else {
            return;
        };
        if path.get_ref().is_empty() {
            return self.error(
                format!("`{key}` must not be empty"),
                path.span(),
                "name the file to upload, relative to the folder of this spec file",
            );
        }
        let full = self.beside(path.get_ref());
        match crate::resources::image_file::identify(&full) {
            Ok(local) => {
                self.set(key, json!(local.content_id()), Some(path.span()));
                self.set(size_attr, json!(local.size), None);
            }
            Err(e) => self.error(
                format!("cannot read `{key}` {}: {e}", full.display()),
                path.span(),
                format!("`{key}` is relative to the folder of this spec file"),
            ),
        }
    }
}
