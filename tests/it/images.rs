//! The `image` kind and `stackform image upload`, on both targets: the embedded cloud (a
//! `stackform sim` process) and the real Glance of `REAL_OS_OPENRC` (the `real_*` tests).
//! What Glance holds is asserted through its API: status, size, SHA-512, tags; instances boot
//! from an image of the spec by its address name.

use std::io::Write;

use serde_json::{Value, json};

use crate::scenario::{Scenario, Setup, Target};

struct Cloud(Scenario);

impl std::ops::Deref for Cloud {
    type Target = Scenario;
    fn deref(&self) -> &Scenario {
        &self.0
    }
}

impl std::ops::DerefMut for Cloud {
    fn deref_mut(&mut self) -> &mut Scenario {
        &mut self.0
    }
}

/// A file of `size` bytes of varied content (a repeated pattern would hide a flipped byte as
/// well as any other), derived from `seed`.
fn write_image(path: &std::path::Path, size: usize, seed: u64) -> String {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut data = Vec::with_capacity(size);
    while data.len() < size {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        data.extend_from_slice(&state.to_le_bytes());
    }
    data.truncate(size);
    let mut file = std::fs::File::create(path).unwrap();
    file.write_all(&data).unwrap();
    let digest = ring::digest::digest(&ring::digest::SHA512, &data);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

impl Cloud {
    async fn start(target: Target) -> Option<Cloud> {
        Scenario::start(target, Setup::new("images", "sf-img"))
            .await
            .map(Cloud)
    }

    fn image_path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join("images").join(name)
    }

    /// The tenant (and `provider` lines), then `body`.
    fn spec(&self, provider: &str, body: &str) {
        let head = format!(
            "[provider]\ncloud = \"env\"\ntimeout = \"{}\"\n{provider}\n[tenant.t]\nname = \"{}\"\n",
            self.timeout, self.tenant
        );
        self.write(&[("all.toml", &format!("{head}\n{body}"))]);
    }

    fn image(name: &str, file: &str, extra: &str) -> String {
        format!(
            "\n[image.{name}]\ntenant = \"t\"\nfile = \"../images/{file}\"\ndisk_format = \"raw\"\n{extra}"
        )
    }

    fn network_and_instance(&self, image: &str) -> String {
        format!(
            "\n[network.net]\ntenant = \"t\"\n\n[subnet.sub]\nnetwork = \"net\"\ncidr = \"10.62.0.0/24\"\n\n\
             [instance.vm]\ntenant = \"t\"\nflavor = \"{}\"\nimage = \"{image}\"\nsubnet = \"sub\"\n",
            self.flavor
        )
    }

    /// The tenant's images, as the admin lists them.
    async fn images(&self, project: &str) -> Vec<Value> {
        self.api
            .list("image", &format!("/images?owner={project}"), "images")
            .await
            .into_iter()
            .filter(|i| i["owner"] == project)
            .collect()
    }

    async fn only_image(&self, project: &str) -> Value {
        let images = self.images(project).await;
        assert_eq!(images.len(), 1, "{images:?}");
        images.into_iter().next().unwrap_or(Value::Null)
    }

    /// An image record with no data, made by the admin in `project` (an interrupted upload,
    /// or an image some other tool made).
    async fn queued_image(&self, project: &str, name: &str, tags: Value) -> Value {
        self.api
            .send(
                reqwest::Method::POST,
                "image",
                "/images",
                json!({"name": name, "disk_format": "raw", "container_format": "bare",
                       "visibility": "private", "owner": project, "tags": tags}),
                &[201],
            )
            .await
    }
}

async fn lifecycle(target: Target) {
    let Some(mut cloud) = Cloud::start(target).await else {
        return;
    };
    let sha512 = write_image(&cloud.image_path("disk.raw"), 3 * 1024 * 1024 + 17, 1);

    // Refused before any call: a kernel format in a bare container, a missing file.
    cloud.spec(
        "",
        &Cloud::image("custom", "disk.raw", "container_format = \"bare\"\n")
            .replace("\"raw\"", "\"aki\""),
    );
    let (code, out, err) = cloud.run(&["validate"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains(
            "image.custom: disk_format `aki` and container_format `bare` do not go together"
        ),
        "{err}"
    );
    let at = cloud.position_in("all.toml", "container_format = \"bare\"");
    assert!(err.contains(&at), "located at {at}:\n{err}");
    cloud.spec("", &Cloud::image("custom", "missing.raw", ""));
    let (code, _, err) = cloud.run(&["validate"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot read `file`"), "{err}");
    assert!(err.contains("missing.raw"), "{err}");
    let at = cloud.position_in("all.toml", "file = ");
    assert!(err.contains(&at), "located at {at}:\n{err}");

    // Limits and the permission to publish refuse in plan: nothing is made.
    cloud.spec(
        "image_count_total_limit = 1\n",
        &format!(
            "{}{}",
            Cloud::image("custom", "disk.raw", ""),
            Cloud::image("second", "disk.raw", "")
        ),
    );
    let (code, out, err) = cloud.run(&["plan"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("Image count limit exceeded: tenant.t would own 2 images, the limit is 1"),
        "{err}"
    );
    cloud.spec(
        "image_size_total_limit = 1000000\n",
        &Cloud::image("custom", "disk.raw", ""),
    );
    let (code, out, err) = cloud.run(&["plan"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains(
            "Image size limit would be exceeded: tenant.t's images would total 3145745 bytes, the limit is 1000000 bytes"
        ),
        "{err}"
    );
    cloud.spec(
        "",
        &Cloud::image("custom", "disk.raw", "visibility = \"public\"\n"),
    );
    let (code, _, err) = cloud.run(&["plan"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("only the service provider may publish one"),
        "{err}"
    );

    // Uploaded, verified, tagged, and an instance boots from it by its address name.
    cloud.spec(
        "",
        &format!(
            "{}{}",
            Cloud::image("custom", "disk.raw", "min_disk = 1\n"),
            cloud.network_and_instance("custom")
        ),
    );
    cloud.apply();
    let project = cloud.project_id().await;
    let image = cloud.only_image(&project).await;
    assert_eq!(image["name"], "custom");
    assert_eq!(image["status"], "active");
    assert_eq!(image["size"], 3 * 1024 * 1024 + 17);
    assert_eq!(image["os_hash_algo"], "sha512");
    assert_eq!(image["os_hash_value"], sha512.as_str());
    assert_eq!(image["disk_format"], "raw");
    assert_eq!(image["container_format"], "bare");
    assert_eq!(image["visibility"], "private");
    assert_eq!(image["min_disk"], 1);
    let tags: Vec<&str> = image["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(tags.contains(&"stackform:image.custom"), "{tags:?}");
    let lineage = tags
        .iter()
        .find(|t| t.starts_with("stackform-lineage:"))
        .map(|t| t.to_string())
        .expect("the lineage tag");
    let server = cloud.server(&project, "vm").await;
    assert_eq!(
        server["image"]["id"], image["id"],
        "booted from the custom image"
    );
    cloud.assert_converged("after the first apply");

    // In place: Glance changes minimums and visibility with a JSON patch. (Real Nova refuses
    // to boot an image whose min_disk is over the flavor's disk: the minimum stays 1 GB.)
    cloud.spec(
        "",
        &format!(
            "{}{}",
            Cloud::image(
                "custom",
                "disk.raw",
                "min_disk = 1\nmin_ram = 128\nvisibility = \"shared\"\n"
            ),
            cloud.network_and_instance("custom")
        ),
    );
    cloud.apply();
    let patched = cloud.only_image(&project).await;
    assert_eq!(patched["id"], image["id"]);
    assert_eq!(
        (patched["min_ram"].as_i64(), patched["visibility"].as_str()),
        (Some(128), Some("shared"))
    );

    // A changed file replaces the image, and the instance booted from it; the plan says why
    // with both hashes' prefixes.
    let new_sha = write_image(&cloud.image_path("disk.raw"), 2 * 1024 * 1024, 2);
    let (code, out, err) = cloud.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        out.contains("# image.custom must be replaced (file forces replacement)"),
        "{out}"
    );
    assert!(
        out.contains(&format!("sha512:{}", &sha512[..16])),
        "old hash:\n{out}"
    );
    assert!(
        out.contains(&format!("sha512:{}", &new_sha[..16])),
        "new hash:\n{out}"
    );
    assert!(
        out.contains("# instance.vm must be replaced (image.custom is replaced)"),
        "{out}"
    );
    cloud.apply();
    let replaced = cloud.only_image(&project).await;
    assert_ne!(replaced["id"], image["id"]);
    assert_eq!(replaced["os_hash_value"], new_sha.as_str());
    assert_eq!(replaced["size"], 2 * 1024 * 1024);
    let server = cloud.server(&project, "vm").await;
    assert_eq!(server["image"]["id"], replaced["id"]);
    cloud.assert_converged("after the replacement");

    // Deleted out of band: made again.
    let path = format!("/images/{}", replaced["id"].as_str().unwrap());
    cloud
        .api
        .request(reqwest::Method::DELETE, "image", &path, None)
        .await;
    cloud.spec(
        "",
        &Cloud::image(
            "custom",
            "disk.raw",
            "min_disk = 1\nmin_ram = 128\nvisibility = \"shared\"\n",
        ),
    );
    let (code, out, err) = cloud.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("image.custom"), "{out}");
    cloud.apply();
    let remade = cloud.only_image(&project).await;
    assert_eq!(remade["status"], "active");
    assert_eq!(remade["os_hash_value"], new_sha.as_str());

    // An interrupted upload of another address (a queued record carrying our tags) is found
    // by its tags and made again; an image the spec does not know counts against the limit
    // at apply time, before anything is created.
    let half = cloud
        .queued_image(&project, "half", json!([lineage, "stackform:image.half"]))
        .await;
    let body = format!(
        "{}{}",
        Cloud::image(
            "custom",
            "disk.raw",
            "min_disk = 1\nmin_ram = 128\nvisibility = \"shared\"\n"
        ),
        Cloud::image("half", "disk.raw", "")
    );
    cloud.spec("", &body);
    let (code, out, err) = cloud.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("image.half must be replaced"), "{out}");
    assert!(out.contains("queued"), "{out}");
    cloud.apply();
    let images = cloud.images(&project).await;
    assert_eq!(images.len(), 2, "{images:?}");
    assert!(
        images
            .iter()
            .all(|i| i["id"] != half["id"] && i["status"] == "active"),
        "{images:?}"
    );

    let other = cloud.queued_image(&project, "other-tool", json!([])).await;
    cloud.spec(
        "image_count_total_limit = 3\n",
        &format!("{body}{}", Cloud::image("third", "disk.raw", "")),
    );
    let (code, out, err) = cloud.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        format!("{out}{err}")
            .contains("Image count limit exceeded: tenant.t would own 4 images, the limit is 3"),
        "{out}\n{err}"
    );
    assert_eq!(cloud.images(&project).await.len(), 3, "nothing made");
    let path = format!("/images/{}", other["id"].as_str().unwrap());
    cloud
        .api
        .request(reqwest::Method::DELETE, "image", &path, None)
        .await;

    cloud.destroy();
    assert_eq!(cloud.images(&project).await, Vec::<Value>::new());
}

impl Cloud {
    async fn server(&self, project: &str, name: &str) -> Value {
        let found: Vec<Value> = self
            .api
            .list(
                "compute",
                &format!("/servers/detail?all_tenants=1&project_id={project}&name=^{name}$"),
                "servers",
            )
            .await;
        assert_eq!(found.len(), 1, "one server {name}: {found:?}");
        found.into_iter().next().unwrap_or(Value::Null)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_is_uploaded_verified_limited_replaced_and_booted() {
    lifecycle(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_an_image_is_uploaded_verified_limited_replaced_and_booted() {
    lifecycle(Target::Real).await;
}

/// `stackform image upload`: a file no spec names, into a tenant of the state; prints the id
/// and status, and later plans leave it alone (it carries no ownership tag).
async fn one_off(target: Target) {
    let Some(cloud) = Cloud::start(target).await else {
        return;
    };
    let sha512 = write_image(&cloud.image_path("tool.raw"), 1024 * 1024 + 5, 3);
    cloud.spec("", "");
    cloud.apply();
    let file = cloud.image_path("tool.raw");
    let (code, out, err) = cloud.run(&[
        "image",
        "upload",
        file.to_str().unwrap(),
        "--tenant",
        "t",
        "--name",
        "tool",
        "--disk-format",
        "raw",
        "--min-ram",
        "64",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let project = cloud.project_id().await;
    let image = cloud.only_image(&project).await;
    assert_eq!(
        out.trim(),
        format!(
            "image tool uploaded and verified: id {} status active size 1048581",
            image["id"].as_str().unwrap()
        )
    );
    assert!(
        err.contains("tool: uploaded 1048581 of 1048581 bytes (100%"),
        "plain progress lines off a terminal:\n{err}"
    );
    assert_eq!(image["os_hash_value"], sha512.as_str());
    assert_eq!(image["min_ram"], 64);
    assert_eq!(image["tags"], json!([]));
    cloud.assert_converged("with the one-off image");

    let (code, _, err) = cloud.run(&[
        "image",
        "upload",
        file.to_str().unwrap(),
        "--tenant",
        "nope",
        "--name",
        "x",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("`nope` is not a tenant of the state"), "{err}");
    let path = format!("/images/{}", image["id"].as_str().unwrap());
    cloud
        .api
        .request(reqwest::Method::DELETE, "image", &path, None)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_off_image_is_uploaded_and_verified() {
    one_off(Target::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_a_one_off_image_is_uploaded_and_verified() {
    one_off(Target::Real).await;
}

/// A transfer that arrives with one byte flipped (the embedded Glance's `corrupt_upload`
/// fault) is detected by its SHA-512, reported, and the image deleted: nothing half made
/// stays. The next apply uploads it intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_upload_is_detected_reported_and_cleaned() {
    let Some(cloud) = Cloud::start(Target::Embedded).await else {
        return;
    };
    let sha512 = write_image(&cloud.image_path("disk.raw"), 512 * 1024 + 3, 4);
    cloud.spec("", &Cloud::image("custom", "disk.raw", ""));
    let (status, body) = cloud
        .api
        .request(
            reqwest::Method::POST,
            "identity",
            "/../../_sim/faults",
            Some(json!({"corrupt_upload": {"count": 1}})),
        )
        .await;
    assert!(status < 300, "fault injection: {status} {body}");
    let (code, out, err) = cloud.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{out}\n{err}");
    let said = format!("{out}{err}");
    assert!(
        said.contains("image.custom: Verification failed: os_hash_value (sha512) is ")
            && said.contains(&format!("the file's is {}…", &sha512[..16])),
        "{said}"
    );
    let project = cloud.project_id().await;
    assert_eq!(cloud.images(&project).await, Vec::<Value>::new(), "deleted");
    cloud.apply();
    let image = cloud.only_image(&project).await;
    assert_eq!(image["os_hash_value"], sha512.as_str());
}
