//! Removing what the harness created: all of one run's objects (end of a
//! run, Ctrl-C), every labelled object (`mistake-cost clean`), or the
//! leftovers of runs whose process is dead (the start of every run).

use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, ListNetworksOptionsBuilder,
    ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
    RemoveVolumeOptionsBuilder,
};
use bollard::Docker;
use std::collections::HashMap;

use super::labels::{hostname, HOST_LABEL, PID_LABEL};
use super::{DockerError, RunId, RUN_LABEL};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    pub containers: usize,
    pub networks: usize,
    pub volumes: usize,
    /// Committed set-up images (`runner::setup_image`).
    pub images: usize,
    /// Containers whose removal was already in progress, and images,
    /// volumes and networks still used by a container being removed: the
    /// next pass takes them.
    pub pending: usize,
}

impl SweepReport {
    pub fn total(&self) -> usize {
        self.containers + self.networks + self.volumes + self.images
    }
}

/// Removes every object of `run`, or every labelled object when `run` is None,
/// and returns only once none is listed any more: a removal already in
/// progress (a drop guard's, or a container whose creation was in flight
/// when its trial was cancelled) is waited for, for up to about 10 s.
pub async fn sweep(docker: &Docker, run: Option<&RunId>) -> Result<SweepReport, DockerError> {
    let mut total = SweepReport::default();
    for _ in 0..40 {
        let r = sweep_where(docker, run, |_| true).await?;
        total.containers += r.containers;
        total.networks += r.networks;
        total.volumes += r.volumes;
        total.images += r.images;
        if r.total() == 0 && r.pending == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    Ok(total)
}

/// Removes objects whose creating process (same host) no longer exists.
pub async fn sweep_dead_runs(docker: &Docker) -> Result<SweepReport, DockerError> {
    let me = hostname();
    sweep_where(docker, None, |labels| {
        let same_host = labels.get(HOST_LABEL).is_some_and(|h| *h == me);
        let pid_alive = labels
            .get(PID_LABEL)
            .and_then(|p| p.parse::<u32>().ok())
            .is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists());
        // Objects from another host (a shared DOCKER_HOST) are not ours to judge.
        same_host && !pid_alive
    })
    .await
}

async fn sweep_where(
    docker: &Docker,
    run: Option<&RunId>,
    keep_if_dead: impl Fn(&HashMap<String, String>) -> bool,
) -> Result<SweepReport, DockerError> {
    let label = match run {
        Some(r) => format!("{RUN_LABEL}={r}"),
        None => RUN_LABEL.to_string(),
    };
    let filters = HashMap::from([("label".to_string(), vec![label])]);
    let mut report = SweepReport::default();

    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(DockerError::api("listing labelled containers"))?;
    for c in containers {
        if !keep_if_dead(&c.labels.clone().unwrap_or_default()) {
            continue;
        }
        if let Some(id) = c.id {
            let options = RemoveContainerOptionsBuilder::default()
                .force(true)
                .v(true)
                .build();
            let removed = docker
                .remove_container(&id, Some(options))
                .await
                .map(|_| ());
            match removal(removed, || format!("removing container {id}"))? {
                Removal::Done => report.containers += 1,
                Removal::Gone => {}
                // Removal already in progress (a drop guard got there first).
                Removal::Busy => report.pending += 1,
            }
        }
    }

    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(DockerError::api("listing labelled networks"))?;
    for n in networks {
        if !keep_if_dead(&n.labels.clone().unwrap_or_default()) {
            continue;
        }
        if let Some(id) = n.id {
            let removed = docker.remove_network(&id).await;
            match removal(removed, || format!("removing network {id}"))? {
                Removal::Done => report.networks += 1,
                Removal::Gone => {}
                // Still used by a container being removed.
                Removal::Busy => report.pending += 1,
            }
        }
    }

    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(DockerError::api("listing labelled volumes"))?;
    for v in volumes.volumes.unwrap_or_default() {
        if !keep_if_dead(&v.labels) {
            continue;
        }
        let removed = docker
            .remove_volume(
                &v.name,
                Some(RemoveVolumeOptionsBuilder::default().force(true).build()),
            )
            .await;
        match removal(removed, || format!("removing volume {}", v.name))? {
            Removal::Done => report.volumes += 1,
            Removal::Gone => {}
            // Still mounted by a container whose removal (or a commit of
            // it, cut short by the kill) is under way: the next pass.
            Removal::Busy => report.pending += 1,
        }
    }

    // Images last: a container made from one holds it until removed.
    let images = docker
        .list_images(Some(
            ListImagesOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(DockerError::api("listing labelled images"))?;
    for i in images {
        if !keep_if_dead(&i.labels) {
            continue;
        }
        let options = RemoveImageOptionsBuilder::default().force(true).build();
        let removed = docker
            .remove_image(&i.id, Some(options), None)
            .await
            .map(|_| ());
        match removal(removed, || format!("removing image {}", i.id))? {
            Removal::Done => report.images += 1,
            Removal::Gone => {}
            // Still used by a container being removed.
            Removal::Busy => report.pending += 1,
        }
    }
    Ok(report)
}

/// How one removal went: the engine's 404 (already gone) and 409 (busy)
/// are outcomes of a sweep, not errors.
enum Removal {
    Done,
    Gone,
    Busy,
}

fn removal(
    result: Result<(), bollard::errors::Error>,
    context: impl FnOnce() -> String,
) -> Result<Removal, DockerError> {
    use bollard::errors::Error::DockerResponseServerError as Server;
    match result {
        Ok(()) => Ok(Removal::Done),
        Err(Server {
            status_code: 404, ..
        }) => Ok(Removal::Gone),
        Err(Server {
            status_code: 409, ..
        }) => Ok(Removal::Busy),
        Err(source) => Err(DockerError::Api {
            context: context(),
            source,
        }),
    }
}
