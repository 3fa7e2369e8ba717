//! The harness's one error type. Each room has its own sub-error, lifted with
//! `#[from]`, and every error maps to a documented process exit code.

/// Exit codes, documented in `--help` and the README.
pub mod exit {
    /// Every trial ran (whatever the package managers did).
    pub const OK: i32 = 0;
    /// At least one trial errored (a harness or Docker problem, not data).
    pub const TRIAL_ERRORS: i32 = 2;
    /// Bad input: a scenario file or the command line.
    pub const BAD_INPUT: i32 = 3;
    /// Docker's engine cannot be reached.
    pub const DOCKER_UNREACHABLE: i32 = 4;
    /// Building the matched images failed (missing tool, failed build).
    pub const IMAGE_BUILD: i32 = 5;
    /// Interrupted by Ctrl-C / SIGTERM (containers were removed).
    pub const INTERRUPTED: i32 = 130;
    /// Anything else (I/O on the results folder, internal errors).
    pub const OTHER: i32 = 1;
    /// `verify`: at least one guarantee is violated.
    pub const VIOLATED: i32 = 1;
    /// `verify`: nothing violated, but a guarantee could not be decided
    /// (a trial errored, a file or column is missing).
    pub const UNKNOWN: i32 = 2;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Scenario(#[from] crate::scenario::ScenarioError),
    #[error(transparent)]
    Docker(#[from] crate::docker::DockerError),
    #[error(transparent)]
    Image(#[from] crate::docker::images::ImageError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("interrupted")]
    Interrupted,
    #[error("{0}")]
    Usage(String),
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Scenario(_) | Error::Usage(_) => exit::BAD_INPUT,
            Error::Docker(crate::docker::DockerError::Unreachable { .. }) => {
                exit::DOCKER_UNREACHABLE
            }
            Error::Image(_) => exit::IMAGE_BUILD,
            Error::Interrupted => exit::INTERRUPTED,
            _ => exit::OTHER,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
