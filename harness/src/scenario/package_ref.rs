//! How a scenario names a package: `name`, or `name=version`, and how
//! versions compare.

use super::PackageSpec;

/// A package as a scenario refers to it: `name`, or `name=version` when the
/// file declares several versions of `name` (then the version is required,
/// because apt, pip and Nix would each pick a different one otherwise).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PackageRef {
    pub name: String,
    pub version: Option<String>,
}

impl PackageRef {
    pub fn parse(text: &str) -> PackageRef {
        match text.split_once('=') {
            Some((n, v)) => PackageRef {
                name: n.trim().to_string(),
                version: Some(v.trim().to_string()),
            },
            None => PackageRef {
                name: text.trim().to_string(),
                version: None,
            },
        }
    }

    pub fn of(pkg: &PackageSpec) -> PackageRef {
        PackageRef {
            name: pkg.name.get_ref().clone(),
            version: Some(pkg.version.clone()),
        }
    }
}

impl std::fmt::Display for PackageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{}={v}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Dotted numeric versions compare number by number (1.10 > 1.9).
pub fn version_key(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}
