//! The client's one error enum: a problem the server reported, or a failure to talk to it at all.

use std::error::Error as StdError;
use std::io;

use opm_api::Problem;

/// What can go wrong when calling OPM.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an RFC 9457 problem (`application/problem+json`).
    #[error("{}", describe_problem(.0))]
    Api(Box<Problem>),
    /// The server answered with an error status but no problem body (a proxy in between, say).
    #[error("OPM at {url} answered HTTP {status}: {body}")]
    UnexpectedStatus { url: String, status: u16, body: String },
    /// No TCP connection could be made.
    #[error("cannot reach OPM at {url}: {reason}; is `opm serve` running?")]
    Connect { url: String, reason: String },
    /// The server did not answer in time.
    #[error("OPM at {url} did not answer within {seconds}s; raise the timeout or check the server")]
    Timeout { url: String, seconds: u64 },
    /// The connection broke, or the request could not be sent.
    #[error("request to {url} failed: {reason}")]
    Transport { url: String, reason: String },
    /// The server answered 2xx with a body that is not what this client expects.
    #[error("unexpected response from {url}: {reason} (is the server the same OPM version as this client?)")]
    Decode { url: String, reason: String },
    /// The base URL, API key or project cannot be used.
    #[error("invalid client configuration: {0}")]
    Config(String),
}

impl ClientError {
    /// The problem the server reported, if this is an API error.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ClientError::Api(problem) => Some(problem),
            _ => None,
        }
    }

    /// The HTTP status of an error answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api(problem) => Some(problem.status),
            ClientError::UnexpectedStatus { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The stable error code of an API error (`prompt_not_found`, `prompt_exists`, …).
    pub fn code(&self) -> Option<&str> {
        self.problem().map(|problem| problem.code.as_str())
    }

    /// Whether the server said the thing asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

/// `detail (code C, request R)`: the server's words plus what to quote when reporting.
fn describe_problem(problem: &Problem) -> String {
    let detail = if problem.detail.is_empty() { problem.title.as_str() } else { problem.detail.as_str() };
    match &problem.request_id {
        Some(request_id) => format!("{detail} (code {}, request {request_id})", problem.code),
        None => format!("{detail} (code {})", problem.code),
    }
}

/// Classifies a reqwest failure into one of the variants above, with the root cause spelled out.
pub(crate) fn from_reqwest(error: &reqwest::Error, url: &str, timeout_seconds: u64) -> ClientError {
    let url = url.to_owned();
    if error.is_timeout() {
        return ClientError::Timeout { url, seconds: timeout_seconds };
    }
    let reason = root_cause(error);
    if error.is_connect() {
        ClientError::Connect { url, reason }
    } else if error.is_decode() {
        ClientError::Decode { url, reason }
    } else if error.is_builder() {
        ClientError::Config(format!("{url}: {reason}"))
    } else {
        ClientError::Transport { url, reason }
    }
}

/// The innermost cause, in plain words where the OS error is a well-known one.
fn root_cause(error: &(dyn StdError + 'static)) -> String {
    let mut current: &(dyn StdError + 'static) = error;
    loop {
        if let Some(io_error) = current.downcast_ref::<io::Error>() {
            let plain = match io_error.kind() {
                io::ErrorKind::ConnectionRefused => Some("connection refused"),
                io::ErrorKind::ConnectionReset => Some("connection reset"),
                io::ErrorKind::TimedOut => Some("timed out"),
                io::ErrorKind::HostUnreachable => Some("host unreachable"),
                io::ErrorKind::NetworkUnreachable => Some("network unreachable"),
                _ => None,
            };
            if let Some(plain) = plain {
                return plain.to_owned();
            }
        }
        match current.source() {
            Some(source) => current = source,
            None => return current.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(request_id: Option<&str>) -> Problem {
        Problem {
            kind: "https://opm.dev/errors/prompt_not_found".into(),
            title: "Not found".into(),
            status: 404,
            detail: "prompt `welcome` does not exist".into(),
            code: "prompt_not_found".into(),
            request_id: request_id.map(str::to_owned),
            instance: Some("/api/v1/prompts/welcome".into()),
        }
    }

    #[test]
    fn api_errors_show_detail_code_and_request() {
        let error = ClientError::Api(Box::new(problem(Some("req-1"))));
        assert_eq!(error.to_string(), "prompt `welcome` does not exist (code prompt_not_found, request req-1)");
        assert_eq!(error.code(), Some("prompt_not_found"));
        assert!(error.is_not_found());
        let error = ClientError::Api(Box::new(problem(None)));
        assert_eq!(error.to_string(), "prompt `welcome` does not exist (code prompt_not_found)");
    }

    #[test]
    fn connect_errors_say_what_to_do() {
        let error = ClientError::Connect { url: "http://127.0.0.1:1".into(), reason: "connection refused".into() };
        assert_eq!(
            error.to_string(),
            "cannot reach OPM at http://127.0.0.1:1: connection refused; is `opm serve` running?"
        );
        assert_eq!(error.status(), None);
    }
}
