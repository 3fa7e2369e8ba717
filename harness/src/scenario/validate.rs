//! Checks that serde cannot express: names that must exist, acyclic
//! dependencies, names every ecosystem accepts, safe file paths.

use serde_spanned::Spanned;
use std::collections::BTreeSet;

use super::{ParseError, Scenario};
use crate::approach::ApproachKind;

fn err<T>(at: &Spanned<T>, message: impl Into<String>) -> ParseError {
    ParseError::new(Some(at.span()), message)
}

pub fn validate(s: &Scenario) -> Result<(), ParseError> {
    if s.scenario.approaches.is_empty() {
        return Err(ParseError::new(None, "[scenario] approaches: expected at least one of apt, pip, pip-venv, nix"));
    }
    let mut seen_approaches = BTreeSet::new();
    for a in &s.scenario.approaches {
        if !seen_approaches.insert(*a.get_ref()) {
            return Err(err(a, format!("approach `{}` is listed twice", a.get_ref())));
        }
    }
    if s.scenario.reps == 0 {
        return Err(ParseError::new(None, "[scenario] reps: expected a positive number"));
    }

    let mut names = BTreeSet::new();
    for p in &s.packages {
        let name = p.name.get_ref();
        if !valid_name(name) {
            return Err(err(
                &p.name,
                format!("package name `{name}`: expected lowercase letters and digits, starting with a letter (a name apt, pip and Nix all accept)"),
            ));
        }
        if !names.insert(name.clone()) {
            return Err(err(&p.name, format!("package `{name}` is declared twice")));
        }
        if !valid_version(&p.version) {
            return Err(err(&p.name, format!("package `{name}`: version `{}`: expected numbers separated by dots, like 1.0", p.version)));
        }
        for (i, f) in p.files.iter().enumerate() {
            let path = f.path.get_ref();
            if path.is_empty() || path.starts_with('/') || path.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
                return Err(err(&f.path, format!("file path `{path}`: expected a relative path without `.`, `..` or empty parts")));
            }
            if crate::payload::RESERVED_FILES.contains(&path.as_str()) {
                return Err(err(&f.path, format!("file path `{path}`: reserved for the file every package carries; choose another name")));
            }
            for other in &p.files[..i] {
                let o = other.path.get_ref();
                if o == path {
                    return Err(err(&f.path, format!("file `{path}` is listed twice in package `{name}`")));
                }
                if path.starts_with(&format!("{o}/")) || o.starts_with(&format!("{path}/")) {
                    return Err(err(&f.path, format!("file `{path}` and file `{o}` cannot both exist: one would be a folder")));
                }
            }
        }
        if let Some(fail) = &p.fail {
            for w in &fail.writes {
                let path = w.get_ref();
                if !path.starts_with('/') || path.split('/').skip(1).any(|c| c.is_empty() || c == "." || c == "..") {
                    return Err(err(w, format!("fail.writes `{path}`: expected an absolute path without `.`, `..` or empty parts")));
                }
            }
            if fail.exit_code == 0 {
                return Err(ParseError::new(Some(p.name.span()), format!("package `{name}`: fail.exit_code must not be 0")));
            }
        }
    }
    for p in &s.packages {
        for d in &p.depends {
            if !names.contains(d.get_ref()) {
                return Err(err(d, format!("dependency `{}` is not a package declared in this file", d.get_ref())));
            }
            if d.get_ref() == p.name.get_ref() {
                return Err(err(d, "a package cannot depend on itself"));
            }
        }
    }
    if let Some(cycle_at) = find_cycle(s) {
        return Err(err(&cycle_at.name, format!("package `{}` is part of a dependency cycle", cycle_at.name.get_ref())));
    }
    for r in s.setup.install.iter().chain(&s.operation.packages) {
        if !names.contains(r.get_ref()) {
            return Err(err(r, format!("package `{}` is not declared with [[package]]", r.get_ref())));
        }
    }
    if s.operation.packages.is_empty() {
        return Err(ParseError::new(None, "[operation] packages: expected at least one package"));
    }
    for (key, playbook) in &s.recovery {
        match key.get_ref().parse::<ApproachKind>() {
            Ok(a) if seen_approaches.contains(&a) => {}
            Ok(a) => return Err(err(key, format!("[recovery.{a}] is for an approach this scenario does not run"))),
            Err(_) => return Err(err(key, format!("[recovery.{}]: expected one of apt, pip, pip-venv, nix", key.get_ref()))),
        }
        if playbook.commands.iter().any(|c| c.trim().is_empty()) {
            return Err(err(key, "recovery commands must not be empty"));
        }
    }
    Ok(())
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && n.len() <= 64
}

fn valid_version(v: &str) -> bool {
    !v.is_empty() && v.split('.').all(|p| !p.is_empty() && p.len() <= 9 && p.chars().all(|c| c.is_ascii_digit()))
}

fn find_cycle(s: &Scenario) -> Option<&super::PackageSpec> {
    // Depth-first search with colours: 1 = on the stack, 2 = done.
    fn dfs<'a>(s: &'a Scenario, name: &str, colour: &mut std::collections::BTreeMap<String, u8>) -> Option<&'a super::PackageSpec> {
        match colour.get(name) {
            Some(1) => return s.package(name),
            Some(_) => return None,
            None => {}
        }
        colour.insert(name.to_string(), 1);
        if let Some(p) = s.package(name) {
            for d in &p.depends {
                if let Some(c) = dfs(s, d.get_ref(), colour) {
                    return Some(c);
                }
            }
        }
        colour.insert(name.to_string(), 2);
        None
    }
    let mut colour = std::collections::BTreeMap::new();
    s.packages.iter().find_map(|p| dfs(s, p.name.get_ref(), &mut colour))
}
