//! stackform: a declarative reconciler for OpenStack.
//!
//! Layout (see ARCHITECTURE.md for the flow):
//! - [`addr`]: typed addresses `kind.name`.
//! - [`diag`]: diagnostics located in spec files.
//! - [`spec`]: TOML spec folder → typed, validated [`spec::Desired`].
//! - [`graph`]: dependency DAG (petgraph), creation and deletion order.
//! - [`plan`]: pure `diff(desired, observed, graph) → Plan`.
//! - [`render`]: plans and progress for people (text) and machines (JSON).
//! - [`resources`]: the kind registry, and one module per kind declaring its schema
//!   (attributes, API collection, statuses, plan rules) and its list, create, update, delete.
//! - [`openstack`]: the HTTP client: Keystone auth and catalog, services, errors, waits.
//! - [`store`]: the [`store::StateStore`] trait (atomic step, lock naming its holder, serial,
//!   lineage, history) with its conformance suite; sled ([`store::SledStore`]) is the default
//!   backend.
//! - [`apply`]: executing a plan in parallel, in dependency order, committing every step;
//!   failures stay typed ([`apply::StepError`]).
//! - [`ops`]: the workflows behind the commands: validate → lock → refresh → check → diff →
//!   apply; prints nothing.
//! - [`watch`]: the daemon (`stackform watch`): spec watcher, pull timers, backoff, status
//!   endpoints, on the `ops` core.
//! - [`sim`]: the embedded OpenStack-compatible cloud; shares no types with the client.
//! - [`cli`]: the commands: options in, an `ops` call, output out.
//!
//! Adding a resource kind = its `resources/` module + one line of the kind registry + its
//! service in `sim/` + its tests; nothing else names a kind.
pub mod addr;
pub mod apply;
pub mod cli;
pub mod diag;
pub mod fast_hash;
pub mod graph;
pub mod openstack;
pub mod ops;
pub mod plan;
pub mod render;
pub mod resources;
pub mod sim;
pub mod spec;
pub mod store;
pub mod watch;
