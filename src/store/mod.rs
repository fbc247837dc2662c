//! The sled store: resources (address → id, last observed), lineage, serial, audit log, lock.
