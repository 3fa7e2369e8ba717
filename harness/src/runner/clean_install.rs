//! Clean installs made once and shared: the state a retry's end, or a
//! successful install's, must equal is the same package set installed
//! alone in a fresh container from the pair's image. Every trial of the
//! pair compares with the one made by whichever trial needed it first.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use super::lifecycle::CleanInstall;
use crate::docker::DockerError;
use crate::vocab::ApproachKind;

/// Which clean install: the scenario (unique in a run), the approach, the
/// image it starts from (the pair's set-up image, None: the approach's
/// own) and the command installed.
pub type Key = (String, ApproachKind, Option<String>, String);

/// Per run: the clean installs made so far.
#[derive(Default)]
pub struct CleanInstalls {
    cells: Mutex<HashMap<Key, Arc<OnceCell<Arc<CleanInstall>>>>>,
}

impl CleanInstalls {
    /// The clean install of `key`, made by `make` when there is none yet
    /// (a trial that asks while another makes it waits for that one), and
    /// whether it was made before this call. A failed `make` keeps nothing:
    /// the next trial tries again.
    pub async fn get_or_make<F, Fut>(
        &self,
        key: Key,
        make: F,
    ) -> Result<(Arc<CleanInstall>, bool), DockerError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<CleanInstall, DockerError>>,
    {
        let cell = self
            .cells
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default()
            .clone();
        let mut made_here = false;
        let clean = cell
            .get_or_try_init(|| {
                made_here = true;
                async { make().await.map(Arc::new) }
            })
            .await?
            .clone();
        Ok((clean, !made_here))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Snapshot;

    fn clean(exit_code: i64) -> CleanInstall {
        CleanInstall {
            snapshot: Snapshot {
                base: Arc::new(Default::default()),
                overlay: Default::default(),
                packages: Default::default(),
                live: Default::default(),
                commands: Default::default(),
            },
            exit_code,
            checks: Some(true),
        }
    }

    fn key(image: Option<&str>) -> Key {
        (
            "s".into(),
            crate::approach::kind("apt"),
            image.map(String::from),
            "install".into(),
        )
    }

    #[tokio::test]
    async fn a_clean_install_is_made_once_per_key_and_a_failure_is_not_kept() {
        let installs = CleanInstalls::default();
        let failed = installs
            .get_or_make(key(None), || async {
                Err(DockerError::Other("engine gone".into()))
            })
            .await;
        assert!(failed.is_err());
        let (first, reused) = installs
            .get_or_make(key(None), || async { Ok(clean(0)) })
            .await
            .unwrap();
        assert!(!reused, "the failure left nothing to reuse");
        let (second, reused) = installs
            .get_or_make(key(None), || async { Ok(clean(1)) })
            .await
            .unwrap();
        assert!(reused && Arc::ptr_eq(&first, &second));
        // Another image is another state: its own install.
        let (other, reused) = installs
            .get_or_make(key(Some("sha256:1")), || async { Ok(clean(1)) })
            .await
            .unwrap();
        assert!(!reused && other.exit_code == 1);
    }
}
