//! Integration tests: one binary (each test binary costs a link on two cores).
mod support;

mod openstack_cli;
