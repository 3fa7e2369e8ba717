//! The lifecycle's `Target` on a real Docker sandbox: steps run through the
//! in-container agent (timed inside, one line per command), snapshots are
//! the package view plus the changed paths hashed by the agent, and faults
//! reach the operation through `nemesis::Sandboxed`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::lifecycle::Target;
use crate::approach::Approach;
use crate::docker::{DockerError, ExecLimits, Sandbox};
use crate::history::{History, Phase, Step, Timings};
use crate::nemesis::{self, Fault};
use crate::snapshot::{self, manifest::Manifest, Snapshot, AGENT};

/// The real target: a Docker sandbox with an approach in it.
pub struct SandboxTarget<'a> {
    pub(super) sandbox: &'a Sandbox,
    pub(super) approach: &'a dyn Approach,
    pub(super) base: Arc<Manifest>,
    /// Run after a container restart, after the approach's `ready`.
    pub(super) boot: Vec<String>,
    /// The container starts from a committed image of the state set-up.
    pub(super) state_set_up: bool,
    /// A trial that runs its own set-up: may commit its files part as the
    /// pair's image.
    pub(super) commit: Option<super::setup_image::InPlace>,
}

impl Target for SandboxTarget<'_> {
    async fn steps(
        &self,
        phase: Phase,
        commands: &[String],
        quiet: &[bool],
        timeout: Duration,
    ) -> Result<Vec<Step>, DockerError> {
        run_steps(self.sandbox, phase, commands, timeout, quiet).await
    }

    async fn operation(
        &self,
        fault: &Fault,
        command: String,
        timeout: Duration,
    ) -> Result<nemesis::Injected, DockerError> {
        nemesis::inject(self, fault, command, timeout).await
    }

    async fn snapshot(&self, timings: &mut Timings) -> Result<Snapshot, DockerError> {
        snapshot_timed(self.sandbox, self.approach, &self.base, timings).await
    }

    fn state_set_up(&self) -> bool {
        self.state_set_up
    }

    async fn files_set_up(&self, h: &mut History) -> Result<(), DockerError> {
        if let Some(plan) = &self.commit {
            super::setup_image::commit_in_place(self.sandbox, plan, h).await;
        }
        Ok(())
    }

    async fn probe_log(&self) -> Result<String, DockerError> {
        let out = self
            .sandbox
            .exec(
                &crate::service::probe_log_command(),
                None,
                Duration::from_secs(60),
            )
            .await?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl nemesis::Sandboxed for SandboxTarget<'_> {
    async fn run(
        &self,
        command: String,
        timeout: Duration,
        agent_option: Option<String>,
    ) -> Result<Step, DockerError> {
        run_agent_steps(
            self.sandbox,
            Phase::Operation,
            &[command],
            timeout,
            &[],
            agent_option,
        )
        .await?
        .pop()
        .ok_or_else(|| DockerError::Other("the agent reported no step".into()))
    }

    async fn read_files(&self, paths: &[&str]) -> Result<String, DockerError> {
        let cmd = paths
            .iter()
            .map(|p| format!("cat {} 2>/dev/null;", nemesis::shell_quote(p)))
            .collect::<String>()
            + " true";
        let out = self
            .sandbox
            .exec(
                &["sh".to_string(), "-c".to_string(), cmd],
                None,
                Duration::from_secs(60),
            )
            .await?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    async fn kill_and_restart(&self, timeout: Duration) -> Result<(), DockerError> {
        self.sandbox.kill_and_restart().await?;
        if let Some(ready) = self.approach.ready() {
            let waited = run_steps(self.sandbox, Phase::Operation, &[ready], timeout, &[]).await?;
            if let Some(w) = waited.into_iter().find(|w| w.exit_code != 0) {
                return Err(DockerError::Other(format!(
                    "after the container restart: {}",
                    w.stderr_tail
                )));
            }
        }
        // What boot does is data (nginx may refuse the configuration on
        // disk), so failures here are the trial's to report, not errors.
        run_steps(self.sandbox, Phase::Operation, &self.boot, timeout, &[]).await?;
        Ok(())
    }

    fn worker_pid_file(&self) -> Option<&'static str> {
        self.approach.worker_pid_file()
    }
}

pub(super) async fn snapshot_timed(
    sandbox: &Sandbox,
    a: &dyn Approach,
    base: &Arc<Manifest>,
    timings: &mut Timings,
) -> Result<Snapshot, DockerError> {
    {
        let t = Instant::now();
        // The view runs first: if it leaves a trace (a lock file), the file
        // snapshot sees it in every snapshot alike.
        // Read whole with a direct exec, never through the agent's output
        // tail (a cut listing would invent package changes).
        let command = format!(
            "{{ {}\n}} && {}",
            a.package_view(),
            snapshot::path_commands(&a.path_dirs())
        );
        let view = snapshot::read_view(
            sandbox,
            &command,
            Duration::from_secs(120),
            ExecLimits::MEASUREMENT,
        )
        .await?;
        timings.snapshot_view_ms += ms(t);
        let (snap, parts) = snapshot::capture(sandbox, base, view).await?;
        timings.snapshot_changes_ms += parts.changes_ms;
        timings.snapshot_hash_ms += parts.hash_ms;
        timings.snapshot_ms += ms(t);
        Ok(snap)
    }
}

/// One command's report from the agent.
struct AgentResult {
    exit_code: i64,
    ns: u64,
    stdout_tail: String,
    stderr_tail: String,
    /// When the agent's kill fired (ns after the start).
    fired_ns: Option<u64>,
    /// The attempt records found in the whole output.
    attempts: Vec<crate::history::Attempt>,
    /// CLOCK_MONOTONIC ns at the start (the health probe's clock).
    started_ns: u64,
}

/// Runs commands in order through the agent, timed inside the container.
/// What comes back of each command's output is a tail (the agent keeps the
/// last 4096 bytes): for logs only, never for a measurement.
async fn agent_run_with(
    sandbox: &Sandbox,
    commands: &[String],
    timeout: Duration,
    option: Option<String>,
) -> Result<Vec<AgentResult>, DockerError> {
    if commands.is_empty() {
        return Ok(Vec::new());
    }
    let mut cmd = vec![
        "perl".to_string(),
        AGENT.to_string(),
        "run".to_string(),
        timeout.as_secs().to_string(),
    ];
    cmd.extend(option);
    cmd.extend(commands.iter().cloned());
    // The exec's own limit leaves the agent time to report its timeouts.
    // Saturating: the timeout comes from a scenario file (bounded there,
    // but an overflow here would panic the trial).
    let n = u32::try_from(commands.len()).unwrap_or(u32::MAX);
    let limit = timeout
        .saturating_mul(n)
        .saturating_add(Duration::from_secs(30));
    let out = sandbox.exec(&cmd, None, limit).await?;
    if out.exit_code != 0 {
        return Err(DockerError::Other(format!(
            "agent failed (exit {}): {}",
            out.exit_code,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut results = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 7 {
            return Err(DockerError::Other(format!(
                "malformed agent line: {line:?}"
            )));
        }
        let attempts = crate::history::parse_attempts(&unhex(f[5])).map_err(DockerError::Other)?;
        let code = f[0]
            .parse()
            .map_err(|_| DockerError::Other(format!("bad exit code in {line:?}")))?;
        let ns = f[1]
            .parse()
            .map_err(|_| DockerError::Other(format!("bad time in {line:?}")))?;
        let started_ns = f[6]
            .parse()
            .map_err(|_| DockerError::Other(format!("bad start time in {line:?}")))?;
        results.push(AgentResult {
            exit_code: code,
            ns,
            stdout_tail: unhex(f[2]),
            stderr_tail: unhex(f[3]),
            fired_ns: f[4].parse().ok(),
            attempts,
            started_ns,
        });
    }
    if results.len() != commands.len() {
        return Err(DockerError::Other(format!(
            "agent reported {} of {} commands",
            results.len(),
            commands.len()
        )));
    }
    Ok(results)
}

fn unhex(s: &str) -> String {
    let bytes: Vec<u8> = (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

pub(super) async fn run_steps(
    sandbox: &Sandbox,
    phase: Phase,
    commands: &[String],
    timeout: Duration,
    quiet: &[bool],
) -> Result<Vec<Step>, DockerError> {
    run_agent_steps(sandbox, phase, commands, timeout, quiet, None).await
}

async fn run_agent_steps(
    sandbox: &Sandbox,
    phase: Phase,
    commands: &[String],
    timeout: Duration,
    quiet: &[bool],
    option: Option<String>,
) -> Result<Vec<Step>, DockerError> {
    let results = agent_run_with(sandbox, commands, timeout, option).await?;
    Ok(commands
        .iter()
        .zip(results)
        .enumerate()
        .map(|(i, (c, r))| Step {
            phase,
            command: c.clone(),
            exit_code: r.exit_code,
            ms: r.ns as f64 / 1e6,
            stdout_tail: r.stdout_tail,
            stderr_tail: r.stderr_tail,
            quiet: quiet.get(i).copied().unwrap_or(false),
            fault_fired_ms: r.fired_ns.map(|ns| ns as f64 / 1e6),
            attempts: r.attempts,
            check: None,
            check_kind: None,
            started_ns: Some(r.started_ns),
        })
        .collect())
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}
