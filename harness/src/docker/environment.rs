//! What a run's numbers were measured with: the tool versions inside each
//! matched image and the images' ids, read from the images themselves (one
//! short container per image, then cached by image id), for run.json and
//! the report's header.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

use super::images::{self, Family};
use super::{DockerError, RunId, Sandbox, SandboxSpec, SecurityProfile};
use crate::cache::{ImageCache, Lookup};

/// Each line `tool<TAB>version`; a tool the image lacks prints nothing.
const VERSIONS: &str = r#"v() { [ -n "$2" ] && printf '%s\t%s\n' "$1" "$2"; return 0; }
v dpkg "$(dpkg-query -W -f '${Version}' dpkg 2>/dev/null)"
v apt "$(dpkg-query -W -f '${Version}' apt 2>/dev/null)"
v python "$(python3 -c 'import platform; print(platform.python_version())' 2>/dev/null)"
v pip "$(python3 -m pip --version 2>/dev/null | cut -d' ' -f2)"
v setuptools "$(python3 -c 'import setuptools; print(setuptools.__version__)' 2>/dev/null)"
v wheel "$(python3 -c 'import wheel; print(wheel.__version__)' 2>/dev/null)"
v nix "$(nix --version 2>/dev/null | awk '{print $NF}')"
v strace "$(strace -V 2>/dev/null | head -n1 | awk '{print $NF}')"
v perl "$(perl -e 'print $^V' 2>/dev/null)"
v ansible-core "$(dpkg-query -W -f '${Version}' ansible-core 2>/dev/null)"
"#;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// The base root file system every family image derives from.
    pub base_image: String,
    pub base_image_id: String,
    /// Family → image name and id.
    pub images: BTreeMap<String, ImageRecord>,
    /// Family → tool → version.
    pub versions: BTreeMap<String, BTreeMap<String, String>>,
    /// Whether the traditional image's pip takes the legacy `setup.py
    /// install` path for an sdist without pyproject.toml, which the pip
    /// scenarios' failure mapping relies on (pip removed it in 23.1).
    pub pip_legacy_setup_py_install: Option<bool>,
    /// Anything that makes the numbers mean something other than the
    /// docs say.
    #[serde(default)]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageRecord {
    pub name: String,
    pub id: String,
}

/// Tool → version, as `VERSIONS` prints them.
type Versions = BTreeMap<String, String>;

/// Versions depend on the image's files and on `VERSIONS` alone, so they
/// are cached by image id; the script's hash is the cache's version, so an
/// edited script never reads what the old one printed.
fn versions_cache() -> ImageCache {
    let h = blake3::hash(VERSIONS.as_bytes());
    let [a, b, c, d, ..] = *h.as_bytes();
    ImageCache::from_env("versions", u32::from_le_bytes([a, b, c, d]))
}

/// pip ≥ 23.1 no longer falls back to `setup.py install`.
pub fn pip_takes_legacy_path(version: &str) -> Option<bool> {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    Some((major, minor) < (23, 1))
}

pub async fn record(
    docker: &bollard::Docker,
    run: &RunId,
    families: &[Family],
    security: SecurityProfile,
) -> Result<Environment, DockerError> {
    let mut env = Environment {
        base_image: images::base_image_name(),
        ..Default::default()
    };
    env.base_image_id = images::image_id_of(docker, &env.base_image)
        .await?
        .unwrap_or_default();
    // Not the run's trial tracker: these containers are removed right here.
    let tracker = tokio_util::task::TaskTracker::new();
    let cache = versions_cache();
    for &f in families {
        let image = f.image();
        let id = images::image_id_of(docker, &image)
            .await?
            .unwrap_or_default();
        env.images.insert(
            f.name().into(),
            ImageRecord {
                name: image.clone(),
                id: id.clone(),
            },
        );
        let cached = match cache.load::<Versions>(&id) {
            Lookup::Hit(v) => {
                tracing::info!("tool versions of {image}: from the cache");
                Some(v)
            }
            Lookup::Invalid { path, reason } => {
                eprintln!(
                    "ignoring the cached tool versions {} ({reason}): reading {image} again",
                    path.display()
                );
                None
            }
            Lookup::Miss => None,
        };
        let versions = match cached {
            Some(v) => v,
            None => {
                let spec = SandboxSpec {
                    security,
                    ..SandboxSpec::new(image, format!("mc-{run}-versions-{}", f.name()))
                };
                let (versions, read_from) = read_versions(docker, run, &spec, &tracker).await?;
                if let Some(read_from) = read_from {
                    // A cache that cannot be written costs the next run
                    // this container again, nothing more.
                    if let Err(e) = cache.store(&read_from, &versions) {
                        tracing::warn!("caching the tool versions of {read_from}: {e}");
                    }
                }
                versions
            }
        };
        if let Some(pip) = versions.get("pip") {
            let legacy = pip_takes_legacy_path(pip);
            env.pip_legacy_setup_py_install = legacy;
            if legacy != Some(true) {
                env.warnings.push(format!(
                    "the {} image's pip is {pip}: it does not take the legacy `setup.py install` path the pip scenarios are written for \
                     (pip ≥ 23.1 builds a wheel instead), so the pip figures measure a different install path than scenarios/README.md describes",
                    f.name()
                ));
            }
        }
        env.versions.insert(f.name().into(), versions);
    }
    tracker.close();
    tracker.wait().await;
    Ok(env)
}

/// Runs `VERSIONS` in a container of `spec`, with the id of the image the
/// container was made from (what the result is cached under: the tag may
/// have moved since it was looked up).
async fn read_versions(
    docker: &bollard::Docker,
    run: &RunId,
    spec: &SandboxSpec,
    tracker: &tokio_util::task::TaskTracker,
) -> Result<(Versions, Option<String>), DockerError> {
    let mut sandbox = Sandbox::start(docker, run, spec, tracker).await?;
    let read = async {
        let info = docker
            .inspect_container(&sandbox.id, None)
            .await
            .map_err(DockerError::api(format!("inspecting {}", sandbox.name)))?;
        let out = sandbox
            .exec(
                &["sh".into(), "-c".into(), VERSIONS.into()],
                None,
                Duration::from_secs(60),
            )
            .await?;
        let versions: Versions = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(k, v)| (k.to_string(), v.trim().to_string()))
            .collect();
        Ok::<_, DockerError>((versions, info.image))
    }
    .await;
    sandbox.remove().await?;
    read
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pip_versions_before_23_1_take_the_legacy_path() {
        assert_eq!(pip_takes_legacy_path("23.0.1"), Some(true));
        assert_eq!(pip_takes_legacy_path("22.3"), Some(true));
        assert_eq!(pip_takes_legacy_path("23.1"), Some(false));
        assert_eq!(pip_takes_legacy_path("24.0"), Some(false));
        assert_eq!(pip_takes_legacy_path("x"), None);
    }
}
