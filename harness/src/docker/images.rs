//! The matched images: one base root file system made by mmdebstrap from the
//! host's apt sources and imported through the API, and one image per
//! package-manager family derived from it. Recipes live in `containers/` and
//! are compiled into the binary; an image is rebuilt only when its recipe
//! hash or its base changed.

use bollard::query_parameters::{BuildImageOptionsBuilder, CreateImageOptionsBuilder};
use bollard::{body_full, Docker};
use futures_util::StreamExt;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::DockerError;

const BASE_RECIPE: &str = include_str!("../../../containers/base/recipe.toml");
const AGENT: &str = include_str!("../../../containers/agent/agent.pl");
const APT_DOCKERFILE: &str = include_str!("../../../containers/apt/Dockerfile");
const NIX_DOCKERFILE: &str = include_str!("../../../containers/nix/Dockerfile");
const ANSIBLE_DOCKERFILE: &str = include_str!("../../../containers/ansible/Dockerfile");

pub const RECIPE_LABEL: &str = "mistake-cost.recipe";
pub const BASE_LABEL: &str = "mistake-cost.base";
const BASE_REPO: &str = "mistake-cost/base";

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("`{tool}` is needed to build the base image and was not found on PATH.\n  Install it: {install}")]
    MissingTool {
        tool: &'static str,
        install: &'static str,
    },
    #[error("no apt sources found on this host ({0}); the base image is built from the host's own apt configuration")]
    NoAptSources(String),
    #[error("mmdebstrap failed (exit {code:?}); last lines:\n{tail}")]
    Mmdebstrap { code: Option<i32>, tail: String },
    #[error("building image {image}: {message}")]
    Build { image: String, message: String },
    #[error("containers/base/recipe.toml: {0}")]
    Recipe(String),
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ImageError {
    let context = context.into();
    move |source| ImageError::Io { context, source }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BaseRecipe {
    suite: String,
    variant: String,
    include: Vec<String>,
}

/// An image family: several approaches share one image (apt, pip and
/// pip-venv all live in the traditional image). Each approach names its
/// own (`Approach::family`); a new family is a new recipe in `containers/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Apt,
    Nix,
    /// The apt image's base plus Debian's ansible-core: its own family so
    /// the apt image stays unchanged.
    Ansible,
}

impl Family {
    pub const ALL: [Family; 3] = [Family::Apt, Family::Nix, Family::Ansible];

    pub fn name(self) -> &'static str {
        match self {
            Family::Apt => "apt",
            Family::Nix => "nix",
            Family::Ansible => "ansible",
        }
    }

    /// Tagged by recipe hash, so checkouts with different recipes (branches,
    /// worktrees) each keep their own image instead of rebuilding one tag
    /// back and forth.
    pub fn image(self) -> String {
        format!("mistake-cost/{}:r-{}", self.name(), self.recipe_hash())
    }

    fn dockerfile(self) -> &'static str {
        match self {
            Family::Apt => APT_DOCKERFILE,
            Family::Nix => NIX_DOCKERFILE,
            Family::Ansible => ANSIBLE_DOCKERFILE,
        }
    }

    /// Hash of everything the image is made from, base recipe included.
    pub fn recipe_hash(self) -> String {
        let mut h = blake3::Hasher::new();
        for part in [BASE_RECIPE, self.dockerfile(), AGENT] {
            h.update(&(part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        h.finalize().to_hex()[..16].to_string()
    }
}

fn base_recipe_hash() -> String {
    blake3::hash(BASE_RECIPE.as_bytes()).to_hex()[..16].to_string()
}

fn base_tag() -> String {
    format!("{BASE_REPO}:r-{}", base_recipe_hash())
}

/// The base image's name (tagged by its recipe hash).
pub fn base_image_name() -> String {
    base_tag()
}

/// An image's id, if the engine has it.
pub async fn image_id_of(docker: &Docker, name: &str) -> Result<Option<String>, DockerError> {
    Ok(image_id(docker, name).await?.map(|(id, _)| id))
}

/// What `images list` shows.
#[derive(Debug, Clone)]
pub struct ImageStatus {
    pub name: String,
    pub id: Option<String>,
    pub current: bool,
    pub detail: String,
}

async fn image_id(
    docker: &Docker,
    name: &str,
) -> Result<Option<(String, HashMap<String, String>)>, DockerError> {
    match docker.inspect_image(name).await {
        Ok(img) => Ok(Some((
            img.id.unwrap_or_default(),
            img.config.and_then(|c| c.labels).unwrap_or_default(),
        ))),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(e) => Err(DockerError::Api {
            context: format!("inspecting image {name}"),
            source: e,
        }),
    }
}

pub async fn status(docker: &Docker) -> Result<Vec<ImageStatus>, DockerError> {
    let mut out = Vec::new();
    let base = image_id(docker, &base_tag()).await?;
    out.push(ImageStatus {
        name: base_tag(),
        id: base.as_ref().map(|b| b.0.clone()),
        current: base.is_some(),
        detail: if base.is_some() {
            "recipe current".into()
        } else {
            "missing".into()
        },
    });
    for f in Family::ALL {
        let (current, detail, id) = match image_id(docker, &f.image()).await? {
            None => (false, "missing".to_string(), None),
            Some((id, labels)) => {
                let recipe_ok = labels.get(RECIPE_LABEL) == Some(&f.recipe_hash());
                let base_ok = base
                    .as_ref()
                    .is_some_and(|b| labels.get(BASE_LABEL) == Some(&b.0));
                let detail = match (recipe_ok, base_ok) {
                    (true, true) => "recipe current".to_string(),
                    (false, _) => "recipe changed: will rebuild".to_string(),
                    (true, false) => "base changed: will rebuild".to_string(),
                };
                (recipe_ok && base_ok, detail, Some(id))
            }
        };
        out.push(ImageStatus {
            name: f.image(),
            id,
            current,
            detail,
        });
    }
    Ok(out)
}

/// Builds what is missing or stale. `progress` receives one line per step.
/// Returns the names of the images it built.
pub async fn ensure(
    docker: &Docker,
    families: &[Family],
    force: bool,
    progress: &(dyn Fn(String) + Sync),
) -> Result<Vec<String>, ImageError> {
    let mut built = Vec::new();
    let base_id = match image_id(docker, &base_tag()).await? {
        Some((id, _)) if !force => id,
        _ => {
            build_base(docker, progress).await?;
            built.push(base_tag());
            image_id(docker, &base_tag())
                .await?
                .ok_or_else(|| ImageError::Build {
                    image: base_tag(),
                    message: "import reported success but the image is missing".into(),
                })?
                .0
        }
    };
    for &f in families {
        let fresh = match image_id(docker, &f.image()).await? {
            Some((_, labels)) => {
                !force
                    && labels.get(RECIPE_LABEL) == Some(&f.recipe_hash())
                    && labels.get(BASE_LABEL) == Some(&base_id)
            }
            None => false,
        };
        if !fresh {
            build_family(docker, f, &base_id, progress).await?;
            built.push(f.image());
        }
    }
    Ok(built)
}

/// Puts `families`' images on engine `to` as they are on `from` (where
/// `ensure` built them): `docker save` on one piped into `docker load` on
/// the other through the API, skipped when `to` already has the same image
/// id. Loading keeps ids, so a base manifest cached for one engine's image
/// serves the other's. Returns the names copied.
pub async fn copy(
    from: &Docker,
    to: &Docker,
    families: &[Family],
    progress: &(dyn Fn(String) + Sync),
) -> Result<Vec<String>, ImageError> {
    let mut copied = Vec::new();
    for &f in families {
        let image = f.image();
        let want = image_id(from, &image)
            .await?
            .ok_or_else(|| ImageError::Build {
                image: image.clone(),
                message: "not on the first engine, nothing to copy".into(),
            })?
            .0;
        if image_id(to, &image).await?.map(|(id, _)| id) == Some(want) {
            continue;
        }
        progress(format!("copying {image} to another engine"));
        transfer(from, to, &image).await?;
        copied.push(image);
    }
    Ok(copied)
}

/// Copies one image (a name or an id) from one engine to another through
/// the API, `docker save | docker load` without the CLI: the copy keeps the
/// image's id and its labels (a run's label included, so it is swept with
/// the run on that engine too).
pub async fn transfer(from: &Docker, to: &Docker, image: &str) -> Result<(), ImageError> {
    let saved = from.export_image(image);
    let mut loading = to.import_image_stream(
        bollard::query_parameters::ImportImageOptionsBuilder::default()
            .quiet(true)
            .build(),
        saved,
        None,
    );
    while let Some(item) = loading.next().await {
        item.map_err(|e| ImageError::Build {
            image: image.to_string(),
            message: format!("copying to another engine: {e}"),
        })?;
    }
    Ok(())
}

/// The host's apt sources, passed to mmdebstrap on stdin so no mirror
/// address is ever written into the repository.
fn host_apt_sources() -> Result<String, ImageError> {
    let dir = Path::new("/etc/apt/sources.list.d");
    let mut deb822 = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        let mut files: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "sources"))
            .collect();
        files.sort();
        for f in files {
            deb822
                .push(std::fs::read_to_string(&f).map_err(io(format!("reading {}", f.display())))?);
        }
    }
    if !deb822.is_empty() {
        return Ok(deb822.join("\n\n"));
    }
    let one_line = std::fs::read_to_string("/etc/apt/sources.list").unwrap_or_default();
    let lines: Vec<&str> = one_line
        .lines()
        .filter(|l| l.trim_start().starts_with("deb ") || l.trim_start().starts_with("deb["))
        .collect();
    if lines.is_empty() {
        return Err(ImageError::NoAptSources(
            "looked in /etc/apt/sources.list.d/*.sources and /etc/apt/sources.list".into(),
        ));
    }
    Ok(lines.join("\n") + "\n")
}

fn which(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
}

async fn build_base(docker: &Docker, progress: &(dyn Fn(String) + Sync)) -> Result<(), ImageError> {
    let recipe: BaseRecipe =
        toml::from_str(BASE_RECIPE).map_err(|e| ImageError::Recipe(e.to_string()))?;
    if !which("mmdebstrap") {
        return Err(ImageError::MissingTool {
            tool: "mmdebstrap",
            install: "apt-get install -y mmdebstrap",
        });
    }
    let sources = host_apt_sources()?;
    let tmp = tempfile_dir()?;
    let out = tmp.join("rootfs.tar");
    progress(format!(
        "mmdebstrap --variant={} {} (from the host's apt sources)",
        recipe.variant, recipe.suite
    ));
    let mut cmd = tokio::process::Command::new("mmdebstrap");
    cmd.arg(format!("--variant={}", recipe.variant));
    if !recipe.include.is_empty() {
        cmd.arg(format!("--include={}", recipe.include.join(",")));
    }
    cmd.arg(&recipe.suite).arg(&out).arg("-");
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(io("starting mmdebstrap"))?;
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin
            .write_all(sources.as_bytes())
            .await
            .map_err(io("writing apt sources to mmdebstrap"))?;
    }
    let output = child
        .wait_with_output()
        .await
        .map_err(io("waiting for mmdebstrap"))?;
    if !output.status.success() {
        let text = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        std::fs::remove_dir_all(&tmp).ok();
        return Err(ImageError::Mmdebstrap {
            code: output.status.code(),
            tail: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    progress(format!("importing root file system as {}", base_tag()));
    let bytes = tokio::fs::read(&out)
        .await
        .map_err(io(format!("reading {}", out.display())))?;
    std::fs::remove_dir_all(&tmp).ok();
    let options = CreateImageOptionsBuilder::default()
        .from_src("-")
        .repo(BASE_REPO)
        .tag(&format!("r-{}", base_recipe_hash()))
        .changes(vec!["CMD [\"/bin/bash\"]".to_string()])
        .build();
    let mut stream = docker.create_image(Some(options), Some(body_full(bytes.into())), None);
    while let Some(item) = stream.next().await {
        item.map_err(|e| ImageError::Build {
            image: base_tag(),
            message: e.to_string(),
        })?;
    }
    Ok(())
}

fn tempfile_dir() -> Result<PathBuf, ImageError> {
    let base = std::env::temp_dir().join(format!("mistake-cost-base-{}", std::process::id()));
    std::fs::create_dir_all(&base).map_err(io(format!("creating {}", base.display())))?;
    Ok(base)
}

fn build_context(f: Family) -> Result<Vec<u8>, ImageError> {
    super::fixtures::tar_of_files(&[
        ("Dockerfile", f.dockerfile().as_bytes(), 0o644),
        ("agent.pl", AGENT.as_bytes(), 0o755),
    ])
    .map_err(io("writing build context"))
}

async fn build_family(
    docker: &Docker,
    f: Family,
    base_id: &str,
    progress: &(dyn Fn(String) + Sync),
) -> Result<(), ImageError> {
    let labels = HashMap::from([
        (RECIPE_LABEL.to_string(), f.recipe_hash()),
        (BASE_LABEL.to_string(), base_id.to_string()),
    ]);
    let args = HashMap::from([("BASE".to_string(), base_tag())]);
    let image = f.image();
    let options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(&image)
        .rm(true)
        .forcerm(true)
        .buildargs(&args)
        .labels(&labels)
        .build();
    progress(format!("building {image}"));
    let context = build_context(f)?;
    let mut stream = docker.build_image(options, None, Some(body_full(context.into())));
    let mut last = Vec::new();
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| ImageError::Build {
            image: image.clone(),
            message: format!("{e}\n{}", last.join("")),
        })?;
        if let Some(err) = info.error_detail.and_then(|d| d.message) {
            return Err(ImageError::Build {
                image,
                message: format!("{err}\n{}", last.join("")),
            });
        }
        if let Some(line) = info.stream {
            let trimmed = line.trim();
            if !trimmed.is_empty() {
                progress(format!(
                    "{image}: {}",
                    trimmed.chars().take(100).collect::<String>()
                ));
            }
            last.push(line);
            if last.len() > 20 {
                last.remove(0);
            }
        }
    }
    Ok(())
}
