//! Every way a request can fail in the gateway, and the one place that turns
//! each into an HTTP status and a SCIM Error body.

use http::StatusCode;
use scim_core::error::{ScimError, ScimType, error_body};
use scim_plugin_host::Outcome;
use serde_json::Value;

/// A request the gateway answers itself with a SCIM Error.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GatewayError {
    #[error("no route serves this path")]
    NoRoute,
    #[error("a valid bearer token is required")]
    Unauthorized,
    #[error("{0}")]
    BadPath(String),
    /// The backend does not take this kind of request at all.
    #[error("{0}")]
    NotImplemented(&'static str),
    #[error("method {method} is not supported on this endpoint (it takes {allow})")]
    MethodNotAllowed { method: String, allow: &'static str },
    #[error("the request body is larger than {0} bytes")]
    BodyTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the request body is not valid JSON: {0}")]
    BadJson(String),
    #[error("the request body nests deeper than {0} levels")]
    TooDeep(usize),
    /// The IdP's request could not be normalized or mapped.
    #[error("{0}")]
    Scim(ScimError),
    #[error("the gateway is at its limit of concurrent requests; retry later")]
    Overloaded,
    #[error("the upstream could not be reached: {0}")]
    UpstreamUnavailable(String),
    #[error("the upstream did not answer in time; the outcome of the request is unknown")]
    UpstreamTimeout,
    #[error("the request did not finish in time; its outcome is unknown")]
    RequestTimeout,
    #[error("the upstream answer could not be used: {0}")]
    BadUpstreamReply(String),
    #[error("the resource changed during the update {0} times in a row; retry")]
    Conflict(u32),
    #[error("the resource's version does not match If-Match")]
    PreconditionFailed,
    #[error("the gateway is shutting down")]
    ShuttingDown,
    /// The audit trail had no room for the write's record in time
    /// (`on_failure = "block"`); nothing was forwarded.
    #[error("the audit trail cannot record this write right now; nothing was sent to the backend; retry later")]
    AuditUnavailable,
    /// One writer per resource could not be guaranteed (the cluster state
    /// is down, or another replica's write held the resource too long);
    /// nothing was forwarded.
    #[error("{0}; nothing was sent to the backend; retry later")]
    WriteUnguarded(String),
    /// The route's upstream rate limit has no room; nothing was forwarded.
    #[error("too many requests for the backend right now; retry after {} s", retry_after_secs(*.0))]
    RateLimited(std::time::Duration),
    /// A plugin refused the resource; its status, scimType and detail go
    /// to the IdP.
    #[error("plugin {plugin} refused the resource: {detail}")]
    PluginRejected { plugin: String, status: u16, scim_type: Option<ScimType>, detail: String },
    /// A group write sent in member batches stopped at a batch the backend
    /// refused or did not answer; the ones before it were applied.
    #[error(
        "{detail} ({applied} of {total} member changes were applied before this batch failed; nothing was retried)"
    )]
    BatchFailed { status: u16, scim_type: Option<ScimType>, applied: usize, total: usize, detail: String },
    /// A plugin failed (trap, fuel, time, memory, bad output, open circuit).
    #[error("plugin {plugin} failed ({}): {detail}", .outcome.label())]
    PluginFailed { plugin: String, outcome: Outcome, detail: String },
}

/// Who is at fault for an error: what an SRE reads first in the log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The IdP sent something the gateway or the backend cannot take.
    Client,
    /// The backend failed, was unreachable, slow or busy.
    Upstream,
    /// The gateway itself (a plugin, its limits, its shutdown).
    Gateway,
    /// No error.
    None,
}

impl Fault {
    /// A stable label for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Upstream => "upstream",
            Self::Gateway => "gateway",
            Self::None => "-",
        }
    }
}

impl GatewayError {
    /// The status to answer with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NoRoute => StatusCode::NOT_FOUND,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::BadPath(_) | Self::BadJson(_) | Self::TooDeep(_) => StatusCode::BAD_REQUEST,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            Self::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Scim(e) => StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
            Self::Overloaded | Self::ShuttingDown | Self::AuditUnavailable | Self::WriteUnguarded(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::UpstreamUnavailable(_) | Self::BadUpstreamReply(_) => StatusCode::BAD_GATEWAY,
            Self::UpstreamTimeout | Self::RequestTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Conflict(_) | Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::PluginRejected { status, .. } => StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST),
            Self::BatchFailed { status, .. } => StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY),
            Self::PluginFailed { outcome: Outcome::CircuitOpen, .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::PluginFailed { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The RFC 7644 `scimType`, for the 400s it defines.
    pub fn scim_type(&self) -> Option<ScimType> {
        match self {
            Self::BadPath(_) => Some(ScimType::InvalidPath),
            Self::BadJson(_) | Self::TooDeep(_) => Some(ScimType::InvalidSyntax),
            Self::Scim(e) => Some(e.scim_type),
            Self::PluginRejected { scim_type, .. } | Self::BatchFailed { scim_type, .. } => *scim_type,
            _ => None,
        }
    }

    /// A bounded label for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NoRoute => "no_route",
            Self::Unauthorized => "unauthorized",
            Self::BadPath(_) => "bad_path",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::NotImplemented(_) => "not_implemented",
            Self::BodyTooLarge(_) => "body_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::BadJson(_) | Self::TooDeep(_) => "bad_json",
            Self::Scim(_) => "invalid_request",
            Self::Overloaded => "overloaded",
            Self::UpstreamUnavailable(_) => "upstream_unavailable",
            Self::UpstreamTimeout => "upstream_timeout",
            Self::RequestTimeout => "request_timeout",
            Self::BadUpstreamReply(_) => "bad_upstream_reply",
            Self::Conflict(_) | Self::PreconditionFailed => "conflict",
            Self::ShuttingDown => "shutting_down",
            Self::AuditUnavailable => "audit_unavailable",
            Self::WriteUnguarded(_) => "write_unguarded",
            Self::RateLimited(_) => "rate_limited",
            Self::PluginRejected { .. } => "plugin_rejected",
            Self::PluginFailed { .. } => "plugin_failed",
            Self::BatchFailed { .. } => "batch_failed",
        }
    }

    /// Whose fault the error is.
    pub fn fault(&self) -> Fault {
        match self {
            Self::NoRoute
            | Self::Unauthorized
            | Self::BadPath(_)
            | Self::MethodNotAllowed { .. }
            | Self::NotImplemented(_)
            | Self::BodyTooLarge(_)
            | Self::UnsupportedMediaType(_)
            | Self::BadJson(_)
            | Self::TooDeep(_)
            | Self::Scim(_)
            | Self::PreconditionFailed
            | Self::PluginRejected { .. } => Fault::Client,
            Self::BatchFailed { status, .. } if *status < 500 && *status != 429 => Fault::Client,
            Self::BatchFailed { .. } => Fault::Upstream,
            Self::UpstreamUnavailable(_)
            | Self::UpstreamTimeout
            | Self::BadUpstreamReply(_)
            | Self::Conflict(_)
            | Self::RateLimited(_) => Fault::Upstream,
            Self::Overloaded
            | Self::ShuttingDown
            | Self::AuditUnavailable
            | Self::WriteUnguarded(_)
            | Self::RequestTimeout
            | Self::PluginFailed { .. } => Fault::Gateway,
        }
    }

    /// The SCIM Error body.
    pub fn body(&self) -> Value {
        error_body(self.status().as_u16(), self.scim_type(), &self.to_string())
    }
}

/// Whole seconds for Retry-After, at least 1.
pub fn retry_after_secs(wait: std::time::Duration) -> u64 {
    (wait.as_millis().div_ceil(1000)).try_into().unwrap_or(u64::MAX).max(1)
}

impl From<ScimError> for GatewayError {
    fn from(e: ScimError) -> Self {
        Self::Scim(e)
    }
}

impl From<scim_mapper::MapError> for GatewayError {
    fn from(e: scim_mapper::MapError) -> Self {
        Self::Scim(e.to_scim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_knows_whose_fault_it_is() {
        let cases = [
            (GatewayError::BadJson("x".into()), Fault::Client),
            (GatewayError::MethodNotAllowed { method: "POST".into(), allow: "GET" }, Fault::Client),
            (GatewayError::UpstreamTimeout, Fault::Upstream),
            (GatewayError::RateLimited(std::time::Duration::from_secs(1)), Fault::Upstream),
            (GatewayError::Overloaded, Fault::Gateway),
            (
                GatewayError::PluginFailed { plugin: "p".into(), outcome: Outcome::Trap, detail: String::new() },
                Fault::Gateway,
            ),
        ];
        for (e, fault) in cases {
            assert_eq!(e.fault(), fault, "{e}");
        }
        assert_eq!(Fault::Upstream.as_str(), "upstream");
    }

    #[test]
    fn an_open_circuit_is_told_by_its_outcome_not_its_words() {
        let open = GatewayError::PluginFailed { plugin: "p".into(), outcome: Outcome::CircuitOpen, detail: "x".into() };
        assert_eq!(open.status(), StatusCode::SERVICE_UNAVAILABLE);
        let trap = GatewayError::PluginFailed { plugin: "p".into(), outcome: Outcome::Trap, detail: "x".into() };
        assert_eq!(trap.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
