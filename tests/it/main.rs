//! The one integration test binary: each module is a group of tests.

mod client_session;
mod plan_render;
mod spec_load;
