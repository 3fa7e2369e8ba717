//! Which Docker engines a run uses: `--engine URL[,jobs=N][,name=NAME]`
//! (repeatable), parsed here and connected by `connect_to`. Without
//! `--engine` a run has one engine, `local`: DOCKER_HOST, else the socket.

use bollard::Docker;
use std::str::FromStr;

use super::DockerError;

/// The name of the one engine of a run without `--engine`.
pub const DEFAULT_NAME: &str = "local";

/// One `--engine` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineSpec {
    /// `unix:///path/docker.sock`, `tcp://host:port`, `http://…`.
    pub url: String,
    /// Trials at the same time on this engine (default: `--jobs`).
    pub jobs: Option<u16>,
    /// The `engine` column's value (default: `e1`, `e2`, … in the order
    /// the engines are given).
    pub name: Option<String>,
}

impl FromStr for EngineSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut parts = s.split(',');
        let url = parts.next().unwrap_or_default().trim().to_string();
        if !["unix://", "tcp://", "http://"]
            .iter()
            .any(|scheme| url.starts_with(scheme) && url.len() > scheme.len())
        {
            return Err(format!(
                "`{url}`: expected unix:///PATH, tcp://HOST:PORT or http://HOST:PORT"
            ));
        }
        let mut spec = EngineSpec {
            url,
            jobs: None,
            name: None,
        };
        for option in parts {
            match option.split_once('=') {
                Some(("jobs", n)) => {
                    let n: u16 = n.parse().map_err(|_| format!("jobs={n}: not a number"))?;
                    if !(1..=MAX_JOBS).contains(&n) {
                        return Err(format!("jobs={n}: expected 1–{MAX_JOBS}"));
                    }
                    spec.jobs = Some(n);
                }
                Some(("name", n)) => {
                    let safe = !n.is_empty()
                        && n.len() <= 32
                        && n.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                    if !safe {
                        return Err(format!(
                            "name={n}: expected 1–32 letters, digits, `-` or `_`"
                        ));
                    }
                    spec.name = Some(n.to_string());
                }
                _ => return Err(format!("`{option}`: expected jobs=N or name=NAME")),
            }
        }
        Ok(spec)
    }
}

/// The per-engine job bound (the same as `--jobs`'s).
pub const MAX_JOBS: u16 = 64;

/// An engine of the run, resolved: its name, where it is, its job limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnginePlan {
    pub name: String,
    /// None: DOCKER_HOST, else the local socket.
    pub url: Option<String>,
    pub jobs: u16,
}

impl EnginePlan {
    /// The `--engine` argument that gives this engine again (None for the
    /// default engine, which needs none): what a `--resume` hint repeats.
    pub fn as_argument(&self) -> Option<String> {
        self.url
            .as_ref()
            .map(|url| format!("--engine {url},jobs={},name={}", self.jobs, self.name))
    }
}

/// The engines a run uses: each `--engine` (names `e1`, `e2`, … unless
/// given; its job limit `jobs=` or `default_jobs`), or the one default
/// engine `local` with `default_jobs`. Names must differ.
pub fn resolve(specs: &[EngineSpec], default_jobs: u16) -> Result<Vec<EnginePlan>, String> {
    if specs.is_empty() {
        return Ok(vec![EnginePlan {
            name: DEFAULT_NAME.into(),
            url: None,
            jobs: default_jobs,
        }]);
    }
    let plans: Vec<EnginePlan> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| EnginePlan {
            name: s.name.clone().unwrap_or_else(|| format!("e{}", i + 1)),
            url: Some(s.url.clone()),
            jobs: s.jobs.unwrap_or(default_jobs),
        })
        .collect();
    for (i, p) in plans.iter().enumerate() {
        if plans[..i].iter().any(|q| q.name == p.name) {
            return Err(format!("--engine: two engines are named `{}`", p.name));
        }
    }
    Ok(plans)
}

/// Connects to `url` (None: DOCKER_HOST, else the local socket),
/// negotiates the API version (the engine here speaks 1.41 only) and
/// checks the engine answers.
pub async fn connect_to(url: Option<&str>) -> Result<Docker, DockerError> {
    let unreachable = |e: bollard::errors::Error| DockerError::Unreachable {
        message: match url {
            Some(u) => format!("{u}: {e}"),
            None => e.to_string(),
        },
    };
    let docker = match url {
        Some(u) => Docker::connect_with_host(u),
        None => Docker::connect_with_local_defaults(),
    }
    .map_err(unreachable)?;
    let docker = docker.negotiate_version().await.map_err(unreachable)?;
    docker.ping().await.map_err(unreachable)?;
    Ok(docker)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_url_jobs_and_name() {
        let s: EngineSpec = "unix:///run/mc2/docker.sock,jobs=1,name=second"
            .parse()
            .unwrap();
        assert_eq!(s.url, "unix:///run/mc2/docker.sock");
        assert_eq!(s.jobs, Some(1));
        assert_eq!(s.name.as_deref(), Some("second"));
        let bare: EngineSpec = "tcp://10.0.0.2:2375".parse().unwrap();
        assert_eq!((bare.jobs, bare.name), (None, None));
        for bad in [
            "/run/docker.sock",
            "unix://",
            "unix:///s,jobs=0",
            "unix:///s,jobs=x",
            "unix:///s,name=a b",
            "unix:///s,cpus=2",
        ] {
            assert!(bad.parse::<EngineSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn an_engine_is_given_again_as_an_argument() {
        let plans = resolve(&["unix:///run/b.sock,jobs=2".parse().unwrap()], 1).unwrap();
        assert_eq!(
            plans[0].as_argument().as_deref(),
            Some("--engine unix:///run/b.sock,jobs=2,name=e1")
        );
        let again: EngineSpec = plans[0].as_argument().unwrap()["--engine ".len()..]
            .parse()
            .unwrap();
        assert_eq!(resolve(&[again], 1).unwrap(), plans);
        assert_eq!(resolve(&[], 1).unwrap()[0].as_argument(), None);
    }

    #[test]
    fn resolves_names_and_default_jobs() {
        assert_eq!(
            resolve(&[], 3).unwrap(),
            vec![EnginePlan {
                name: "local".into(),
                url: None,
                jobs: 3
            }]
        );
        let specs: Vec<EngineSpec> = ["unix:///a,jobs=1", "unix:///b"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let plans = resolve(&specs, 2).unwrap();
        assert_eq!(plans[0].name, "e1");
        assert_eq!((plans[1].name.as_str(), plans[1].jobs), ("e2", 2));
        let twice: Vec<EngineSpec> = ["unix:///a,name=x", "unix:///b,name=x"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert!(resolve(&twice, 2).is_err());
    }
}
