//! The embedded OpenStack-compatible cloud: Keystone v3, Nova v2.1, Neutron v2.0, Glance v2,
//! Cinder v3, served over HTTP on one loopback port, persisted under a data folder.
//!
//! It is a second, independent implementation of the OpenStack wire format: it shares **no
//! types** with `crate::openstack` (or any other module), so the client and the cloud cannot
//! agree by construction. Standard clients (`openstack` CLI) must work against it.
//!
//! Layout on the one port (as devstack does it):
//!   /identity      version document,   /identity/v3/...   Keystone
//!   /compute       version document,   /compute/v2.1/...  Nova
//!   /networking    version document,   /networking/v2.0/... Neutron
//!   /image         version document,   /image/v2/...      Glance
//!   /volume        version document,   /volume/v3/{project_id}/... Cinder (catalog types
//!                  `block-storage` and `volumev3`, the token's project filled in; 3.0 to
//!                  3.71 with `OpenStack-API-Version: volume 3.x`)
//!
//!   /_sim/faults   test hook (admin token): `{"lose_reply": {"method", "path_suffix", "count"}}`
//!                  processes the next matching request then answers 502 with no body;
//!                  `{"fail": {..., "status"}}` rejects without processing; `{"fail_build":
//!                  {"count"}}` makes the next server builds end in ERROR; `{"corrupt_upload":
//!                  {"count"}}` stores the next image uploads with one byte flipped (their
//!                  checksums those of the stored data); DELETE clears all.
//!   /_sim/requests test hook (admin token): GET answers `{"requests": [{"method", "path",
//!                  "status"}], "total": N, "by_method": {"GET": n, ...}}`: the latest
//!                  requests (at most `SimConfig::request_log_limit`, 10,000 by default,
//!                  `stackform sim --request-log-limit N`) and totals that are never capped,
//!                  so a benchmark can count any number of calls; DELETE clears both.
//!
//! Cost: every record lives in an indexed table (by id, by project, and by parent: a
//! network's subnets and ports, a group's rules, a volume's snapshots and backups, a
//! server's volume attachments), so a list costs what it returns and a token
//! check is one lookup, whatever the size of the cloud.
//!
//! Image data lives in `<data_dir>/files/images/<id>` (a temporary folder for an in-memory
//! cloud), streamed in and out, never held whole in memory.
//!
//! State lives in `<data_dir>/cloud.json` (a snapshot) plus `<data_dir>/cloud.journal`: each
//! write appends the rows it changed before it is answered, and the journal is folded into
//! the snapshot in the background once it outgrows it (`core/journal.rs` says exactly what
//! survives a kill -9, nothing acknowledged is lost, and a power loss, about the last second).
//! An OS lock on `<data_dir>/cloud.lock` keeps a second process from opening it: the holder
//! writes its URL into that file, so a second process (a `plan` during an `apply`) joins the
//! cloud being served instead ([`served_url`]). Slow transitions
//! (server build, stop, start, reboot; a volume's creating, extending, backing-up,
//! restoring-backup and deleting, a snapshot's or a backup's creating and deleting, Nova's
//! volume attach and detach, `SimConfig::volume_delay`) are stored
//! as "done at" timestamps, so they complete on time across restarts.
//!
//! Ownership of files: `core` (state, persistence, auth of callers, faults, request ids,
//! server start/stop), one folder per service in the same shape (`identity/`, `compute/`,
//! `image/`, `network/`, `block_storage/`: `model` data, `ops` rules without HTTP, `api`
//! handlers, `render` wire format, `query` list filters, and tests of the data layer), and
//! `wire/` for the wire helpers they share (JSON replies, tags, paging links, version
//! documents).

mod block_storage;
mod compute;
mod core;
mod identity;
mod image;
mod network;
mod wire;

pub use core::{
    ADMIN_PASSWORD, ADMIN_PROJECT, ADMIN_USER, Chaos, DEFAULT_IMAGE_SIZE_CAP,
    DEFAULT_REQUEST_LOG_LIMIT, Sim, SimConfig, SimError, SimHandle, served_url,
};
