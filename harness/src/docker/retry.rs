//! Transient engine errors retried with backoff: a 409 while a container
//! is restarting (the container-kill fault), a 500/502/503 from a daemon
//! under load. Anything else, and the last attempt's error, fails at once.

use std::future::Future;
use std::time::Duration;

/// Attempts in all, and the pause before the second (doubled each time).
const ATTEMPTS: u32 = 4;
const FIRST_PAUSE: Duration = Duration::from_millis(100);

/// Whether the engine may answer differently if asked again.
pub fn transient(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 409 | 500 | 502 | 503,
            ..
        }
    )
}

/// Runs `call` until it succeeds, fails with a non-transient error, or
/// has been tried [`ATTEMPTS`] times (pauses 0.1, 0.2, 0.4 s).
pub async fn with_backoff<T, F, Fut>(mut call: F) -> Result<T, bollard::errors::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, bollard::errors::Error>>,
{
    let mut pause = FIRST_PAUSE;
    for attempt in 1.. {
        match call().await {
            Err(e) if attempt < ATTEMPTS && transient(&e) => {
                tracing::info!("transient engine error, retrying in {pause:?}: {e}");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            r => return r,
        }
    }
    unreachable!("the loop returns by the last attempt")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn server(code: u16) -> bollard::errors::Error {
        bollard::errors::Error::DockerResponseServerError {
            status_code: code,
            message: "busy".into(),
        }
    }

    #[tokio::test]
    async fn transient_errors_are_retried_others_are_not() {
        let calls = AtomicU32::new(0);
        let r = with_backoff(|| async {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            if n < 2 {
                Err(server(500))
            } else {
                Ok(n)
            }
        })
        .await;
        assert_eq!(r.unwrap(), 2);

        let calls = AtomicU32::new(0);
        let r: Result<(), _> = with_backoff(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(server(404))
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1, "a 404 is final");

        let calls = AtomicU32::new(0);
        let r: Result<(), _> = with_backoff(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(server(409))
        })
        .await;
        assert!(r.is_err());
        assert_eq!(
            calls.load(Ordering::SeqCst),
            ATTEMPTS,
            "gives up after the last attempt"
        );
    }
}
