//! The exit code of a command run through `pods/exec`, from the Status the API server sends last.
//!
//! A kubelet reports a non-zero exit as reason `NonZeroExitCode` with an `ExitCode` cause; kwok
//! (and some runtimes) report it only inside an internal-error message, `... exit status 3`. Both
//! are read here so a failed command is never mistaken for success, or for an unknown failure.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;

/// How an exec'd command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitStatus {
    /// Exit code 0.
    Success,
    /// A non-zero exit code.
    Code(i32),
    /// The command did not run or its end is unknown (message from the API server).
    Error(String),
}

impl ExitStatus {
    pub fn from_status(status: &Status) -> Self {
        if status.status.as_deref() == Some("Success") {
            return Self::Success;
        }
        let cause = status
            .details
            .as_ref()
            .and_then(|d| d.causes.as_ref())
            .into_iter()
            .flatten()
            .find(|c| c.reason.as_deref() == Some("ExitCode"))
            .and_then(|c| c.message.as_deref()?.trim().parse().ok());
        let message = status.message.clone().unwrap_or_default();
        match cause.or_else(|| exit_status_in(&message)) {
            Some(0) => Self::Success,
            Some(code) => Self::Code(code),
            None => Self::Error(message),
        }
    }

    /// The exit code, when there is one.
    pub fn code(&self) -> Option<i32> {
        match self {
            Self::Success => Some(0),
            Self::Code(c) => Some(*c),
            Self::Error(_) => None,
        }
    }
}

/// `3` from `"... cmd wait: ...: exit status 3"`.
fn exit_status_in(message: &str) -> Option<i32> {
    let at = message.rfind("exit status ")?;
    let digits: String = message[at + "exit status ".len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status(v: serde_json::Value) -> Status {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn kubelet_exit_code_cause() {
        let s = status(
            json!({"status": "Failure", "reason": "NonZeroExitCode", "message": "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3",
            "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}}),
        );
        assert_eq!(ExitStatus::from_status(&s), ExitStatus::Code(3));
    }

    #[test]
    fn kwok_internal_error_message() {
        let s = status(
            json!({"status": "Failure", "reason": "InternalError", "code": 500,
            "message": "Internal error occurred: error executing command in container: cmd wait: /bin/sh -c exit 3: exit status 3"}),
        );
        assert_eq!(ExitStatus::from_status(&s), ExitStatus::Code(3));
    }

    #[test]
    fn success_and_unknown_failures() {
        assert_eq!(
            ExitStatus::from_status(&status(json!({"status": "Success"}))),
            ExitStatus::Success
        );
        let s = status(json!({"status": "Failure", "message": "container not found (\"main\")"}));
        assert_eq!(
            ExitStatus::from_status(&s),
            ExitStatus::Error("container not found (\"main\")".into())
        );
        assert_eq!(ExitStatus::from_status(&s).code(), None);
    }
}
