//! Everything that talks to Docker's engine: the connection, the labels that
//! mark our objects, sandboxes (one container per trial), image builds and
//! the sweep that removes what a run left behind.

pub mod changes;
pub mod engines;
pub mod environment;
pub mod fixtures;
pub mod images;
mod labels;
mod network;
mod retry;
mod sandbox;
mod security;
mod session;
mod sweep;

pub use labels::{hostname, RunId, RUN_LABEL};
pub use network::Network;
pub use sandbox::{ExecLimits, ExecOutput, Limits, Sandbox, SandboxSpec};
pub use security::SecurityProfile;
pub use session::AGENT;
pub use sweep::{sweep, sweep_dead_runs, SweepReport};

use bollard::Docker;

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error(
        "cannot reach Docker's engine ({message}).\n  Start it, for example: apt-get install -y docker.io && (setsid dockerd >/var/log/dockerd.log 2>&1 &)\n  DOCKER_HOST is honoured if the engine listens elsewhere."
    )]
    Unreachable { message: String },
    #[error("docker: {context}: {source}")]
    Api {
        context: String,
        #[source]
        source: bollard::errors::Error,
    },
    /// An exec printed more than its cap (`ExecLimits`): its output is not
    /// used, never cut.
    #[error("docker: `{command}` in {container} printed more than {limit} bytes; its output is not used (a cut output would be a wrong measurement)")]
    OutputTooLarge {
        command: String,
        container: String,
        limit: usize,
    },
    #[error("docker: {0}")]
    Other(String),
}

impl DockerError {
    pub fn api(context: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> DockerError {
        let context = context.into();
        move |source| DockerError::Api { context, source }
    }
}

/// Connects to the default engine (DOCKER_HOST, else the local socket);
/// see `engines::connect_to`.
pub async fn connect() -> Result<Docker, DockerError> {
    engines::connect_to(None).await
}
