//! Running a plan: the `Executor` runs one trial (in Docker, or a mock in
//! tests), the scheduler runs many with bounded concurrency over one or
//! more engines, and events carry what happens to the progress bar and the
//! exporters.

mod clean_install;
mod docker_executor;
mod events;
mod fleet;
pub mod lifecycle;
mod sandbox_target;
mod scheduler;
pub mod setup_image;

pub use docker_executor::DockerExecutor;
pub use events::Event;
pub use sandbox_target::SandboxTarget;
pub use scheduler::{run_plan, Engine, EngineTally, PlanReport};

use crate::history::History;
use crate::plan::Trial;

/// Runs one trial to a history. Errors are recorded in the history
/// (`History::error`), never lost: an executor does not fail.
pub trait Executor: Send + Sync + 'static {
    fn run(
        &self,
        trial: Trial,
        events: tokio::sync::mpsc::UnboundedSender<Event>,
    ) -> impl std::future::Future<Output = History> + Send;

    /// `trial` runs next: start what it needs (its container) in the
    /// background, so that `run` finds it ready. Must not block; what is
    /// warmed but never run is the executor's to clean up.
    fn warm(&self, _trial: &Trial) {}
}
