//! What a failed resource call means for whoever decides what to do next (the apply's caller,
//! the watch daemon's error policy): retry, back off, or give up, and which request to quote.
//! Reads the error only; knows nothing of retry loops or timers.

use std::time::Duration;

impl super::Error {
    /// The cloud's own error, when the failure came from a call.
    pub fn api(&self) -> Option<&crate::openstack::ApiError> {
        match self {
            super::Error::Api(e) => Some(e),
            _ => None,
        }
    }

    /// Worth trying again later, unchanged: the service was briefly unable, or the resource
    /// was still on its way to its ready status when the wait ran out.
    pub fn is_retryable(&self) -> bool {
        match self {
            super::Error::Api(e) => e.is_retryable(),
            super::Error::Timeout { .. } => true,
            super::Error::MissingDependency(_)
            | super::Error::Failed { .. }
            | super::Error::BadAttr { .. } => false,
        }
    }

    /// The call may have been carried out though no answer said so.
    pub fn is_unknown_outcome(&self) -> bool {
        self.api()
            .is_some_and(crate::openstack::ApiError::is_unknown_outcome)
    }

    /// The delay the service asked for (Retry-After).
    pub fn retry_after(&self) -> Option<Duration> {
        self.api().and_then(crate::openstack::ApiError::retry_after)
    }

    /// The service's request id (`x-openstack-request-id`), for the operator to quote.
    pub fn request_id(&self) -> Option<&str> {
        self.api().and_then(crate::openstack::ApiError::request_id)
    }
}
