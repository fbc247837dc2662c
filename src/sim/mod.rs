//! The embedded OpenStack-compatible cloud: Keystone v3, Nova v2.1, Neutron v2.0, Glance v2,
//! served over HTTP on one loopback port, persisted under a data folder.
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
//!
//!   /_sim/faults   test hook (admin token): `{"lose_reply": {"method", "path_suffix", "count"}}`
//!                  processes the next matching request then answers 502 with no body;
//!                  `{"fail": {..., "status"}}` rejects without processing; `{"fail_build":
//!                  {"count"}}` makes the next server builds end in ERROR; DELETE clears all.
//!
//! State lives in `<data_dir>/cloud.json`, rewritten atomically after every non-GET request,
//! and an OS lock on `<data_dir>/cloud.lock` keeps a second process from opening it: the holder
//! writes its URL into that file, so a second process (a `plan` during an `apply`) joins the
//! cloud being served instead ([`served_url`]). Slow transitions
//! (server build, stop, start, reboot) are stored as "done at" timestamps, so they complete on
//! time across restarts.
//!
//! Ownership of files: `core` (state, persistence, auth of callers, faults, request ids,
//! server start/stop), one folder per service in the same shape (`identity/`, `compute/`,
//! `image/`, `network/`: `model` data, `ops` rules without HTTP, `api` handlers, `render` wire
//! format, `query` list filters, and tests of the data layer), and `wire/` for the wire
//! helpers they share (JSON replies, tags, paging links, version documents).

mod compute;
mod core;
mod identity;
mod image;
mod md5;
mod network;
mod wire;

pub use core::{
    ADMIN_PASSWORD, ADMIN_PROJECT, ADMIN_USER, Chaos, Sim, SimConfig, SimError, SimHandle,
    served_url,
};
