//! A sandbox is one container for one trial: no network, memory and pid
//! limits, not privileged, fixtures (a volume) mounted read-only. It is removed
//! explicitly at the end of a trial and, as a fallback, when dropped.

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder};
use bollard::Docker;
use futures_util::StreamExt;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio_util::task::TaskTracker;

use super::changes::{self, ChangedPaths};
use super::session::{Failure, Session};
use super::{DockerError, RunId, SecurityProfile};

/// What a sandbox is made from.
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    pub image: String,
    pub name: String,
    /// Volume mounted read-only at /fixtures (`docker::fixtures`): filled
    /// through the engine's API, so the engine may be remote.
    pub fixtures: Option<String>,
    pub memory_bytes: i64,
    pub pids_limit: i64,
    /// CPU time, in billionths of a CPU (Docker's `NanoCpus`).
    pub nano_cpus: i64,
    /// False by default: scenarios are hermetic unless they ask.
    pub network: bool,
    /// A network of the harness's own to join instead (a fleet's internal
    /// network, `docker::create_internal_network`): its name, which is also
    /// how the other containers on it reach this one.
    pub attach: Option<String>,
    /// Capabilities the profile drops that this container keeps: a fleet
    /// node's sshd writes an audit record when it opens a terminal
    /// session (Ansible's `ssh -tt`), which fails without AUDIT_WRITE.
    pub keep_caps: Vec<String>,
    /// Shared by every container of a run.
    pub security: SecurityProfile,
    /// `NAME=value` for every process in the container.
    pub env: Vec<String>,
    /// The main process (default: `sleep infinity`).
    pub cmd: Vec<String>,
}

impl SandboxSpec {
    pub fn new(image: impl Into<String>, name: impl Into<String>) -> Self {
        SandboxSpec {
            image: image.into(),
            name: name.into(),
            fixtures: None,
            memory_bytes: Limits::DEFAULT.memory_bytes,
            pids_limit: Limits::DEFAULT.pids,
            nano_cpus: Limits::cpus_default() * 1_000_000_000,
            network: false,
            attach: None,
            keep_caps: Vec::new(),
            security: SecurityProfile::Default,
            env: Vec::new(),
            cmd: vec!["sleep".into(), "infinity".into()],
        }
    }
}

/// The resource limits every sandbox gets, the same for every approach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub memory_bytes: i64,
    pub pids: i64,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        memory_bytes: 2 << 30,
        pids: 2048,
    };

    /// Whole CPUs one container may use: all but one of the host's (at
    /// least one), so a container that spins cannot take the whole host
    /// away from the harness that times it. dpkg, pip and a trivial Nix
    /// build are single-threaded, so on the 2-core machines this costs the
    /// measured operations nothing.
    pub fn cpus_default() -> i64 {
        let host = std::thread::available_parallelism().map_or(1, |n| n.get());
        host.saturating_sub(1).max(1) as i64
    }

    /// For run.json and the report's environment section.
    pub fn describe() -> String {
        format!(
            "per container: at most {} CPU(s), {} MiB memory and no swap, {} processes",
            Limits::cpus_default(),
            Limits::DEFAULT.memory_bytes >> 20,
            Limits::DEFAULT.pids
        )
    }
}

/// Output of one exec, stdout and stderr kept apart.
#[derive(Debug, Clone, Default)]
pub struct ExecOutput {
    pub exit_code: i64,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Limits on what one exec may collect. An exec's output is always kept
/// whole: past `max_output_bytes` (stdout and stderr together) the exec
/// fails with [`DockerError::OutputTooLarge`] instead of keeping a cut
/// output, because a cut package view or file list silently invents
/// changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecLimits {
    pub max_output_bytes: usize,
}

impl ExecLimits {
    /// For measurement reads (package views, hash lists, manifests, logs
    /// read back): far above any real one (a whole image's manifest is a
    /// few MiB), low enough that a runaway command cannot exhaust memory.
    pub const MEASUREMENT: ExecLimits = ExecLimits {
        max_output_bytes: 64 << 20,
    };
}

impl Default for ExecLimits {
    fn default() -> Self {
        ExecLimits::MEASUREMENT
    }
}

/// Collects an exec's output chunks whole, up to a cap.
#[derive(Debug)]
struct Collector {
    out: ExecOutput,
    limit: usize,
}

impl Collector {
    fn new(limits: ExecLimits) -> Self {
        Collector {
            out: ExecOutput::default(),
            limit: limits.max_output_bytes,
        }
    }

    /// Adds a chunk; `Err(limit)` once stdout and stderr together would
    /// exceed the cap (nothing of the chunk is kept then).
    fn push(&mut self, chunk: LogOutput) -> Result<(), usize> {
        let held = self.out.stdout.len() + self.out.stderr.len();
        let (buf, message) = match chunk {
            LogOutput::StdErr { message } => (&mut self.out.stderr, message),
            LogOutput::StdOut { message } | LogOutput::Console { message } => {
                (&mut self.out.stdout, message)
            }
            LogOutput::StdIn { .. } => return Ok(()),
        };
        if held + message.len() > self.limit {
            return Err(self.limit);
        }
        buf.extend_from_slice(&message);
        Ok(())
    }
}

pub struct Sandbox {
    /// The engine (the docker module's own: `fixtures::put_files`).
    pub(super) docker: Docker,
    pub id: String,
    pub name: String,
    removed: bool,
    tracker: TaskTracker,
    /// overlay2's upper directory, when readable from here (fast diffs).
    upper_dir: Option<PathBuf>,
    /// The agent session that carries execs (`docker::session`); None until
    /// the first exec, and again after one was abandoned.
    session: tokio::sync::Mutex<Option<Session>>,
    /// Container restarts so far: a session opened before one is dead.
    restarts: std::sync::atomic::AtomicU64,
}

async fn create_and_start(
    docker: &Docker,
    run: &RunId,
    spec: &SandboxSpec,
) -> Result<String, DockerError> {
    let mounts = spec
        .fixtures
        .as_ref()
        .map(|volume| vec![super::fixtures::mount(volume, true)]);
    let host_config = HostConfig {
        mounts,
        network_mode: Some(match (&spec.attach, spec.network) {
            (Some(name), _) => name.clone(),
            (None, true) => "bridge".into(),
            (None, false) => "none".into(),
        }),
        memory: Some(spec.memory_bytes),
        // Memory and swap together: the same limit, so no swap at all.
        memory_swap: Some(spec.memory_bytes),
        pids_limit: Some(spec.pids_limit),
        nano_cpus: Some(spec.nano_cpus),
        privileged: Some(false),
        cap_add: Some(spec.security.cap_add()).filter(|c| !c.is_empty()),
        cap_drop: Some(
            spec.security
                .cap_drop()
                .into_iter()
                .filter(|c| !spec.keep_caps.contains(c))
                .collect(),
        ),
        security_opt: Some(spec.security.security_opt()).filter(|o| !o.is_empty()),
        masked_paths: spec.security.unconfined_system_paths().then(Vec::new),
        readonly_paths: spec.security.unconfined_system_paths().then(Vec::new),
        // docker-init reaps the zombies a killed package manager leaves.
        init: Some(true),
        ..Default::default()
    };
    let body = ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: Some(spec.cmd.clone()),
        env: Some(spec.env.clone()).filter(|e| !e.is_empty()),
        labels: Some(run.labels()),
        network_disabled: Some(!spec.network && spec.attach.is_none()),
        host_config: Some(host_config),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default()
        .name(&spec.name)
        .build();
    let created = docker
        .create_container(Some(options), body)
        .await
        .map_err(DockerError::api(format!(
            "creating container {} from {}",
            spec.name, spec.image
        )))?;
    if let Err(e) = super::retry::with_backoff(|| docker.start_container(&created.id, None)).await {
        remove_quietly(docker, &created.id).await;
        return Err(DockerError::Api {
            context: format!("starting container {}", spec.name),
            source: e,
        });
    }
    Ok(created.id)
}

async fn remove_quietly(docker: &Docker, id: &str) {
    let options = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    let _ = docker.remove_container(id, Some(options)).await;
}

impl Sandbox {
    /// Creates and starts the container. The Docker calls run in a task of
    /// `tracker`: if this future is dropped mid-way (a cancelled trial), the
    /// task still finishes and removes what it created, and the run waits
    /// for the tracker before its final sweep, so nothing is created after it.
    pub async fn start(
        docker: &Docker,
        run: &RunId,
        spec: &SandboxSpec,
        tracker: &TaskTracker,
    ) -> Result<Sandbox, DockerError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (d, r, sp) = (docker.clone(), run.clone(), spec.clone());
        tracker.spawn(async move {
            let created = create_and_start(&d, &r, &sp).await;
            if let Err(Ok(id)) = tx.send(created) {
                remove_quietly(&d, &id).await;
            }
        });
        let id = rx
            .await
            .map_err(|_| DockerError::Other("container creation task vanished".into()))??;
        let mut sandbox = Sandbox {
            docker: docker.clone(),
            id,
            name: spec.name.clone(),
            removed: false,
            tracker: tracker.clone(),
            upper_dir: None,
            session: tokio::sync::Mutex::new(None),
            restarts: std::sync::atomic::AtomicU64::new(0),
        };
        if std::env::var_os("MISTAKE_COST_ENGINE_DIFF").is_none() {
            let info = docker
                .inspect_container(&sandbox.id, None)
                .await
                .map_err(DockerError::api(format!("inspecting {}", spec.name)))?;
            sandbox.upper_dir = changes::usable_upper_dir(info.graph_driver.as_ref());
        }
        Ok(sandbox)
    }

    /// Runs `cmd` in the container, optionally feeding `stdin`, and waits
    /// for it (at most `timeout`). The output is kept whole, up to
    /// [`ExecLimits::MEASUREMENT`]; beyond it the exec fails.
    pub async fn exec(
        &self,
        cmd: &[String],
        stdin: Option<Vec<u8>>,
        timeout: Duration,
    ) -> Result<ExecOutput, DockerError> {
        self.exec_limited(cmd, stdin, timeout, ExecLimits::default())
            .await
    }

    /// `exec` with explicit limits: output beyond `limits.max_output_bytes`
    /// is [`DockerError::OutputTooLarge`], never a silently cut output.
    ///
    /// The command goes through the container's agent session when it is
    /// free (one exec per container instead of one per command), else, or
    /// with MISTAKE_COST_NO_SESSION set, through an exec of its own. Either
    /// way it runs as `docker exec` runs it: same environment, no terminal,
    /// its own stdin.
    pub async fn exec_limited(
        &self,
        cmd: &[String],
        stdin: Option<Vec<u8>>,
        timeout: Duration,
        limits: ExecLimits,
    ) -> Result<ExecOutput, DockerError> {
        if std::env::var_os("MISTAKE_COST_NO_SESSION").is_none() {
            if let Ok(mut slot) = self.session.try_lock() {
                if let Some(done) = self
                    .exec_in_session(&mut slot, cmd, stdin.as_deref(), timeout, limits)
                    .await
                {
                    return done;
                }
            }
        }
        self.exec_alone(cmd, stdin, timeout, limits).await
    }

    /// Opens the agent session ahead of need (a container pool does this
    /// off the critical path). Failing to open is not an error: execs then
    /// go alone.
    pub async fn open_session(&self) {
        let mut slot = self.session.lock().await;
        let generation = self.restarts.load(std::sync::atomic::Ordering::SeqCst);
        if slot.as_ref().is_none_or(|s| s.generation != generation) {
            *slot = Session::open(&self.docker, &self.id, generation).await.ok();
        }
    }

    /// One request in the session; None when no session could be opened
    /// (the caller then execs alone). A request that does not complete
    /// leaves the slot empty: its session's stream is in an unknown place.
    async fn exec_in_session(
        &self,
        slot: &mut Option<Session>,
        cmd: &[String],
        stdin: Option<&[u8]>,
        timeout: Duration,
        limits: ExecLimits,
    ) -> Option<Result<ExecOutput, DockerError>> {
        let generation = self.restarts.load(std::sync::atomic::Ordering::SeqCst);
        let mut session = match slot.take() {
            Some(s) if s.generation == generation => s,
            _ => Session::open(&self.docker, &self.id, generation)
                .await
                .ok()?,
        };
        let answer = tokio::time::timeout(timeout, session.call(cmd, stdin, limits)).await;
        Some(match answer {
            Ok(Ok(out)) => {
                *slot = Some(session);
                Ok(out)
            }
            Ok(Err(Failure::TooLarge(limit))) => Err(DockerError::OutputTooLarge {
                command: cmd.join(" "),
                container: self.name.clone(),
                limit,
            }),
            Ok(Err(Failure::Broken(why))) => Err(DockerError::Other(format!(
                "`{}` in {}: {why}",
                cmd.join(" "),
                self.name
            ))),
            Err(_) => Err(self.timed_out(cmd, timeout)),
        })
    }

    fn timed_out(&self, cmd: &[String], timeout: Duration) -> DockerError {
        DockerError::Other(format!(
            "`{}` in {} did not finish within {}s",
            cmd.join(" "),
            self.name,
            timeout.as_secs()
        ))
    }

    /// `exec_limited` as an exec of its own, never through the session
    /// (public for the tests and benches that compare the two).
    pub async fn exec_alone(
        &self,
        cmd: &[String],
        stdin: Option<Vec<u8>>,
        timeout: Duration,
        limits: ExecLimits,
    ) -> Result<ExecOutput, DockerError> {
        let created = super::retry::with_backoff(|| {
            self.docker.create_exec(
                &self.id,
                CreateExecOptions {
                    attach_stdin: Some(stdin.is_some()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    cmd: Some(cmd.to_vec()),
                    ..Default::default()
                },
            )
        })
        .await
        .map_err(DockerError::api(format!(
            "creating exec `{}` in {}",
            cmd.join(" "),
            self.name
        )))?;
        let work = async {
            let started = self
                .docker
                .start_exec(
                    &created.id,
                    Some(StartExecOptions {
                        output_capacity: Some(1 << 20),
                        ..Default::default()
                    }),
                )
                .await
                .map_err(DockerError::api(format!("starting exec in {}", self.name)))?;
            let mut collected = Collector::new(limits);
            let too_large = |limit: usize| DockerError::OutputTooLarge {
                command: cmd.join(" "),
                container: self.name.clone(),
                limit,
            };
            if let StartExecResults::Attached {
                mut output,
                mut input,
            } = started
            {
                if let Some(data) = stdin {
                    // Feed stdin concurrently so a large input cannot deadlock
                    // against a full output pipe.
                    let writer = async move {
                        input.write_all(&data).await?;
                        input.shutdown().await
                    };
                    let reader = async {
                        while let Some(chunk) = output.next().await {
                            collected
                                .push(chunk.map_err(DockerError::api("reading exec output"))?)
                                .map_err(too_large)?;
                        }
                        Ok::<(), DockerError>(())
                    };
                    tokio::pin!(writer, reader);
                    // A reader error (output over the cap) ends the exec at
                    // once: the writer may be stuck behind the unread output.
                    let written = tokio::select! {
                        r = &mut reader => {
                            r?;
                            writer.await
                        }
                        w = &mut writer => {
                            reader.await?;
                            w
                        }
                    };
                    written.map_err(|e| DockerError::Other(format!("writing exec stdin: {e}")))?;
                } else {
                    drop(input);
                    while let Some(chunk) = output.next().await {
                        collected
                            .push(chunk.map_err(DockerError::api("reading exec output"))?)
                            .map_err(too_large)?;
                    }
                }
            }
            let inspected = self
                .docker
                .inspect_exec(&created.id)
                .await
                .map_err(DockerError::api("inspecting exec"))?;
            let mut out = collected.out;
            out.exit_code = inspected.exit_code.unwrap_or(-1);
            Ok(out)
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(self.timed_out(cmd, timeout)),
        }
    }

    /// Paths changed since the image: from overlay2's upper directory when
    /// it is readable here, else the engine's `docker diff`. Set
    /// MISTAKE_COST_ENGINE_DIFF=1 to always ask the engine.
    pub async fn changes(&self) -> Result<ChangedPaths, DockerError> {
        if let Some(upper) = self.upper_dir.clone() {
            let walked = tokio::task::spawn_blocking(move || changes::from_upper_dir(&upper))
                .await
                .map_err(|e| DockerError::Other(format!("walking the upper directory: {e}")))?;
            return walked.map_err(|e| {
                DockerError::Other(format!("walking the upper directory of {}: {e}", self.name))
            });
        }
        self.engine_changes().await
    }

    /// The engine's own list (`docker diff`), the reference for `changes`.
    pub async fn engine_changes(&self) -> Result<ChangedPaths, DockerError> {
        let list = self
            .docker
            .container_changes(&self.id)
            .await
            .map_err(DockerError::api(format!(
                "listing changes of {}",
                self.name
            )))?
            .unwrap_or_default();
        if list.len() > changes::MAX_CHANGED_PATHS {
            return Err(DockerError::Other(
                changes::too_many_changes(changes::MAX_CHANGED_PATHS).to_string(),
            ));
        }
        Ok(changes::from_engine(list))
    }

    /// The nearest this layer gets to a machine crash: SIGKILL to every
    /// process of the container, then a start of the same container. The
    /// file system keeps what reached it (unsynced page-cache data is not
    /// lost: the kernel is not the container's).
    pub async fn kill_and_restart(&self) -> Result<(), DockerError> {
        let kill = bollard::query_parameters::KillContainerOptionsBuilder::default()
            .signal("SIGKILL")
            .build();
        self.docker
            .kill_container(&self.id, Some(kill))
            .await
            .map_err(DockerError::api(format!("killing {}", self.name)))?;
        // The engine reports the kill before the container has stopped.
        let wait = bollard::query_parameters::WaitContainerOptionsBuilder::default()
            .condition("not-running")
            .build();
        let mut stream = self.docker.wait_container(&self.id, Some(wait));
        // The first item says the container stopped (a non-zero exit comes
        // as DockerContainerWaitError, which is expected after a SIGKILL).
        match stream.next().await {
            None
            | Some(Ok(_))
            | Some(Err(bollard::errors::Error::DockerContainerWaitError { .. })) => {}
            Some(Err(e)) => {
                return Err(DockerError::Api {
                    context: format!("waiting for {} to stop", self.name),
                    source: e,
                })
            }
        }
        // Whatever session was open died with the container's processes.
        self.restarts
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.docker
            .start_container(&self.id, None)
            .await
            .map_err(DockerError::api(format!("restarting {}", self.name)))
    }

    /// Commits the container's file system as `repo:tag` with `labels`
    /// (paused meanwhile, so no write lands half-way); returns the image id.
    pub async fn commit(
        &self,
        repo: &str,
        tag: &str,
        labels: std::collections::HashMap<String, String>,
    ) -> Result<String, DockerError> {
        let options = bollard::query_parameters::CommitContainerOptionsBuilder::default()
            .container(&self.id)
            .repo(repo)
            .tag(tag)
            .pause(true)
            .build();
        let config = bollard::models::ContainerConfig {
            labels: Some(labels),
            ..Default::default()
        };
        let commit = self
            .docker
            .commit_container(options, config)
            .await
            .map_err(DockerError::api(format!("committing {}", self.name)))?;
        Ok(commit.id)
    }

    pub async fn remove(&mut self) -> Result<(), DockerError> {
        if self.removed {
            return Ok(());
        }
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match self.docker.remove_container(&self.id, Some(options)).await {
            Ok(()) => {}
            // Already gone (e.g. a sweep got there first): that is the goal.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            Err(e) => {
                return Err(DockerError::Api {
                    context: format!("removing {}", self.name),
                    source: e,
                })
            }
        }
        self.removed = true;
        Ok(())
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // A trial that was cancelled or panicked never reached `remove`:
        // remove the container in a tracked task, which the run waits for.
        if self.removed {
            return;
        }
        if tokio::runtime::Handle::try_current().is_ok() {
            let docker = self.docker.clone();
            let id = self.id.clone();
            self.tracker
                .spawn(async move { remove_quietly(&docker, &id).await });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(s: &str) -> LogOutput {
        LogOutput::StdOut {
            message: s.as_bytes().to_vec().into(),
        }
    }
    fn err(s: &str) -> LogOutput {
        LogOutput::StdErr {
            message: s.as_bytes().to_vec().into(),
        }
    }

    #[test]
    fn collector_keeps_everything_up_to_the_cap() {
        let mut c = Collector::new(ExecLimits {
            max_output_bytes: 10,
        });
        c.push(out("abcd")).unwrap();
        c.push(err("ef")).unwrap();
        c.push(LogOutput::StdIn {
            message: vec![b'x'; 100].into(),
        })
        .unwrap();
        c.push(out("ghij")).unwrap();
        assert_eq!(c.out.stdout, b"abcdghij");
        assert_eq!(c.out.stderr, b"ef");
    }

    #[test]
    fn collector_refuses_output_over_the_cap_instead_of_cutting_it() {
        let mut c = Collector::new(ExecLimits {
            max_output_bytes: 10,
        });
        c.push(out("abcdefgh")).unwrap();
        // stdout and stderr count together.
        assert_eq!(c.push(err("ijk")), Err(10));
        assert_eq!(c.out.stderr, b"", "nothing of the refused chunk is kept");
        let mut big = Collector::new(ExecLimits {
            max_output_bytes: 4096,
        });
        assert_eq!(big.push(out(&"x".repeat(4097))), Err(4096));
    }

    #[test]
    fn measurement_reads_are_capped_far_above_a_tail() {
        assert_eq!(ExecLimits::default(), ExecLimits::MEASUREMENT);
        assert_eq!(ExecLimits::MEASUREMENT.max_output_bytes, 64 << 20);
        let mut c = Collector::new(ExecLimits::MEASUREMENT);
        let line = "P\tpackage\t1.0 ii \n".repeat(1000);
        for _ in 0..10 {
            c.push(out(&line)).unwrap();
        }
        assert_eq!(
            c.out.stdout.len(),
            10 * line.len(),
            "a view far longer than the agent's 4096-byte tail stays whole"
        );
    }

    #[test]
    fn the_cap_error_names_the_command_and_the_limit() {
        let e = DockerError::OutputTooLarge {
            command: "dpkg-query -W".into(),
            container: "mc-x".into(),
            limit: 4096,
        };
        let text = e.to_string();
        assert!(
            text.contains("`dpkg-query -W`") && text.contains("more than 4096 bytes"),
            "{text}"
        );
    }
}
