//! The `container-kill` fault family: the whole container is killed a
//! chosen time into the operation and started again, as a power cut and
//! reboot would; the approach's services come back with it.

use std::time::{Duration, Instant};

use super::{Fault, Injected, Sandboxed};
use crate::docker::DockerError;
use crate::history::{Phase, Step};
use crate::scenario::FaultSpec;

pub(super) fn expand(spec: &FaultSpec) -> Vec<Fault> {
    spec.at_ms
        .iter()
        .map(|&at_ms| Fault::ContainerKill { at_ms })
        .collect()
}

pub(super) async fn inject<S: Sandboxed>(
    on: &S,
    at_ms: u64,
    command: String,
    timeout: Duration,
) -> Result<Injected, DockerError> {
    let started = Instant::now();
    tokio::select! {
        r = on.run(command.clone(), timeout, None) => Ok(Injected { step: r?, killed: Vec::new(), hit: Vec::new() }),
        _ = tokio::time::sleep(Duration::from_millis(at_ms)) => {
            let fired = started.elapsed().as_secs_f64() * 1000.0;
            on.kill_and_restart(timeout).await?;
            Ok(Injected {
                step: Step {
                    phase: Phase::Operation,
                    command: format!("{command} [nemesis: container killed after {at_ms} ms, started again]"),
                    exit_code: 137,
                    ms: fired,
                    stdout_tail: String::new(),
                    stderr_tail: "container killed by the nemesis".into(),
                    quiet: false,
                    fault_fired_ms: Some(fired),
                    attempts: Vec::new(),
                    started_ns: None,
                    check: None,
                    check_kind: None,
                },
                killed: Vec::new(),
                hit: Vec::new(),
            })
        }
    }
}
