//! The `kill` fault family: a signal to the operation's process group a
//! chosen time after it started — fixed offsets and seeded random ones —
//! timed by the agent inside the container (no Docker round trip).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

use super::{Fault, Injected, Sandboxed, SignalName};
use crate::docker::DockerError;
use crate::scenario::{FaultSpec, Signal};

/// Concrete faults of one `kill` spec. Random offsets come from `seed` and
/// the spec's position `i`, so every approach and repetition gets the same.
pub(super) fn expand(spec: &FaultSpec, i: usize, seed: u64) -> Vec<Fault> {
    let signal = spec.signal.unwrap_or(Signal::Kill).into();
    let mut offsets = spec.at_ms.clone();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    offsets.extend((0..spec.random).map(|_| rng.random_range(0..spec.within_ms.max(1))));
    offsets
        .into_iter()
        .map(|at_ms| Fault::Kill { signal, at_ms })
        .collect()
}

pub(super) async fn inject<S: Sandboxed>(
    on: &S,
    signal: SignalName,
    at_ms: u64,
    command: String,
    timeout: Duration,
) -> Result<Injected, DockerError> {
    let mut step = on
        .run(
            command,
            timeout,
            Some(format!("--kill-after={at_ms}:{signal:?}")),
        )
        .await?;
    step.command = format!("{} [nemesis: SIG{signal:?} after {at_ms} ms]", step.command);
    Ok(Injected {
        step,
        killed: Vec::new(),
        hit: Vec::new(),
    })
}
