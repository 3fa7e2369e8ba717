//! A network of the harness's own: internal (no route out of the host),
//! labelled with the run like every container, so a fleet's nodes reach
//! each other by name and nothing else. Removed by its owner, retried
//! while the containers on it are still going; the run's sweep removes
//! any that a killed run left.

use bollard::models::NetworkCreateRequest;
use bollard::Docker;
use std::time::Duration;
use tokio_util::task::TaskTracker;

use super::{DockerError, RunId};

/// An internal network; dropping it removes it in a tracked task.
pub struct Network {
    docker: Docker,
    pub name: String,
    tracker: TaskTracker,
    removed: bool,
}

impl Network {
    /// Creates `name`: bridge driver, internal, the run's labels.
    pub async fn create_internal(
        docker: &Docker,
        run: &RunId,
        name: &str,
        tracker: &TaskTracker,
    ) -> Result<Network, DockerError> {
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".into()),
            internal: Some(true),
            labels: Some(run.labels()),
            ..Default::default()
        };
        docker
            .create_network(request)
            .await
            .map_err(DockerError::api(format!("creating network {name}")))?;
        Ok(Network {
            docker: docker.clone(),
            name: name.to_string(),
            tracker: tracker.clone(),
            removed: false,
        })
    }

    /// Removes it, once the containers on it are gone (their removal may
    /// still be under way: retried for up to 30 s).
    pub async fn remove(mut self) -> Result<(), DockerError> {
        self.removed = true;
        remove_when_free(&self.docker, &self.name).await
    }
}

async fn remove_when_free(docker: &Docker, name: &str) -> Result<(), DockerError> {
    let mut last = None;
    for _ in 0..60 {
        match docker.remove_network(name).await {
            Ok(()) => return Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => return Ok(()),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(DockerError::Api {
        context: format!("removing network {name}"),
        source: last.expect("the loop ran"),
    })
}

impl Drop for Network {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        let (docker, name) = (self.docker.clone(), self.name.clone());
        self.tracker.spawn(async move {
            let _ = remove_when_free(&docker, &name).await;
        });
    }
}
