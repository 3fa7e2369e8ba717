//! The real executor: one fresh sandbox per trial from the matched image;
//! prepare → set-up → snapshot(before) → operation → snapshot + checks →
//! recovery playbook (timed inside) → snapshot + checks → remove. The next
//! trial's sandbox starts while one runs (`warm`), and removal happens in
//! the background: neither is on a trial's critical path. Each image's
//! base manifest is scanned once and cached on disk by image id. One
//! executor per engine: its warm pool and committed set-ups live there.

use bollard::Docker;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, OnceCell};
use tokio_util::task::TaskTracker;

use super::clean_install::CleanInstalls;
use super::lifecycle::CleanInstall;
use super::lifecycle::{self, Hooks, Observed, Request};
use super::sandbox_target::{run_steps, snapshot_timed, SandboxTarget};
use super::setup_image::{self, Committed, SetupImages};
use super::{Event, Executor};
use crate::approach::{approach, Approach};
use crate::cache::{ImageCache, Lookup};
use crate::docker::images::{self, Family};
use crate::docker::{DockerError, RunId, Sandbox, SandboxSpec, SecurityProfile};
use crate::history::{History, Phase, Step};
use crate::plan::Trial;
use crate::snapshot::{self, manifest, manifest::Manifest, Snapshot};

pub struct DockerExecutor {
    docker: Docker,
    run: RunId,
    /// Scenario name → its fixtures volume on this executor's engine.
    fixtures: HashMap<String, String>,
    bases: HashMap<Family, OnceCell<Arc<Manifest>>>,
    /// Docker calls that must finish even if their trial is dropped.
    tracker: TaskTracker,
    /// Shared by every container of the run.
    security: SecurityProfile,
    /// Sandboxes started ahead of their trial (by plan index); one that is
    /// never claimed is dropped with the executor, which removes it.
    warm: std::sync::Mutex<HashMap<usize, oneshot::Receiver<Result<Claimed, DockerError>>>>,
    /// Set-up states committed as images, per scenario × approach.
    setups: Arc<SetupImages>,
    /// Clean installs, made once per pair and image.
    clean_installs: CleanInstalls,
    /// Numbers the committed images' tags.
    commits: std::sync::atomic::AtomicUsize,
    /// Base manifests of earlier runs, by image id.
    manifest_cache: ImageCache,
}

/// A trial's sandbox, and the committed set-up it starts from (if any).
type Claimed = (Sandbox, Option<Arc<Committed>>);

impl DockerExecutor {
    pub fn new(
        docker: Docker,
        run: RunId,
        fixtures: HashMap<String, String>,
        tracker: TaskTracker,
    ) -> Self {
        let bases = Family::ALL
            .into_iter()
            .map(|f| (f, OnceCell::new()))
            .collect();
        DockerExecutor {
            docker,
            run,
            fixtures,
            bases,
            tracker,
            security: SecurityProfile::default(),
            warm: std::sync::Mutex::new(HashMap::new()),
            setups: Arc::new(SetupImages::default()),
            clean_installs: CleanInstalls::default(),
            commits: std::sync::atomic::AtomicUsize::new(0),
            manifest_cache: manifest_cache_from_env(),
        }
    }

    /// Another place for cached base manifests (tests: a temporary folder,
    /// or `ImageCache::disabled`).
    pub fn with_manifest_cache(mut self, cache: ImageCache) -> Self {
        self.manifest_cache = cache;
        self
    }

    /// The security profile every container of this executor gets.
    pub fn with_security(mut self, security: SecurityProfile) -> Self {
        self.security = security;
        self
    }

    pub fn security(&self) -> SecurityProfile {
        self.security
    }

    /// The image's full manifest, once per run: read from the cache when
    /// this image id was scanned before (a scan walks and hashes every file,
    /// seconds per image), else scanned and cached. Keyed by the id alone:
    /// the scan reads only the image's files (the agent is one of them);
    /// the security profile changes what /proc, /sys and /dev show, which
    /// the scan skips, and the per-container files Docker mounts
    /// (/etc/hostname, /etc/hosts, /etc/resolv.conf) are excluded from
    /// every snapshot, so their entries are never compared.
    pub async fn base_manifest(&self, family: Family) -> Result<Arc<Manifest>, DockerError> {
        self.bases[&family]
            .get_or_try_init(|| async {
                let image = family.image();
                if let Some(id) = images::image_id_of(&self.docker, &image).await? {
                    let cache = self.manifest_cache.clone();
                    let lookup = blocking(move || cache.load::<Manifest>(&id)).await?;
                    match lookup {
                        Lookup::Hit(m) => {
                            eprintln!(
                                "base manifest of {image}: {} paths from the cache",
                                m.len()
                            );
                            return Ok(Arc::new(m));
                        }
                        Lookup::Invalid { path, reason } => eprintln!(
                            "ignoring the cached base manifest {} ({reason}): scanning {image} again",
                            path.display()
                        ),
                        Lookup::Miss => {}
                    }
                }
                let t = Instant::now();
                let (scanned, id) = self.scan_base(family).await?;
                let secs = t.elapsed().as_secs_f64();
                let scanned = Arc::new(scanned);
                let stored = match id {
                    Some(id) => {
                        let (cache, m) = (self.manifest_cache.clone(), scanned.clone());
                        blocking(move || cache.store(&id, &*m)).await?
                    }
                    None => Ok(None),
                };
                let how = match stored {
                    Ok(Some(path)) => format!("cached in {}", path.display()),
                    Ok(None) if !self.manifest_cache.is_enabled() => format!(
                        "not cached: the cache is off ({} set, or neither XDG_CACHE_HOME nor HOME)",
                        crate::cache::NO_CACHE_ENV
                    ),
                    Ok(None) => "not cached: the engine reported no image id".to_string(),
                    Err(e) => format!("not cached: {e}"),
                };
                eprintln!(
                    "base manifest of {image}: scanned {} paths in {secs:.1} s; {how}",
                    scanned.len()
                );
                Ok(scanned)
            })
            .await
            .cloned()
    }

    /// Scans the image's whole file system in a sandbox of its own (no
    /// cache), with the id of the image the sandbox was made from: the tag
    /// may have moved since it was looked up, and a scan is cached under
    /// the id it really read.
    pub async fn scan_base(
        &self,
        family: Family,
    ) -> Result<(Manifest, Option<String>), DockerError> {
        let mut spec = SandboxSpec::new(
            family.image(),
            format!("mc-{}-scan-{}", self.run, family.name()),
        );
        spec.security = self.security;
        let mut sandbox = Sandbox::start(&self.docker, &self.run, &spec, &self.tracker).await?;
        let scanned = async {
            let info = self
                .docker
                .inspect_container(&sandbox.id, None)
                .await
                .map_err(DockerError::api(format!("inspecting {}", sandbox.name)))?;
            Ok::<_, DockerError>((snapshot::scan_base(&sandbox).await?, info.image))
        }
        .await;
        sandbox.remove().await?;
        scanned
    }

    /// A fresh sandbox of the approach's image with the scenario's fixtures.
    /// Public, like `snapshot`, so that tests drive a trial's own steps.
    pub async fn sandbox(
        &self,
        a: &dyn Approach,
        scenario: &crate::scenario::Scenario,
        suffix: &str,
    ) -> Result<Sandbox, DockerError> {
        let spec = self.spec(a, scenario, suffix);
        Sandbox::start(&self.docker, &self.run, &spec, &self.tracker).await
    }

    pub(super) fn spec(
        &self,
        a: &dyn Approach,
        scenario: &crate::scenario::Scenario,
        suffix: &str,
    ) -> SandboxSpec {
        let mut spec =
            crate::approach::sandbox_spec(a, self.security, format!("mc-{}-{suffix}", self.run));
        spec.fixtures = self.fixtures.get(&scenario.scenario.name).cloned();
        spec
    }

    /// A fresh sandbox like [`Self::sandbox`], from `committed`'s image
    /// when given.
    pub async fn sandbox_from(
        &self,
        a: &dyn Approach,
        scenario: &crate::scenario::Scenario,
        suffix: &str,
        committed: Option<&Committed>,
    ) -> Result<Sandbox, DockerError> {
        let mut spec = self.spec(a, scenario, suffix);
        if let Some(c) = committed {
            spec.image = c.image.clone();
        }
        Sandbox::start(&self.docker, &self.run, &spec, &self.tracker).await
    }

    /// The pair's state set-up committed as an image now, for work that
    /// starts many containers from one state (explore's dry run and every
    /// crash point); `None` when the set-up is empty or cannot be committed
    /// (a `[service]` runs processes an image does not keep).
    pub async fn commit_setup(
        &self,
        a: &dyn Approach,
        s: &crate::scenario::Scenario,
    ) -> Result<Option<Arc<Committed>>, DockerError> {
        let commands = lifecycle::state_setup_parts(a, s).files;
        if commands.is_empty() {
            return Ok(None);
        }
        let base = self.base_manifest(a.family()).await?;
        let template = self.template(a, s, commands, base);
        Ok(Some(Arc::new(setup_image::build(template).await?)))
    }

    /// The template container a pair's set-up image is made in, numbered.
    fn template(
        &self,
        a: &dyn Approach,
        s: &crate::scenario::Scenario,
        commands: Vec<String>,
        base: Arc<Manifest>,
    ) -> setup_image::Template {
        let n = self
            .commits
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        setup_image::Template {
            docker: self.docker.clone(),
            run: self.run.clone(),
            tracker: self.tracker.clone(),
            spec: self.spec(a, s, &format!("setup{n}")),
            ready: a.ready(),
            commands,
            timeout: Duration::from_secs(s.scenario.step_timeout_s),
            base,
            tag: format!("{}-{n}", self.run),
        }
    }

    /// The trial's sandbox: the one warmed for it if there is one (waiting
    /// for it if it is still starting), else a fresh one, from the pair's
    /// committed set-up when there is one. A warm-up that failed is not the
    /// trial's error: it starts its own.
    async fn claim(&self, trial: &Trial, a: &dyn Approach) -> Result<Claimed, DockerError> {
        let warmed = self
            .warm
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&trial.index);
        // A build of the pair's set-up under way: its image, not a second
        // run of the same set-up beside it.
        self.setups.settled(&setup_key(trial)).await;
        if let Some(rx) = warmed {
            match rx.await {
                // Warmed before the pair's set-up image was ready: a new
                // container from the image costs less than the set-up
                // (the warm one is removed in the background when dropped).
                Ok(Ok((_, None))) if self.setups.ready(&setup_key(trial)).is_some() => {}
                Ok(Ok(claimed)) => return Ok(claimed),
                Ok(Err(e)) => tracing::warn!("warming trial {}'s sandbox failed: {e}", trial.index),
                Err(_) => {}
            }
        }
        let (spec, committed) = self.trial_spec(trial, a);
        let sandbox = Sandbox::start(&self.docker, &self.run, &spec, &self.tracker).await?;
        Ok((sandbox, committed))
    }

    /// A trial's sandbox spec: from the pair's committed set-up if it is
    /// ready, else from the approach's image.
    fn trial_spec(&self, trial: &Trial, a: &dyn Approach) -> (SandboxSpec, Option<Arc<Committed>>) {
        let committed = self.setups.ready(&setup_key(trial));
        // Its own name: a container warmed from the approach's image, and
        // given up for this one, may still be on its way out.
        let suffix = match committed {
            Some(_) => format!("t{}-from-setup", trial.index),
            None => format!("t{}", trial.index),
        };
        let mut spec = self.spec(a, &trial.scenario.scenario, &suffix);
        if let Some(c) = &committed {
            spec.image = c.image.clone();
        }
        (spec, committed)
    }

    pub(super) fn docker(&self) -> &Docker {
        &self.docker
    }

    pub(super) fn run_id(&self) -> &RunId {
        &self.run
    }

    pub(super) fn tracker(&self) -> &TaskTracker {
        &self.tracker
    }

    /// Prepare and set-up steps, as the lifecycle runs them (for tests
    /// that drive a sandbox step by step).
    pub async fn set_up(
        &self,
        sandbox: &Sandbox,
        a: &dyn Approach,
        s: &crate::scenario::Scenario,
        h: &mut History,
    ) -> Result<(), DockerError> {
        let target = self.target(sandbox, a).await?;
        lifecycle::set_up(&target, a, s, h).await
    }

    /// The lifecycle in `sandbox` (see `lifecycle::run`).
    pub async fn lifecycle(
        &self,
        sandbox: &Sandbox,
        req: Request<'_>,
        hooks: &dyn Hooks,
        h: &mut History,
    ) -> Result<Observed, DockerError> {
        self.lifecycle_from(sandbox, None, req, hooks, h).await
    }

    /// The lifecycle in `sandbox`, started from `committed` set-up if given
    /// (the sandbox must have been made from its image).
    pub async fn lifecycle_from(
        &self,
        sandbox: &Sandbox,
        committed: Option<&Committed>,
        req: Request<'_>,
        hooks: &dyn Hooks,
        h: &mut History,
    ) -> Result<Observed, DockerError> {
        self.lifecycle_in(sandbox, committed, None, req, hooks, h)
            .await
    }

    /// [`Self::lifecycle_from`]; a trial that runs its own set-up passes
    /// its pair's `key`, and commits the set-up's files part as the pair's
    /// image when it is slow (`setup_image::commit_in_place`).
    async fn lifecycle_in(
        &self,
        sandbox: &Sandbox,
        committed: Option<&Committed>,
        key: Option<setup_image::Key>,
        req: Request<'_>,
        hooks: &dyn Hooks,
        h: &mut History,
    ) -> Result<Observed, DockerError> {
        let mut target = self.target(sandbox, req.approach).await?;
        if let Some(c) = committed {
            target.base = c.manifest.clone();
            target.state_set_up = true;
            h.timings.setup_reused_ms = c.setup_ms;
        } else if let Some(key) = key {
            let a = req.approach;
            let files = lifecycle::state_setup_parts(a, req.scenario).files.len();
            if files > 0 {
                let n = self
                    .commits
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                target.commit = Some(setup_image::InPlace {
                    setups: self.setups.clone(),
                    key,
                    run: self.run.clone(),
                    tag: format!("{}-{n}", self.run),
                    base: target.base.clone(),
                    ready: a.ready(),
                    files,
                });
            }
        }
        // A container kill is a machine's crash: at its "boot" the
        // scenario's service starts again from the configuration on disk.
        target.boot = req
            .scenario
            .service
            .as_ref()
            .map(crate::service::boot)
            .unwrap_or_default();
        lifecycle::run(&target, req, hooks, h).await
    }

    /// The lifecycle's view of `sandbox` with `a` in it, for callers that
    /// drive its steps themselves (the property tests).
    pub async fn target<'a>(
        &'a self,
        sandbox: &'a Sandbox,
        a: &'a dyn Approach,
    ) -> Result<SandboxTarget<'a>, DockerError> {
        Ok(SandboxTarget {
            sandbox,
            approach: a,
            base: self.base_manifest(a.family()).await?,
            boot: Vec::new(),
            state_set_up: false,
            commit: None,
        })
    }

    async fn trial(
        &self,
        trial: &Trial,
        h: &mut History,
        events: &mpsc::UnboundedSender<Event>,
    ) -> Result<(), DockerError> {
        let scenario = &trial.scenario.scenario;
        if is_rollout(trial) {
            return self.fleet_trial(trial, h).await;
        }
        let a = approach(trial.approach);
        let t = Instant::now();
        let (sandbox, committed) = self.claim(trial, a.as_ref()).await?;
        h.timings.container_start_ms = ms(t);

        let hooks = TrialHooks {
            index: trial.index,
            events,
        };
        let req = Request {
            approach: a.as_ref(),
            scenario,
            fault: &trial.fault,
        };
        let key = committed.is_none().then(|| setup_key(trial));
        let observed = self
            .lifecycle_in(&sandbox, committed.as_deref(), key, req, &hooks, h)
            .await;
        let t = Instant::now();
        self.remove_in_background(sandbox);
        h.timings.container_remove_ms = ms(t);
        let observed = observed?;
        if let Some(command) = lifecycle::clean_install_command(a.as_ref(), scenario, h) {
            hooks.phase(Phase::CleanInstall);
            // The pair's image once it exists (this trial may have just
            // made it): every later trial compares with the same install.
            let image = self.setups.settled(&setup_key(trial)).await;
            let key = (
                scenario.scenario.name.clone(),
                trial.approach,
                image.as_ref().map(|c| c.image.clone()),
                command.clone(),
            );
            let suffix = format!("t{}-clean", trial.index);
            let (reference, reused) = self
                .clean_installs
                .get_or_make(key, || {
                    self.clean_install(a.as_ref(), scenario, &suffix, image.as_deref(), command, h)
                })
                .await?;
            h.clean = Some(reference.compare(observed.final_snapshot(), reused));
        }
        Ok(())
    }

    /// A clean install: a fresh sandbox from `committed` (the pair's set-up
    /// image) or else the approach's image, where `command` runs alone
    /// after the set-up (`lifecycle::clean_install`; its steps go to `h`).
    pub async fn clean_install(
        &self,
        a: &dyn Approach,
        s: &crate::scenario::Scenario,
        suffix: &str,
        committed: Option<&Committed>,
        command: String,
        h: &mut History,
    ) -> Result<CleanInstall, DockerError> {
        let t = Instant::now();
        let sandbox = self.sandbox_from(a, s, suffix, committed).await?;
        h.timings.container_start_ms += ms(t);
        let made = async {
            let mut target = self.target(&sandbox, a).await?;
            if let Some(c) = committed {
                target.base = c.manifest.clone();
                target.state_set_up = true;
            }
            lifecycle::clean_install(&target, a, s, command, h).await
        }
        .await;
        self.remove_in_background(sandbox);
        made
    }

    /// Removed in the background: the run waits for the tracker before
    /// its final sweep, which also takes whatever a failed removal left.
    fn remove_in_background(&self, sandbox: Sandbox) {
        self.tracker.spawn(async move {
            let mut sandbox = sandbox;
            if let Err(e) = sandbox.remove().await {
                tracing::warn!("{e}");
            }
        });
    }

    /// One snapshot exactly as a trial takes it: the approach's package view,
    /// then the changed paths hashed by the agent, timed into `h.timings`.
    /// Public so that `benches/trial_overhead.rs` measures this code path,
    /// not a copy of it.
    pub async fn snapshot(
        &self,
        sandbox: &Sandbox,
        a: &dyn Approach,
        base: &Arc<Manifest>,
        h: &mut History,
    ) -> Result<Snapshot, DockerError> {
        snapshot_timed(sandbox, a, base, &mut h.timings).await
    }
}

/// A trial's lifecycle hooks: phases go to the progress display, and the
/// trial's recovery rule decides.
struct TrialHooks<'a> {
    index: usize,
    events: &'a mpsc::UnboundedSender<Event>,
}

impl Hooks for TrialHooks<'_> {
    fn phase(&self, phase: Phase) {
        let _ = self.events.send(Event::TrialPhase {
            index: self.index,
            phase,
        });
    }

    fn needs_recovery(&self, state: &super::lifecycle::AfterOperation) -> bool {
        super::lifecycle::trial_needs_recovery(state)
    }
}

/// A recovery's set-up differs (etckeeper installed, a backup taken): its
/// own image.
fn setup_key(trial: &Trial) -> setup_image::Key {
    let name = &trial.scenario.scenario.scenario.name;
    (
        trial
            .recovery
            .map_or(name.clone(), |r| format!("{name} ({r})")),
        trial.approach,
    )
}

/// The base-manifest cache `DockerExecutor::new` uses: the user's cache
/// folder unless `MISTAKE_COST_NO_CACHE` is set.
fn manifest_cache_from_env() -> ImageCache {
    ImageCache::from_env("manifests", manifest::CACHE_FORMAT)
}

/// File work of a few MB (a manifest read or written) off the runtime's
/// threads, which drive the other trials' Docker calls meanwhile.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, DockerError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DockerError::Other(format!("cache task failed: {e}")))
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// A rollout's trial runs a fleet of containers (`runner::fleet`), not
/// one sandbox through the lifecycle.
fn is_rollout(trial: &Trial) -> bool {
    *trial.scenario.scenario.operation.kind.get_ref() == crate::scenario::OperationKind::Rollout
}

impl Executor for DockerExecutor {
    fn warm(&self, trial: &Trial) {
        if is_rollout(trial) {
            return;
        }
        let a = approach(trial.approach);
        let (spec, committed) = self.trial_spec(trial, a.as_ref());
        let (tx, rx) = oneshot::channel();
        self.warm
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(trial.index, rx);
        let (docker, run, tracker) = (self.docker.clone(), self.run.clone(), self.tracker.clone());
        self.tracker.spawn(async move {
            let started = Sandbox::start(&docker, &run, &spec, &tracker).await;
            if let Ok(sandbox) = &started {
                sandbox.open_session().await;
            }
            let started = started.map(|sandbox| (sandbox, committed));
            // Unclaimed (the run was cancelled): dropping it removes it.
            let _ = tx.send(started);
        });
    }

    async fn run(&self, trial: Trial, events: mpsc::UnboundedSender<Event>) -> History {
        let label = trial.label();
        let _ = events.send(Event::TrialStarted {
            index: trial.index,
            label,
        });
        let t = Instant::now();
        let mut h = trial.blank_history();
        if let Err(e) = self.trial(&trial, &mut h, &events).await {
            h.error = Some(e.to_string());
        }
        h.timings.wall_ms = ms(t);
        h
    }
}

/// The step runners, for other rooms that drive a sandbox themselves
/// (crash-point exploration).
impl DockerExecutor {
    pub async fn run_steps(
        sandbox: &Sandbox,
        phase: Phase,
        commands: &[String],
        timeout: Duration,
        quiet: &[bool],
    ) -> Result<Vec<Step>, DockerError> {
        run_steps(sandbox, phase, commands, timeout, quiet).await
    }
}
