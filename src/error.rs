//! One error type for everything a user can get wrong: a bad profile, an unreadable snapshot,
//! a malformed file, a usage mistake. All of them end the run with exit code 2, and all of them
//! name the file (and line/column where there is one) so the user can go straight to the fault.

use std::fmt;

/// A problem with input the user gave us. Displayed as `file:line:column: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error that is not tied to a file (a usage mistake, a failed check of the arguments).
    pub fn msg(message: impl Into<String>) -> Self {
        Error {
            file: None,
            line: None,
            column: None,
            message: message.into(),
        }
    }

    /// An error about a whole file.
    pub fn in_file(file: impl Into<String>, message: impl Into<String>) -> Self {
        Error {
            file: Some(file.into()),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    /// An error at a line (1-based) and optionally a column (1-based) of a file.
    pub fn at(
        file: impl Into<String>,
        line: usize,
        column: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        Error {
            file: Some(file.into()),
            line: Some(line),
            column,
            message: message.into(),
        }
    }

    /// An I/O failure on a named path, with the operating system's reason.
    pub fn io(path: impl fmt::Display, err: &std::io::Error) -> Self {
        Error::in_file(path.to_string(), err.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}")?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
                if let Some(col) = self.column {
                    write!(f, ":{col}")?;
                }
            }
            write!(f, ": ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for Error {}
