//! Errors. Every error names where the problem is (file, element, argument).

use thiserror::Error;

/// kinegrad's error type.
#[derive(Debug, Error)]
pub enum Error {
    /// A model file could not be read or parsed.
    #[error("{file}: {message}")]
    Load {
        /// File path.
        file: String,
        /// What is wrong, naming the element.
        message: String,
    },
    /// An argument or model element has an invalid value.
    #[error("{what}: {message}")]
    Invalid {
        /// The element or argument.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// A feature kinegrad does not support.
    #[error("{what}: unsupported: {feature}")]
    Unsupported {
        /// Where it was found.
        what: String,
        /// The feature.
        feature: String,
    },
    /// The simulation produced a non-finite value.
    #[error("simulation diverged at step {step}: {message}")]
    Diverged {
        /// Step index (time / dt) where it happened.
        step: u64,
        /// What was non-finite.
        message: String,
    },
    /// The computation was asked to stop ([`crate::Interrupt`]) before this step.
    #[error("interrupted before step {step}")]
    Interrupted {
        /// Substeps taken when it stopped.
        step: u64,
    },
}

impl Error {
    /// Invalid value of `what`.
    pub fn invalid(what: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            what: what.into(),
            message: message.into(),
        }
    }
    /// Unsupported feature at `what`.
    pub fn unsupported(what: impl Into<String>, feature: impl Into<String>) -> Self {
        Error::Unsupported {
            what: what.into(),
            feature: feature.into(),
        }
    }
    /// The same error, saying it happened in env `env` of a batch.
    pub fn in_env(self, env: usize) -> Self {
        match self {
            Error::Diverged { step, message } => Error::Diverged {
                step,
                message: format!("env {env}: {message}"),
            },
            Error::Invalid { what, message } => Error::Invalid {
                what: format!("env {env}: {what}"),
                message,
            },
            Error::Unsupported { what, feature } => Error::Unsupported {
                what: format!("env {env}: {what}"),
                feature,
            },
            Error::Load { file, message } => Error::Load {
                file,
                message: format!("env {env}: {message}"),
            },
            Error::Interrupted { step } => Error::Interrupted { step },
        }
    }
    /// Load error in `file`.
    pub fn load(file: impl AsRef<std::path::Path>, message: impl Into<String>) -> Self {
        Error::Load {
            file: file.as_ref().display().to_string(),
            message: message.into(),
        }
    }
}

/// Line numbers of byte offsets in a text, for error messages: O(log n) per lookup
/// (roxmltree's `text_pos_at` scans from the start of the text on every call).
pub(crate) struct LineIndex(Vec<usize>);

impl LineIndex {
    /// Index the line starts of `text`.
    pub(crate) fn new(text: &str) -> Self {
        let mut v = vec![0];
        v.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex(v)
    }
    /// 1-based line of byte offset `pos`.
    pub(crate) fn line(&self, pos: usize) -> u32 {
        self.0.partition_point(|&s| s <= pos) as u32
    }
}

/// `"file: line N: "` (or `"file: "` when `line` is 0), the prefix that locates an element of a
/// model file in a message; empty without a file.
pub fn location(file: Option<&std::path::Path>, line: u32) -> String {
    match (file, line) {
        (None, _) => String::new(),
        (Some(f), 0) => format!("{}: ", f.display()),
        (Some(f), l) => format!("{}: line {l}: ", f.display()),
    }
}

/// Result with kinegrad's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
