//! Errors that tell the user what to do.
//!
//! Library code returns errors that name the defect (`wire::Error::Truncated`,
//! `io::ErrorKind::ConnectionRefused`). The layer that knows what netlab was doing wraps
//! them in a [`Hinted`] context: a one-line message, an optional hint, and whether the
//! mistake was in the command line (exit code 2), in the world (exit code 1), or the
//! command did all it could with input that was cut short (exit code 3).
//! `output::report_fatal` prints `error: …` and `hint: …` from it.

use std::fmt;

/// Is this the user's command line (exit code 2) or something that happened (exit code 1)?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad arguments: exit code 2.
    Usage,
    /// The command ran and failed: exit code 1.
    Failure,
    /// The command ran to the end of its input, but the input was cut short (a capture
    /// file ending in the middle of a record): everything complete was shown. Exit
    /// code 3, so that a script can tell it from success and from failure.
    Incomplete,
}

/// A message for people, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hinted {
    pub message: String,
    pub hint: Option<String>,
    pub kind: ErrorKind,
}

impl fmt::Display for Hinted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Hinted {}

impl Hinted {
    pub fn failure(message: impl Into<String>) -> Hinted {
        Hinted {
            message: message.into(),
            hint: None,
            kind: ErrorKind::Failure,
        }
    }

    pub fn incomplete(message: impl Into<String>) -> Hinted {
        Hinted {
            message: message.into(),
            hint: None,
            kind: ErrorKind::Incomplete,
        }
    }

    pub fn usage(message: impl Into<String>) -> Hinted {
        Hinted {
            message: message.into(),
            hint: None,
            kind: ErrorKind::Usage,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Hinted {
        self.hint = Some(hint.into());
        self
    }
}

/// Attach a [`Hinted`] context to any error.
pub trait HintExt<T> {
    /// Wrap the error: `message` says what netlab was doing, `hint` what to do about it.
    fn hinted(self, message: impl Into<String>, hint: impl Into<String>) -> anyhow::Result<T>;
    /// Wrap the error with a message and no hint (a hint may still come from the cause).
    fn failed(self, message: impl Into<String>) -> anyhow::Result<T>;
}

impl<T, E> HintExt<T> for Result<T, E>
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn hinted(self, message: impl Into<String>, hint: impl Into<String>) -> anyhow::Result<T> {
        self.map_err(|e| anyhow::Error::new(e).context(Hinted::failure(message).with_hint(hint)))
    }

    fn failed(self, message: impl Into<String>) -> anyhow::Result<T> {
        self.map_err(|e| anyhow::Error::new(e).context(Hinted::failure(message)))
    }
}

/// A usage error (exit code 2) as an `anyhow::Error`.
pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    Hinted::usage(message).with_hint(hint).into()
}
