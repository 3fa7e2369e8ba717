//! A scenario's fixtures reach its containers through the engine's API, not
//! a host bind mount, so a remote engine works too: one labelled volume per
//! (engine, scenario), filled once per run, mounted read-only at /fixtures.

use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bollard::Docker;
use std::path::Path;

use super::{DockerError, RunId};

/// Where every sandbox sees the fixtures.
pub const MOUNT_POINT: &str = "/fixtures";

/// The volume's name on every engine: one per run and scenario.
pub fn volume_name(run: &RunId, scenario: &str) -> String {
    format!("mc-{run}-fx-{scenario}")
}

/// The mount a sandbox gets: the volume, read-only.
pub fn mount(volume: &str, read_only: bool) -> Mount {
    Mount {
        target: Some(MOUNT_POINT.into()),
        source: Some(volume.into()),
        typ: Some(MountType::VOLUME),
        read_only: Some(read_only),
        ..Default::default()
    }
}

/// Creates the labelled volume `volume` and copies the host folder `dir`
/// into it: a helper container from `image` (any image the engine has; it
/// is created, never started) gets the volume and a tar of `dir` uploaded
/// to /fixtures, then is removed. Once per run, not per trial.
pub async fn fill_volume(
    docker: &Docker,
    run: &RunId,
    volume: &str,
    dir: &Path,
    image: &str,
) -> Result<(), DockerError> {
    let tar = tar_of(dir)
        .map_err(|e| DockerError::Other(format!("packing fixtures {}: {e}", dir.display())))?;
    docker
        .create_volume(bollard::models::VolumeCreateRequest {
            name: Some(volume.into()),
            labels: Some(run.labels()),
            ..Default::default()
        })
        .await
        .map_err(DockerError::api(format!("creating volume {volume}")))?;
    let helper = format!("{volume}-fill");
    let body = ContainerCreateBody {
        image: Some(image.into()),
        cmd: Some(vec!["true".into()]),
        labels: Some(run.labels()),
        network_disabled: Some(true),
        host_config: Some(HostConfig {
            mounts: Some(vec![mount(volume, false)]),
            network_mode: Some("none".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let created = docker
        .create_container(
            Some(
                CreateContainerOptionsBuilder::default()
                    .name(&helper)
                    .build(),
            ),
            body,
        )
        .await
        .map_err(DockerError::api(format!("creating container {helper}")))?;
    let uploaded = docker
        .upload_to_container(
            &created.id,
            Some(
                UploadToContainerOptionsBuilder::default()
                    .path(MOUNT_POINT)
                    .build(),
            ),
            bollard::body_full(tar.into()),
        )
        .await
        .map_err(DockerError::api(format!(
            "uploading fixtures into {volume}"
        )));
    // The helper goes whatever the upload did (the volume stays: it is the
    // point); the run's sweep would take it too.
    let removed = docker
        .remove_container(
            &created.id,
            Some(RemoveContainerOptionsBuilder::default().force(true).build()),
        )
        .await
        .map_err(DockerError::api(format!("removing container {helper}")));
    uploaded.and(removed)
}

/// A tar of in-memory files (name, content, mode), every mtime 0: a build
/// context or a few files copied into a container.
pub(crate) fn tar_of_files(files: &[(&str, &[u8], u32)]) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, content, mode) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(*mode);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, name, *content)?;
    }
    tar.into_inner()
}

/// The folder's contents as a tar, paths relative to it.
fn tar_of(dir: &Path) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    tar.append_dir_all(".", dir)?;
    tar.into_inner()
}

impl super::Sandbox {
    /// Copies host files into the container's folder `into` (which must
    /// exist), keeping their modes, through the engine's API (the engine
    /// may be remote): a tool no image holds, for one trial.
    pub async fn put_files(
        &self,
        into: &str,
        files: &[(String, Vec<u8>, u32)],
    ) -> Result<(), DockerError> {
        let listed: Vec<(&str, &[u8], u32)> = files
            .iter()
            .map(|(n, b, m)| (n.as_str(), b.as_slice(), *m))
            .collect();
        let tar = super::fixtures::tar_of_files(&listed)
            .map_err(|e| DockerError::Other(format!("packing files for {}: {e}", self.name)))?;
        let options = bollard::query_parameters::UploadToContainerOptionsBuilder::default()
            .path(into)
            .build();
        self.docker
            .upload_to_container(&self.id, Some(options), bollard::body_full(tar.into()))
            .await
            .map_err(DockerError::api(format!(
                "copying files into {}:{into}",
                self.name
            )))
    }
}
