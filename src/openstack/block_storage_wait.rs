//! Waiting for Cinder's work (a volume creating, a snapshot or a backup being made, an attach,
//! a delete) with polls shared per collection and project: every waiter for the volumes of one
//! project reads the same list of them ([`super::shared_poll`]), so ten volumes made side by
//! side cost one list per poll, not ten GETs. Cinder has no tags to list one lineage's objects
//! across projects by (backups cannot be filtered by metadata), hence one list per project.

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::ApiError;
use super::block_storage::{Backup, BlockStorage, Collection, Snapshot, Volume};
use super::shared_poll::{self, SharedList};
use super::wait::{self, Poll, WaitError};

/// A Cinder object a wait polls: its id and status.
pub trait Polled: DeserializeOwned + Clone + Send + Sync + 'static {
    fn polled_id(&self) -> &str;
    fn polled_status(&self) -> &str;
}

macro_rules! polled {
    ($($ty:ty),*) => {$(
        impl Polled for $ty {
            fn polled_id(&self) -> &str {
                &self.id
            }
            fn polled_status(&self) -> &str {
                &self.status
            }
        }
    )*};
}
polled!(Volume, Snapshot, Backup);

impl BlockStorage<'_> {
    fn shared<T: Polled>(self, c: Collection, project: &str) -> Arc<SharedList<T>> {
        self.0
            .polls()
            .slot(&format!("{} project={project}", c.path))
    }

    /// The object `id` of `c` in `project`, from the list of the project's objects that the
    /// polls of the same moment share (of the session's own project: its plain list; of
    /// another: the admin's `all_tenants=1&project_id=`); None when a list made after this
    /// call does not show it.
    async fn listed<T: Polled>(
        self,
        c: Collection,
        project: &str,
        id: &str,
    ) -> Result<Option<T>, ApiError> {
        let query = if self.0.project_id() == project {
            Vec::new()
        } else {
            vec![
                ("all_tenants".to_string(), "1".to_string()),
                ("project_id".to_string(), project.to_string()),
            ]
        };
        self.shared::<T>(c, project)
            .find(id, || async {
                let items: Vec<T> = self.list(c, &query).await?;
                Ok(items
                    .into_iter()
                    .map(|item| (item.polled_id().to_string(), item))
                    .collect())
            })
            .await
    }

    /// Polls `id` of `c` in `project` until `verdict` says Ready or Failed, or `timeout`
    /// passes. An object the shared list does not show is read by GET, whose 404 says it is
    /// gone.
    pub async fn wait_polled<T, R>(
        self,
        c: Collection,
        project: &str,
        id: &str,
        timeout: Duration,
        verdict: impl Fn(T) -> Poll<R>,
    ) -> Result<R, WaitError>
    where
        T: Polled,
    {
        let pace = shared_poll::pace(Some(self.shared::<T>(c, project)));
        wait::wait_paced(timeout, pace, || async {
            let item = match self.listed::<T>(c, project, id).await? {
                Some(item) => item,
                None => self.get(c, id).await?,
            };
            Ok(verdict(item))
        })
        .await
    }

    /// Polls until `id` of `c` in `project` is gone: a list made after the poll does not show
    /// it. No status ends the wait early (an object in `error_deleting` may still go).
    pub async fn wait_gone_polled<T: Polled>(
        self,
        c: Collection,
        project: &str,
        id: &str,
        timeout: Duration,
    ) -> Result<(), WaitError> {
        let pace = shared_poll::pace(Some(self.shared::<T>(c, project)));
        wait::wait_paced(timeout, pace, || async {
            Ok(match self.listed::<T>(c, project, id).await? {
                None => Poll::Ready(()),
                Some(item) => Poll::Pending(item.polled_status().to_string()),
            })
        })
        .await
    }
}
