//! `openstack image create --file` (Glance's create, then the data streamed to PUT /file),
//! `image show`, `image save` (GET /file: the bytes come back equal, and the SDK checks them
//! against Content-MD5) and `image delete`.

use sha2::Digest;

use super::Osc;

pub(super) fn images(osc: &Osc) {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("no temp dir: {err}"));
    // A qcow2 header (Glance inspects the data: it must be the declared format) and a body
    // that is not a whole number of any read or write piece.
    let mut data: Vec<u8> = (0..3_000_003u32).map(|i| (i * 13 % 251) as u8).collect();
    data[..4].copy_from_slice(b"QFI\xfb");
    data[4..8].copy_from_slice(&3u32.to_be_bytes());
    data[8..24].fill(0);
    data[24..32].copy_from_slice(&(1u64 << 30).to_be_bytes());
    let file = dir.path().join("osc-image.qcow2");
    std::fs::write(&file, &data).unwrap_or_else(|err| panic!("{}: {err}", file.display()));
    let file = file.to_string_lossy().into_owned();

    osc.json(&[
        "image",
        "create",
        "--file",
        &file,
        "--disk-format",
        "qcow2",
        "--container-format",
        "bare",
        "osc-image",
    ]);
    let shown = osc.json(&["image", "show", "osc-image"]);
    assert_eq!(shown["status"], "active", "{shown}");
    assert_eq!(shown["size"], data.len(), "{shown}");
    assert_eq!(shown["virtual_size"], 1u64 << 30, "{shown}");
    assert_eq!(shown["disk_format"], "qcow2", "{shown}");
    let md5: String = <md5::Md5 as md5::Digest>::digest(&data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(shown["checksum"], md5, "{shown}");
    let sha512: String = sha2::Sha512::digest(&data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let shown_text = shown.to_string();
    assert!(shown_text.contains(&sha512), "no os_hash_value: {shown}");

    let saved = dir.path().join("saved.qcow2");
    osc.ok(&[
        "image",
        "save",
        "--file",
        &saved.to_string_lossy(),
        "osc-image",
    ]);
    let back = std::fs::read(&saved).unwrap_or_else(|err| panic!("{}: {err}", saved.display()));
    assert!(back == data, "image save returned other bytes");

    osc.ok(&["image", "delete", "osc-image"]);
    assert_eq!(osc.names(&["image", "list"]), ["cirros"]);
}
