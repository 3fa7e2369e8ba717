//! Set-up states committed once as an image. When the files part of a
//! trial's state set-up (`lifecycle::state_setup_parts`: a venv made, old
//! versions installed, etckeeper installed…) took at least
//! `COMMIT_AFTER_MS`, that trial's container is committed right there,
//! before the live part starts (`commit_in_place`), and the scenario ×
//! approach pair's later trials and clean installs start from the image and
//! run only the live part (a service's start). Explore builds the image in
//! a template container instead (`build`). The image carries the run's
//! label and is swept with its containers.

use std::collections::hash_map::Entry as Slot;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::docker::{DockerError, RunId, Sandbox, SandboxSpec};
use crate::history::{History, Phase};
use crate::snapshot::manifest::Manifest;
use crate::snapshot::{self, PackageView};
use crate::vocab::ApproachKind;

/// A set-up shorter than this runs in every trial: committing an image and
/// starting a template container cost about a second here.
pub const COMMIT_AFTER_MS: f64 = 1000.0;

/// Which set-up: the scenario's name (unique in a run) and the approach.
pub type Key = (String, ApproachKind);

/// A committed set-up state.
#[derive(Debug)]
pub struct Committed {
    /// The image's id.
    pub image: String,
    /// The image's full manifest: its base's with the set-up's changes.
    pub manifest: Arc<Manifest>,
    /// What the state set-up took in the template, measured inside it.
    pub setup_ms: f64,
}

enum State {
    /// Cheap: every trial runs it.
    Inline,
    Building,
    Ready(Arc<Committed>),
    /// Not committable after all (logged); trials run it inline.
    Failed,
}

/// Per run: which pairs have a committed set-up, which are being built.
#[derive(Default)]
pub struct SetupImages {
    states: Mutex<HashMap<Key, State>>,
    /// Told whenever a build ends (ready or failed).
    settled: tokio::sync::Notify,
}

impl SetupImages {
    pub fn ready(&self, key: &Key) -> Option<Arc<Committed>> {
        match self.lock().get(key) {
            Some(State::Ready(c)) => Some(c.clone()),
            _ => None,
        }
    }

    /// The pair's committed set-up, waiting for it while it is being
    /// built: the build runs the very set-up a trial would otherwise run
    /// again beside it, so waiting costs no more and frees the cores.
    /// `None`: no image (cheap set-up, not committable, or a failed build).
    pub async fn settled(&self, key: &Key) -> Option<Arc<Committed>> {
        loop {
            // Registered before the state is read: a build that ends in
            // between still wakes this wait.
            let notified = self.settled.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.lock().get(key) {
                Some(State::Building) => {}
                Some(State::Ready(c)) => return Some(c.clone()),
                _ => return None,
            }
            notified.await;
        }
    }

    /// A trial of `key` ran its state set-up inline in `setup_ms`: true
    /// (once per pair) when an image should be built now. The pair's first
    /// observed trial decides.
    pub fn should_build(&self, key: &Key, setup_ms: f64) -> bool {
        match self.lock().entry(key.clone()) {
            Slot::Occupied(_) => false,
            Slot::Vacant(v) => {
                let build = setup_ms >= COMMIT_AFTER_MS;
                v.insert(if build {
                    State::Building
                } else {
                    State::Inline
                });
                build
            }
        }
    }

    pub fn finish(&self, key: &Key, built: Result<Committed, DockerError>) {
        let state = match built {
            Ok(c) => State::Ready(Arc::new(c)),
            Err(e) => {
                tracing::warn!(
                    "committing the set-up of {} / {} failed, its trials run it themselves: {e}",
                    key.0,
                    key.1
                );
                State::Failed
            }
        };
        self.lock().insert(key.clone(), state);
        self.settled.notify_waiters();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, State>> {
        self.states.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What building a committed set-up needs; owned, to run in a task.
pub struct Template {
    pub docker: bollard::Docker,
    pub run: RunId,
    pub tracker: tokio_util::task::TaskTracker,
    /// A trial's sandbox, from the approach's image.
    pub spec: SandboxSpec,
    /// The approach's `ready` (not part of the state) …
    pub ready: Option<String>,
    /// … then the state set-up.
    pub commands: Vec<String>,
    pub timeout: Duration,
    /// The approach image's manifest.
    pub base: Arc<Manifest>,
    /// The image's tag (unique in the run).
    pub tag: String,
}

/// Runs the state set-up in a template container of its own, commits it
/// and works out the image's manifest; the template is removed either way.
pub async fn build(t: Template) -> Result<Committed, DockerError> {
    let mut sandbox = Sandbox::start(&t.docker, &t.run, &t.spec, &t.tracker).await?;
    // The run closes its tracker when no trial is left or on Ctrl-C, then
    // waits for it: a set-up image nobody will use must not hold it up.
    let built = tokio::select! {
        built = commit_set_up(&sandbox, &t) => built,
        _ = run_closed(&t.tracker) => Err(DockerError::Other(
            "the run ended before the set-up image was made".into(),
        )),
    };
    let removed = sandbox.remove().await;
    let built = built?;
    removed?;
    Ok(built)
}

async fn run_closed(tracker: &tokio_util::task::TaskTracker) {
    while !tracker.is_closed() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn commit_set_up(sandbox: &Sandbox, t: &Template) -> Result<Committed, DockerError> {
    let ready: Vec<String> = t.ready.iter().cloned().collect();
    run_all(sandbox, &ready, t.timeout, "ready").await?;
    let setup_ms = run_all(sandbox, &t.commands, t.timeout, "set-up").await?;
    commit(sandbox, &t.base, &t.tag, &t.run, setup_ms).await
}

/// What a trial needs to commit its own files part as the pair's image.
pub struct InPlace {
    pub setups: Arc<SetupImages>,
    pub key: Key,
    pub run: RunId,
    /// The image's tag (unique in the run).
    pub tag: String,
    /// The approach image's manifest.
    pub base: Arc<Manifest>,
    /// The approach's `ready`, not part of the set-up's time.
    pub ready: Option<String>,
    /// How many set-up steps (after `ready`) are the files part.
    pub files: usize,
}

/// The files part of the state set-up has just run in `sandbox`, a trial's
/// container (its steps are in `h`): when it took long enough and no other
/// trial of the pair got there first, commit the container as the pair's
/// image now, before any process of the live part starts. The trial goes
/// on either way; a failed commit only means the pair's trials keep
/// running the set-up themselves. The time it took is
/// `h.timings.setup_commit_ms`.
pub async fn commit_in_place(sandbox: &Sandbox, plan: &InPlace, h: &mut History) {
    let setup_ms: f64 = h
        .steps_in(Phase::Setup)
        .filter(|step| Some(&step.command) != plan.ready.as_ref())
        .take(plan.files)
        .map(|step| step.ms)
        .sum();
    if h.error.is_some() || !plan.setups.should_build(&plan.key, setup_ms) {
        return;
    }
    let t = std::time::Instant::now();
    let built = commit(sandbox, &plan.base, &plan.tag, &plan.run, setup_ms).await;
    plan.setups.finish(&plan.key, built);
    h.timings.setup_commit_ms = t.elapsed().as_secs_f64() * 1000.0;
}

/// Commits `sandbox` as a set-up image and works out its manifest: `base`
/// with the changes found in the container.
async fn commit(
    sandbox: &Sandbox,
    base: &Arc<Manifest>,
    tag: &str,
    run: &RunId,
    setup_ms: f64,
) -> Result<Committed, DockerError> {
    let (state, _) = snapshot::capture(sandbox, base, PackageView::default()).await?;
    let image = sandbox
        .commit("mistake-cost/setup", tag, run.labels())
        .await?;
    let mut manifest = (**base).clone();
    for (path, entry) in state.overlay {
        match entry {
            Some(e) => manifest.insert(path, e),
            None => manifest.remove(&path),
        };
    }
    Ok(Committed {
        image,
        manifest: Arc::new(manifest),
        setup_ms,
    })
}

/// Runs `commands` as set-up steps; their time inside the container, or
/// the first failure.
async fn run_all(
    sandbox: &Sandbox,
    commands: &[String],
    timeout: Duration,
    part: &str,
) -> Result<f64, DockerError> {
    let steps =
        super::DockerExecutor::run_steps(sandbox, Phase::Setup, commands, timeout, &[]).await?;
    if let Some(f) = steps.iter().find(|s| s.exit_code != 0) {
        return Err(DockerError::Other(format!(
            "{part} step `{}` failed in the template (exit {}): {}",
            f.command, f.exit_code, f.stderr_tail
        )));
    }
    Ok(steps.iter().map(|s| s.ms).sum())
}
