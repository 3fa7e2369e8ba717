//! The session every Docker-running command opens: its engines (one, or
//! several with `--engine`), run id, results folder, run.json, fixtures,
//! signal handling, and the sweep of every engine on every way out.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::build_images;
use crate::docker::engines::EnginePlan;
use crate::docker::images::{self, Family};
use crate::docker::{self, RunId};
use crate::error::{exit, Error, Result};
use crate::export::{EngineMeta, RunMeta, RunStatus};
use crate::runner::DockerExecutor;
use crate::{payload, scenario};

/// What every Docker-running command shares: the engine, the run id and its
/// results folder, signals caught from before the first container exists,
/// tracked Docker calls, and the final sweep that every way out passes.
pub(crate) struct Session {
    /// The first engine's connection (explore's, and where images are built).
    pub docker: bollard::Docker,
    /// Every engine of the run, the first one first.
    pub engines: Vec<Engine>,
    pub run: RunId,
    pub out: PathBuf,
    pub fixtures_root: PathBuf,
    pub cancel: CancellationToken,
    /// A second interrupt: stop waiting for the trials.
    force: CancellationToken,
    pub tracker: TaskTracker,
    signals: tokio::task::JoinHandle<()>,
    meta: RunMeta,
    /// Held while the session lives: one process per results folder.
    _out_lock: std::fs::File,
    pub security: docker::SecurityProfile,
}

/// One engine of the session: its name (the `engine` column), where it
/// is, its job limit and the connection.
pub(crate) struct Engine {
    pub plan: EnginePlan,
    pub docker: bollard::Docker,
}

impl Session {
    /// A session on `engines`: each connected and swept of dead runs, the
    /// images built on the first and copied to the others.
    pub async fn open_on(
        engines: Vec<EnginePlan>,
        loaded: &[Arc<scenario::LoadedScenario>],
        out: Option<PathBuf>,
        seed: u64,
        reps: Option<u32>,
        security: docker::SecurityProfile,
        resume: bool,
    ) -> Result<Session> {
        let jobs: u16 = engines.iter().map(|e| e.jobs).sum();
        // The results folder first: a folder in use or holding another
        // run's rows is refused before anything starts.
        let t = Instant::now();
        let run = RunId::new();
        let out = out.unwrap_or_else(|| PathBuf::from("results").join(&run.0));
        let (out_lock, previous) = claim_out(&out, resume)?;
        let t = startup_phase("results folder claimed", t);
        let engines = connect_all(engines).await?;
        let docker = engines[0].docker.clone();
        let t = startup_phase("engines connected, dead runs' objects swept", t);
        let scratch = super::scratch::sweep_dead();
        if !scratch.folders.is_empty() {
            eprintln!(
                "swept {} scratch folder(s) left by a dead run",
                scratch.folders.len()
            );
        }
        for out in &scratch.marked_killed {
            eprintln!(
                "marked the run in {} as killed (its run.json said running)",
                out.display()
            );
        }
        let t = startup_phase("scratch folders swept", t);
        build_images(&docker, &families_of(loaded), false).await?;
        for e in &engines[1..] {
            let copied = images::copy(&docker, &e.docker, &families_of(loaded), &|line| {
                tracing::info!("{line}")
            })
            .await?;
            if !copied.is_empty() {
                eprintln!("engine {}: copied {}", e.plan.name, copied.join(", "));
            }
        }
        let t = startup_phase("images checked", t);
        let mut environment =
            crate::docker::environment::record(&docker, &run, &families_of(loaded), security)
                .await?;
        let t = startup_phase("tool versions read", t);
        if crate::nemesis::injector::host_binary().is_none() {
            environment.warnings.push(format!(
                "{} was not found next to the harness: syscall kills and crash points run under plain strace \
                 (the same points, several times slower)",
                crate::nemesis::injector::FILE_NAME
            ));
        }
        for w in &environment.warnings {
            eprintln!("warning: {w}");
        }
        let approaches: BTreeMap<String, String> = loaded
            .iter()
            .flat_map(|s| s.scenario.approaches())
            .map(|k| {
                (
                    k.to_string(),
                    crate::approach::approach(k).configuration(security),
                )
            })
            .collect();
        let cancel = CancellationToken::new();
        let force = CancellationToken::new();
        let signals = tokio::spawn(watch_signals(
            signal_streams()?,
            cancel.clone(),
            force.clone(),
        ));
        let meta = RunMeta {
            run_id: Some(run.0.clone()),
            status: Some(RunStatus::Running),
            seed: Some(seed),
            reps,
            jobs: Some(jobs),
            scenarios: loaded
                .iter()
                .map(|s| s.path.display().to_string())
                .collect(),
            started: Some(
                time::OffsetDateTime::now_utc()
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
            ),
            harness_version: Some(env!("CARGO_PKG_VERSION").to_string()),
            security_profile: Some(security),
            security_profile_detail: Some(format!(
                "{}; {}",
                security.describe(),
                crate::docker::Limits::describe()
            )),
            approaches,
            environment: Some(environment),
            resumed_from: previous
                .map(|p| p.resumed_from.into_iter().chain(p.run_id).collect())
                .unwrap_or_default(),
            engines: engines_meta(&engines),
            format_version: Some(crate::export::run_meta::FORMAT_VERSION),
            harness_commit: Some(crate::export::run_meta::HARNESS_COMMIT.to_string()),
        };
        meta.write(&out)?;
        let fixtures_root = super::scratch::create(&run, &out)?;
        startup_phase("run.json and scratch folder written", t);
        Ok(Session {
            docker,
            engines,
            run,
            out,
            fixtures_root,
            cancel,
            force,
            tracker: TaskTracker::new(),
            signals,
            meta,
            _out_lock: out_lock,
            security,
        })
    }

    /// Fixtures of every scenario, each in its own folder of the scratch
    /// folder, with the image that fills its volume (one the engines have).
    pub fn write_fixture_folders(
        &self,
        loaded: &[Arc<scenario::LoadedScenario>],
    ) -> Result<Vec<FixtureFolder>> {
        let mut folders = Vec::new();
        for s in loaded {
            // Validated when loaded; checked again so no name can write
            // outside the run's scratch folder.
            let dir = scenario::limits::scratch_dir(&self.fixtures_root, &s.scenario.scenario.name)
                .map_err(Error::Usage)?;
            payload::write_fixtures(&s.scenario, &dir)
                .map_err(|e| Error::io(format!("writing fixtures to {}", dir.display()), e))?;
            crate::nemesis::injector::ship(&dir).map_err(|e| {
                Error::io(format!("copying the kill injector to {}", dir.display()), e)
            })?;
            folders.push(FixtureFolder {
                scenario: s.scenario.scenario.name.clone(),
                dir,
                image: families_of(std::slice::from_ref(s))[0].image(),
            });
        }
        Ok(folders)
    }

    /// The fixtures' volumes on `docker` (scenario name → volume), filled
    /// from `folders`. In a task of the tracker: an interrupted start-up
    /// still finishes (or fails) the fill before the final sweep.
    pub async fn fixture_volumes(
        &self,
        docker: &bollard::Docker,
        folders: &[FixtureFolder],
    ) -> Result<HashMap<String, String>> {
        // All at once: each fill is a few round trips, mostly waiting.
        let fills: Vec<_> = folders
            .iter()
            .map(|f| {
                let volume = docker::fixtures::volume_name(&self.run, &f.scenario);
                let (d, run, v, dir, image) = (
                    docker.clone(),
                    self.run.clone(),
                    volume.clone(),
                    f.dir.clone(),
                    f.image.clone(),
                );
                let fill = self.tracker.spawn(async move {
                    docker::fixtures::fill_volume(&d, &run, &v, &dir, &image).await
                });
                (f.scenario.clone(), volume, fill)
            })
            .collect();
        let mut volumes = HashMap::new();
        for (scenario, volume, fill) in fills {
            fill.await
                .map_err(|e| Error::Usage(format!("fixtures task failed: {e}")))??;
            volumes.insert(scenario, volume);
        }
        Ok(volumes)
    }

    /// One executor per engine, each with its fixtures volumes: its
    /// containers, warm pool and committed set-up images all live there.
    pub async fn executors(
        &self,
        loaded: &[Arc<scenario::LoadedScenario>],
    ) -> Result<Vec<crate::runner::Engine<DockerExecutor>>> {
        let folders = self.write_fixture_folders(loaded)?;
        let volumes = futures_util::future::try_join_all(
            self.engines
                .iter()
                .map(|e| self.fixture_volumes(&e.docker, &folders)),
        )
        .await?;
        Ok(self
            .engines
            .iter()
            .zip(volumes)
            .map(|(e, fixtures)| crate::runner::Engine {
                name: e.plan.name.clone(),
                executor: Arc::new(
                    DockerExecutor::new(
                        e.docker.clone(),
                        self.run.clone(),
                        fixtures,
                        self.tracker.clone(),
                    )
                    .with_security(self.security),
                ),
                jobs: e.plan.jobs as usize,
            })
            .collect())
    }

    /// ` on NAME (N jobs), …` for a run with `--engine`; empty without.
    pub fn engines_line(&self) -> String {
        match self.engines.as_slice() {
            [one] if one.plan.url.is_none() => String::new(),
            several => format!(
                " on {}",
                several
                    .iter()
                    .map(|e| format!("{} ({} jobs)", e.plan.name, e.plan.jobs))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// Runs the command's body; after an interrupt it gets 30 s to stop
    /// (none after a second one).
    pub async fn guard(&self, body: impl std::future::Future<Output = Result<i32>>) -> Result<i32> {
        tokio::select! {
            r = body => r,
            _ = self.force.cancelled() => Ok(exit::INTERRUPTED),
            _ = async { self.cancel.cancelled().await; tokio::time::sleep(Duration::from_secs(30)).await } => {
                eprintln!("trials did not stop within 30 s of the interrupt; removing containers anyway");
                Ok(exit::INTERRUPTED)
            }
        }
    }

    /// Every way out passes here: normal end, error, Ctrl-C. Container
    /// creations and removals still in flight finish first.
    pub async fn close(mut self, result: Result<i32>) -> Result<i32> {
        // The signal watcher stays up until the end: a signal during the
        // clean-up must still reach it (tokio never restores the default).
        self.tracker.close();
        self.tracker.wait().await;
        let mut swept = Ok(docker::SweepReport::default());
        for e in &self.engines {
            if let Err(err) = docker::sweep(&e.docker, Some(&self.run)).await {
                swept = Err(err);
            }
        }
        std::fs::remove_dir_all(&self.fixtures_root).ok();
        self.meta.status = Some(match &result {
            Ok(c) if *c == exit::INTERRUPTED => RunStatus::Interrupted,
            Ok(c) if *c == exit::DOCKER_UNREACHABLE => RunStatus::Failed,
            Ok(_) => RunStatus::Finished,
            Err(_) => RunStatus::Failed,
        });
        self.meta.write(&self.out)?;
        self.signals.abort();
        let code = result?;
        match swept {
            // Without an engine nothing can be removed now; the next start
            // sweeps this run's containers.
            Err(e) if code == exit::DOCKER_UNREACHABLE => {
                eprintln!("warning: this run's containers were not removed ({e}); the next start sweeps them");
                Ok(code)
            }
            Err(e) => Err(e.into()),
            Ok(_) => Ok(code),
        }
    }
}

/// Every engine's base manifests of `families`, read from the cache or
/// scanned, before the first container of the work: so no trial's or
/// point's wall time includes a scan. Scans of different images run side by
/// side, `jobs` at a time. An image has the same id on every engine (a copy
/// keeps it), so the cache serves them all.
pub(crate) async fn base_manifests(
    engines: &[crate::runner::Engine<DockerExecutor>],
    families: &[Family],
    jobs: u16,
) -> Result<()> {
    use futures_util::{StreamExt, TryStreamExt};
    let pairs: Vec<(Arc<DockerExecutor>, Family)> = engines
        .iter()
        .flat_map(|e| families.iter().map(|&f| (e.executor.clone(), f)))
        .collect();
    futures_util::stream::iter(pairs)
        .map(|(executor, f)| async move { executor.base_manifest(f).await })
        .buffer_unordered(jobs.max(1) as usize)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}

/// A scenario's fixtures on the host, before they go into each engine's
/// volume.
pub(crate) struct FixtureFolder {
    pub scenario: String,
    pub dir: PathBuf,
    /// An image of the scenario's, to fill the volume with.
    pub image: String,
}

/// Connects every engine and sweeps what dead runs left on it.
async fn connect_all(plans: Vec<EnginePlan>) -> Result<Vec<Engine>> {
    let several = plans.len() > 1;
    let mut engines = Vec::new();
    for plan in plans {
        let docker = docker::engines::connect_to(plan.url.as_deref()).await?;
        let swept = docker::sweep_dead_runs(&docker).await?;
        if swept.total() > 0 {
            let on = if several {
                format!(" on engine {}", plan.name)
            } else {
                String::new()
            };
            eprintln!(
                "swept {} container(s), {} network(s), {} volume(s), {} image(s) left by a dead run{on}",
                swept.containers, swept.networks, swept.volumes, swept.images
            );
        }
        engines.push(Engine { plan, docker });
    }
    Ok(engines)
}

/// run.json's engine list: empty for the one default engine.
fn engines_meta(engines: &[Engine]) -> Vec<EngineMeta> {
    engines
        .iter()
        .filter_map(|e| {
            Some(EngineMeta {
                name: e.plan.name.clone(),
                url: e.plan.url.clone()?,
                jobs: e.plan.jobs,
            })
        })
        .collect()
}

/// Creates and locks the results folder. Refused: a folder another process
/// holds (its `.lock`), and a folder with results unless `resume` (then
/// its run.json, the run being resumed, is returned).
fn claim_out(out: &Path, resume: bool) -> Result<(std::fs::File, Option<RunMeta>)> {
    std::fs::create_dir_all(out)
        .map_err(|e| Error::io(format!("creating {}", out.display()), e))?;
    let lock_path = out.join(".lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::io(format!("opening {}", lock_path.display()), e))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(Error::Usage(format!(
                "results folder {} is in use by another mistake-cost process (it holds {})",
                out.display(),
                lock_path.display()
            )))
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(Error::io(format!("locking {}", lock_path.display()), e))
        }
    }
    let holds_results = std::fs::read_dir(out)
        .map_err(|e| Error::io(format!("reading {}", out.display()), e))?
        .flatten()
        .any(|e| e.file_name() != ".lock");
    match (resume, holds_results) {
        (false, true) => Err(Error::Usage(format!(
            "results folder {} is not empty: pass --resume to finish the run recorded there, or choose another --out",
            out.display()
        ))),
        (true, _) if !out.join("run.json").is_file() => Err(Error::Usage(format!(
            "--resume: {} holds no run.json, so there is no run to resume",
            out.display()
        ))),
        (true, _) => Ok((lock, Some(RunMeta::read(out)?))),
        (false, false) => Ok((lock, None)),
    }
}

/// Logs a start-up phase's time (`MISTAKE_COST_LOG=info`: where the time
/// before the first trial goes) and starts the next one's clock.
pub(crate) fn startup_phase(done: &str, since: Instant) -> Instant {
    tracing::info!(
        "start-up: {done} in {:.0} ms",
        since.elapsed().as_secs_f64() * 1000.0
    );
    Instant::now()
}

/// SIGINT, SIGTERM and SIGHUP (an ssh session that drops) all interrupt.
struct SignalStreams([tokio::signal::unix::Signal; 3]);

/// Registers the handlers now (not when a task first runs), so no signal
/// can arrive unhandled and kill the process with containers up.
fn signal_streams() -> Result<SignalStreams> {
    use tokio::signal::unix::{signal, SignalKind};
    let one = |kind: SignalKind, name: &str| {
        signal(kind).map_err(|e| Error::io(format!("installing the {name} handler"), e))
    };
    Ok(SignalStreams([
        one(SignalKind::interrupt(), "SIGINT")?,
        one(SignalKind::terminate(), "SIGTERM")?,
        one(SignalKind::hangup(), "SIGHUP")?,
    ]))
}

impl SignalStreams {
    async fn next(&mut self) {
        let [int, term, hup] = &mut self.0;
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
    }
}

pub(crate) fn families_of(loaded: &[Arc<scenario::LoadedScenario>]) -> Vec<Family> {
    let set: BTreeSet<Family> = loaded
        .iter()
        .flat_map(|s| s.scenario.approaches())
        .map(|k| crate::approach::approach(k).family())
        .collect();
    set.into_iter().collect()
}

/// First signal: stop the trials (they get 30 s). Second: stop waiting
/// for them and sweep now. Third: exit at once; the next run's start
/// sweeps what is left.
async fn watch_signals(
    mut signals: SignalStreams,
    cancel: CancellationToken,
    force: CancellationToken,
) {
    signals.next().await;
    eprintln!("\ninterrupted: stopping trials and removing this run's containers… (again to stop waiting)");
    cancel.cancel();
    signals.next().await;
    eprintln!(
        "\nnot waiting for the trials: removing this run's containers now… (again to exit at once)"
    );
    force.cancel();
    signals.next().await;
    eprintln!(
        "\nexiting without clean-up: the next run sweeps this run's containers and scratch folder"
    );
    std::process::exit(exit::INTERRUPTED);
}
