//! The OpenStack client: Keystone v3 auth and catalog, one sub-module per service, typed errors.
