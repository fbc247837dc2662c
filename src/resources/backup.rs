//! `[backup.NAME]`: see `volume_copy`, which snapshots and backups share.

pub use super::volume_copy::Backup;
