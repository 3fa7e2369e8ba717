//! The session every Docker-running command opens: engine, run id, results
//! folder, run.json, signal handling, and the sweep on every way out.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::build_images;
use crate::docker::images::Family;
use crate::docker::{self, RunId};
use crate::error::{exit, Error, Result};
use crate::{payload, scenario};

/// What every Docker-running command shares: the engine, the run id and its
/// results folder, signals caught from before the first container exists,
/// tracked Docker calls, and the final sweep that every way out passes.
pub(crate) struct Session {
    pub docker: bollard::Docker,
    pub run: RunId,
    pub out: PathBuf,
    pub fixtures_root: PathBuf,
    pub cancel: CancellationToken,
    pub tracker: TaskTracker,
    signals: tokio::task::JoinHandle<()>,
    meta: RunMeta,
    pub security: docker::SecurityProfile,
}

impl Session {
    pub async fn open(
        loaded: &[Arc<scenario::LoadedScenario>],
        out: Option<PathBuf>,
        seed: u64,
        reps: Option<u32>,
        jobs: u16,
        security: docker::SecurityProfile,
    ) -> Result<Session> {
        let docker = docker::connect().await?;
        let swept = docker::sweep_dead_runs(&docker).await?;
        if swept.total() > 0 {
            eprintln!(
                "swept {} container(s), {} network(s), {} volume(s) left by a dead run",
                swept.containers, swept.networks, swept.volumes
            );
        }
        build_images(&docker, &families_of(loaded), false).await?;
        let run = RunId::new();
        let environment =
            crate::docker::environment::record(&docker, &run, &families_of(loaded), security)
                .await?;
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
        let out = out.unwrap_or_else(|| PathBuf::from("results").join(&run.0));
        std::fs::create_dir_all(&out)
            .map_err(|e| Error::io(format!("creating {}", out.display()), e))?;
        let cancel = CancellationToken::new();
        let signals = tokio::spawn(watch_signals(signal_streams()?, cancel.clone()));
        let meta = RunMeta {
            run_id: run.0.clone(),
            status: "running".into(),
            seed,
            reps,
            jobs,
            scenarios: loaded
                .iter()
                .map(|s| s.path.display().to_string())
                .collect(),
            started: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            harness_version: env!("CARGO_PKG_VERSION").to_string(),
            security_profile: security,
            security_profile_detail: security.describe(),
            approaches,
            environment,
        };
        write_meta(&out, &meta)?;
        let fixtures_root = std::env::temp_dir().join(format!("mistake-cost-{run}"));
        Ok(Session {
            docker,
            run,
            out,
            fixtures_root,
            cancel,
            tracker: TaskTracker::new(),
            signals,
            meta,
            security,
        })
    }

    /// Fixtures of every scenario, each in its own folder.
    pub fn write_fixtures(
        &self,
        loaded: &[Arc<scenario::LoadedScenario>],
    ) -> Result<HashMap<String, PathBuf>> {
        let mut fixtures = HashMap::new();
        for s in loaded {
            // Validated when loaded; checked again so no name can write
            // outside the run's scratch folder.
            let dir = scenario::limits::scratch_dir(&self.fixtures_root, &s.scenario.scenario.name)
                .map_err(Error::Usage)?;
            payload::write_fixtures(&s.scenario, &dir)
                .map_err(|e| Error::io(format!("writing fixtures to {}", dir.display()), e))?;
            fixtures.insert(s.scenario.scenario.name.clone(), dir);
        }
        Ok(fixtures)
    }

    /// Runs the command's body; after an interrupt it gets 30 s to stop.
    pub async fn guard(&self, body: impl std::future::Future<Output = Result<i32>>) -> Result<i32> {
        tokio::select! {
            r = body => r,
            _ = async { self.cancel.cancelled().await; tokio::time::sleep(Duration::from_secs(30)).await } => {
                eprintln!("trials did not stop within 30 s of the interrupt; removing containers anyway");
                Ok(exit::INTERRUPTED)
            }
        }
    }

    /// Every way out passes here: normal end, error, Ctrl-C. Container
    /// creations and removals still in flight finish first.
    pub async fn close(mut self, result: Result<i32>) -> Result<i32> {
        self.signals.abort();
        self.tracker.close();
        self.tracker.wait().await;
        let swept = docker::sweep(&self.docker, Some(&self.run)).await;
        std::fs::remove_dir_all(&self.fixtures_root).ok();
        self.meta.status = match &result {
            Ok(c) if *c == exit::INTERRUPTED => "interrupted",
            Ok(_) => "finished",
            Err(_) => "failed",
        }
        .into();
        write_meta(&self.out, &self.meta)?;
        let code = result?;
        swept?;
        Ok(code)
    }
}

/// `run.json`: what ran and how it ended, beside the results.
#[derive(serde::Serialize)]
pub(crate) struct RunMeta {
    run_id: String,
    status: String,
    seed: u64,
    reps: Option<u32>,
    jobs: u16,
    scenarios: Vec<String>,
    started: String,
    harness_version: String,
    /// Shared by every container of the run.
    security_profile: docker::SecurityProfile,
    security_profile_detail: String,
    /// Approach → how it is configured under that profile.
    approaches: BTreeMap<String, String>,
    /// Tool versions and image ids, read from the images themselves.
    environment: crate::docker::environment::Environment,
}

/// Written to a temporary name and renamed: never half-written.
fn write_meta(out: &Path, meta: &RunMeta) -> Result<()> {
    let tmp = out.join(".run.json.tmp");
    let text = serde_json::to_string_pretty(meta).expect("plain data serializes");
    std::fs::write(&tmp, text + "\n")
        .map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    std::fs::rename(&tmp, out.join("run.json"))
        .map_err(|e| Error::io("renaming run.json into place", e))
}

type SignalStreams = (tokio::signal::unix::Signal, tokio::signal::unix::Signal);

/// Registers for SIGINT and SIGTERM now (not when a task first runs), so no
/// signal can arrive unhandled and kill the process with containers up.
fn signal_streams() -> Result<SignalStreams> {
    use tokio::signal::unix::{signal, SignalKind};
    let int = signal(SignalKind::interrupt())
        .map_err(|e| Error::io("installing the SIGINT handler", e))?;
    let term = signal(SignalKind::terminate())
        .map_err(|e| Error::io("installing the SIGTERM handler", e))?;
    Ok((int, term))
}

pub(crate) fn families_of(loaded: &[Arc<scenario::LoadedScenario>]) -> Vec<Family> {
    let set: BTreeSet<Family> = loaded
        .iter()
        .flat_map(|s| s.scenario.approaches())
        .map(Family::of)
        .collect();
    set.into_iter().collect()
}

async fn watch_signals((mut int, mut term): SignalStreams, cancel: CancellationToken) {
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    eprintln!("\ninterrupted: stopping trials and removing this run's containers…");
    cancel.cancel();
}
