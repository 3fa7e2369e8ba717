//! What the harness adds around a trial, on real Docker with the matched
//! image: (a) a bare container lifecycle through bollard, (b) the floor of a
//! trial (a Sandbox, an exec, one snapshot as a trial takes it, removal).
//! Prints the ratio (b)/(a). Every container carries this bench run's
//! `mistake-cost.run` label and is removed on every exit, panics included.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder};
use bollard::Docker;
use criterion::{Criterion, SamplingMode};
use futures_util::StreamExt;
use mistake_cost::approach::{approach, kind};
use mistake_cost::docker::images::Family;
use mistake_cost::docker::{self, DockerError, RunId, Sandbox, SandboxSpec};
use mistake_cost::history::History;
use mistake_cost::runner::DockerExecutor;
use mistake_cost::snapshot::manifest::Manifest;
use tokio_util::task::TaskTracker;

/// Removes this bench run's containers when dropped: at the normal end and
/// while a panic unwinds. Only this run's label: never other runs' objects.
struct Cleanup {
    run: RunId,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            let Ok(d) = docker::connect().await else {
                return;
            };
            match docker::sweep(&d, Some(&self.run)).await {
                Ok(r) if r.containers > 0 => eprintln!(
                    "trial_overhead: removed {} leftover containers of run {}",
                    r.containers, self.run
                ),
                Ok(_) => {}
                Err(e) => eprintln!("trial_overhead: cleaning up run {} failed: {e}", self.run),
            }
        });
    }
}

/// Per-iteration wall times, kept beside criterion's so the ratio and the
/// floor's parts can be printed from the same runs.
#[derive(Default)]
struct Samples {
    bare: Vec<f64>,
    floor: Vec<f64>,
    /// start, exec, snapshot, remove (ms) per floor trial.
    parts: Vec<[f64; 4]>,
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// (a) create, start, exec `true`, remove: the least any trial costs.
async fn bare(
    docker: &Docker,
    run: &RunId,
    image: &str,
    i: usize,
) -> Result<(), bollard::errors::Error> {
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        cmd: Some(vec!["sleep".into(), "infinity".into()]),
        labels: Some(run.labels()),
        network_disabled: Some(true),
        host_config: Some(HostConfig {
            network_mode: Some("none".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let name = format!("mc-{run}-bare{i}");
    let created = docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(&name).build()),
            body,
        )
        .await?;
    let result = async {
        docker.start_container(&created.id, None).await?;
        let exec = docker
            .create_exec(
                &created.id,
                CreateExecOptions {
                    cmd: Some(vec!["true".to_string()]),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await?;
        if let StartExecResults::Attached { mut output, .. } =
            docker.start_exec(&exec.id, None).await?
        {
            while let Some(chunk) = output.next().await {
                chunk?;
            }
        }
        let code = docker.inspect_exec(&exec.id).await?.exit_code;
        assert_eq!(code, Some(0), "`true` in a bare container");
        Ok(())
    }
    .await;
    docker
        .remove_container(
            &created.id,
            Some(
                RemoveContainerOptionsBuilder::default()
                    .force(true)
                    .v(true)
                    .build(),
            ),
        )
        .await?;
    result
}

fn history() -> History {
    History::new("bench", mistake_cost::approach::kind("apt"), "none", 0, 0)
}

/// (b) the harness's floor trial: its Sandbox (limits, init, labels, the
/// overlay lookup), an exec of `true`, one snapshot through the executor's
/// own code path, removal. Returns its parts in ms.
async fn floor(
    ex: &DockerExecutor,
    docker: &Docker,
    run: &RunId,
    tracker: &TaskTracker,
    base: &Arc<Manifest>,
    i: usize,
) -> Result<[f64; 4], DockerError> {
    let a = approach(kind("apt"));
    let spec = SandboxSpec::new(Family::Apt.image(), format!("mc-{run}-floor{i}"));
    let t = Instant::now();
    let mut sandbox = Sandbox::start(docker, run, &spec, tracker).await?;
    let start = ms(t);
    let result = async {
        let t = Instant::now();
        let out = sandbox
            .exec(&["true".to_string()], None, Duration::from_secs(60))
            .await?;
        assert_eq!(out.exit_code, 0, "`true` in a sandbox");
        let exec = ms(t);
        let mut h = history();
        ex.snapshot(&sandbox, a.as_ref(), base, &mut h).await?;
        Ok::<_, DockerError>((exec, h.timings.snapshot_ms))
    }
    .await;
    let t = Instant::now();
    sandbox.remove().await?;
    let remove = ms(t);
    let (exec, snapshot) = result?;
    Ok([start, exec, snapshot, remove])
}

fn main() {
    // Declared first, dropped last: after the runtime and every sandbox.
    let run = RunId::new();
    let _cleanup = Cleanup { run: run.clone() };
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let image = Family::Apt.image();
    let docker = match rt.block_on(docker::connect()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("trial_overhead: skipped, Docker's engine is not reachable: {e}");
            return;
        }
    };
    if rt.block_on(docker.inspect_image(&image)).is_err() {
        eprintln!("trial_overhead: skipped, image {image} is missing (build it: mistake-cost images build)");
        return;
    }
    let tracker = TaskTracker::new();
    let ex = DockerExecutor::new(
        docker.clone(),
        run.clone(),
        Default::default(),
        tracker.clone(),
    );
    // The base manifest is read (cached) or scanned once per run, before
    // any trial: not part of a trial.
    let base = rt
        .block_on(ex.base_manifest(Family::Apt))
        .expect("scanning the apt image's base manifest");
    eprintln!(
        "trial_overhead: run {run}, image {image}, base manifest {} paths",
        base.len()
    );

    let samples = Mutex::new(Samples::default());
    let counter = AtomicUsize::new(0);
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    {
        let mut g = c.benchmark_group("trial_overhead");
        // Seconds per iteration: one iteration per sample, not 1..=10.
        g.sampling_mode(SamplingMode::Flat).sample_size(10);
        g.bench_function("a_bare_lifecycle", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let i = counter.fetch_add(1, Ordering::Relaxed);
                    let t = Instant::now();
                    rt.block_on(bare(&docker, &run, &image, i))
                        .expect("bare container lifecycle");
                    let d = t.elapsed();
                    samples.lock().unwrap().bare.push(d.as_secs_f64() * 1000.0);
                    total += d;
                }
                total
            })
        });
        g.bench_function("b_floor_trial", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let i = counter.fetch_add(1, Ordering::Relaxed);
                    let t = Instant::now();
                    let parts = rt
                        .block_on(floor(&ex, &docker, &run, &tracker, &base, i))
                        .expect("floor trial");
                    let d = t.elapsed();
                    let mut s = samples.lock().unwrap();
                    s.floor.push(d.as_secs_f64() * 1000.0);
                    s.parts.push(parts);
                    total += d;
                }
                total
            })
        });
        g.finish();
    }
    c.final_summary();
    tracker.close();
    rt.block_on(tracker.wait());

    let s = samples.lock().unwrap();
    if s.bare.is_empty() || s.floor.is_empty() {
        return;
    }
    let (a, b) = (median(&s.bare), median(&s.floor));
    let part = |k: usize| median(&s.parts.iter().map(|p| p[k]).collect::<Vec<_>>());
    println!();
    println!("trial_overhead summary (medians of every timed iteration, warm-up included; small samples):");
    println!("  (a) bare lifecycle   {a:8.1} ms  (n={})", s.bare.len());
    println!("  (b) floor trial      {b:8.1} ms  (n={})", s.floor.len());
    println!(
        "      start {:.1} ms, exec `true` {:.1} ms, snapshot {:.1} ms, remove {:.1} ms",
        part(0),
        part(1),
        part(2),
        part(3)
    );
    println!("  ratio (b)/(a)        {:8.2}", b / a);
}
