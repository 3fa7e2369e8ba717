//! Checks of a `[service]` and a `configure` operation that serde's types
//! cannot express: which keys go together, where files and edits may
//! point, and that every edit of a declared file applies (its `find`
//! occurs), each error at the key that causes it.

use serde_spanned::Spanned;

use super::validate::err;
use super::{apply, file_edit, Content};
use super::{Edit, ParseError, Scenario, ServiceName, ServiceSpec};

/// One configuration file's text (declared or an edit's whole content).
pub const MAX_CONFIG_TEXT_BYTES: usize = 256 * 1024;

/// A `configure` operation: its mistake, its `[service]`, the approaches
/// and their recoveries.
pub(super) fn validate_configure(s: &Scenario) -> Result<(), ParseError> {
    let op = &s.operation;
    if let Some(p) = op.packages.first() {
        return Err(err(p, "a `configure` operation installs no packages"));
    }
    let Some(service) = &s.service else {
        let at = op
            .change
            .as_ref()
            .map(|c| c.span())
            .or(op.edit.first().map(|e| e.path.span()))
            .unwrap_or(op.kind.span());
        return Err(ParseError::new(
            Some(at),
            "a `configure` operation needs a [service] table (the service, its files and probes)",
        ));
    };
    match (&op.change, op.edit.first()) {
        (Some(c), Some(_)) => {
            return Err(err(
                c,
                "`change` is a built-in mistake of nginx's site; a scenario with `[[operation.edit]]` gives only its edits",
            ))
        }
        (None, None) => {
            return Err(err(
                &op.kind,
                "a `configure` operation names its mistake: one or more `[[operation.edit]]` (or a built-in `change`: syntax-error, wrong-root, wrong-port, missing-include)",
            ))
        }
        (Some(c), None) => {
            if service.service() != ServiceName::Nginx {
                return Err(err(c, "the built-in `change` mistakes are nginx's site's; for another service write `[[operation.edit]]`"));
            }
            if let Some(f) = service.file.first() {
                return Err(err(&f.path, "a built-in `change` brings its own site; to declare files, write the mistake as `[[operation.edit]]`"));
            }
            if let Some(e) = service.wanted_edit.first() {
                return Err(err(&e.path, "a built-in `change` brings its own wanted edit; to declare one, write the mistake as `[[operation.edit]]`"));
            }
        }
        (None, Some(_)) => {}
    }
    let rollout = *op.kind.get_ref() == super::OperationKind::Rollout;
    let (table, what, kind): (&[(&str, &[&str])], _, _) = if rollout {
        (
            &crate::vocab::FLEET_TOOLS,
            "roll a configuration out to a fleet",
            "rollout",
        )
    } else {
        (
            &crate::vocab::CONFIG_TOOLS,
            "manage a service's configuration",
            "configure",
        )
    };
    let tools: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
    for a in &s.scenario.approaches {
        if !tools.contains(&a.get_ref().as_str()) {
            return Err(err(
                a,
                format!(
                    "approach `{}` does not {what}; `{kind}` scenarios take {}",
                    a.get_ref(),
                    tools.join(", ")
                ),
            ));
        }
    }
    if let Some(site) = &service.site {
        return Err(err(
            site,
            "`site` is for install and upgrade scenarios; a `configure` scenario serves its own page",
        ));
    }
    validate_service(service)?;
    validate_files_and_edits(s, service)?;
    validate_recoveries(s, service)
}

/// An install or upgrade watching a site: nginx serving a declared package.
pub(super) fn validate_site(s: &Scenario, service: &ServiceSpec) -> Result<(), ParseError> {
    let Some(site) = &service.site else {
        let at = service
            .port
            .as_ref()
            .map(|p| p.span())
            .or(service.name.as_ref().map(|n| n.span()))
            .unwrap_or(s.operation.kind.span());
        return Err(ParseError::new(
            Some(at),
            "an install or upgrade with a [service] names its `site`: the package whose files nginx serves",
        ));
    };
    if let Some(n) = service
        .name
        .as_ref()
        .filter(|n| *n.get_ref() != ServiceName::Nginx)
    {
        return Err(err(n, "a `site` is served by nginx"));
    }
    if !s
        .packages
        .iter()
        .any(|p| p.name.get_ref() == site.get_ref())
    {
        return Err(err(
            site,
            format!("site: `{}` is not a declared package", site.get_ref()),
        ));
    }
    if let Some((approach, _)) = service.recovery.iter().next() {
        return Err(err(
            approach,
            "[service] recovery names a configuration recovery; an install or upgrade recovers with its playbook",
        ));
    }
    let extra = service
        .file
        .first()
        .map(|f| &f.path)
        .or(service.wanted_edit.first().map(|e| &e.path));
    if let Some(p) = extra {
        return Err(err(p, "files and edits belong to a `configure` scenario; an install or upgrade serves its `site` package"));
    }
    validate_service(service)
}

fn validate_service(v: &ServiceSpec) -> Result<(), ParseError> {
    if let Some(port) = &v.port {
        if *port.get_ref() == 0 || *port.get_ref() == u16::MAX {
            // The wrong-port change listens on port + 1.
            return Err(err(port, "port: expected 1 to 65534"));
        }
    }
    if let Some(marker) = &v.marker {
        let m = marker.get_ref();
        if m.is_empty()
            || m.len() > 64
            || !m
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || " ._-".contains(c))
        {
            return Err(err(
                marker,
                "marker: expected 1 to 64 letters, digits, spaces, `.`, `_` or `-`",
            ));
        }
        if v.service() != ServiceName::Nginx {
            return Err(err(
                marker,
                "marker: the text of nginx's page; other services have none",
            ));
        }
    }
    if *v.settle_ms.get_ref() > 60_000 {
        return Err(err(&v.settle_ms, "settle_ms: expected at most 60000"));
    }
    if !(5..=50).contains(v.probe_interval_ms.get_ref()) {
        return Err(err(
            &v.probe_interval_ms,
            "probe_interval_ms: expected 5 to 50 (downtime is measured to this resolution)",
        ));
    }
    for spanned in &v.probe {
        let p = spanned.get_ref();
        let kinds = [p.http.is_some(), p.tcp.is_some(), p.command.is_some()];
        // The probe's own key when it has one, else the probe's table (a
        // probe with only `expect_*` keys, or none).
        let first = p
            .http
            .as_ref()
            .map(|h| h.span())
            .or(p.tcp.as_ref().map(|t| t.span()))
            .or(p.command.as_ref().map(|c| c.span()))
            .unwrap_or(spanned.span());
        let at = |message: &str| ParseError::new(Some(first.clone()), message);
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err(at(
                "a [[service.probe]] is exactly one of `http = \"/path\"`, `tcp = true` or `command = \"...\"`",
            ));
        }
        if let Some(h) = &p.http {
            if !h.get_ref().starts_with('/')
                || h.get_ref()
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(err(h, "http: a path starting with `/`, without spaces"));
            }
        } else if let Some(s) = &p.expect_status {
            return Err(err(s, "expect_status belongs to an `http` probe"));
        } else if let Some(b) = &p.expect_body {
            return Err(err(b, "expect_body belongs to an `http` probe"));
        }
        if let Some(s) = &p.expect_status {
            if !(100..=599).contains(s.get_ref()) {
                return Err(err(s, "expect_status: an HTTP status from 100 to 599"));
            }
        }
        if let Some(t) = &p.tcp {
            if !t.get_ref() {
                return Err(err(
                    t,
                    "tcp: `true` (a TCP connect to the service's port) or leave it out",
                ));
            }
        }
        if let Some(c) = &p.command {
            if c.get_ref().trim().is_empty() {
                return Err(err(c, "command: a shell command"));
            }
        } else if let Some(o) = &p.expect_stdout {
            return Err(err(o, "expect_stdout belongs to a `command` probe"));
        }
    }
    Ok(())
}

/// An absolute path, no `.`/`..` components, no trailing `/`.
fn check_path(path: &Spanned<String>) -> Result<(), ParseError> {
    let p = path.get_ref();
    let clean = p.starts_with('/')
        && !p.ends_with('/')
        && !p.contains('\0')
        && !p.contains('\n')
        && p.split('/')
            .skip(1)
            .all(|c| !c.is_empty() && c != "." && c != "..");
    if !clean {
        return Err(err(
            path,
            format!("path `{p}`: expected an absolute path to a file, without `.` or `..`"),
        ));
    }
    Ok(())
}

fn check_text(text: &Spanned<String>) -> Result<(), ParseError> {
    if text.get_ref().len() > MAX_CONFIG_TEXT_BYTES {
        return Err(err(
            text,
            format!(
                "text: {} bytes, over the limit of {MAX_CONFIG_TEXT_BYTES}",
                text.get_ref().len()
            ),
        ));
    }
    Ok(())
}

fn validate_files_and_edits(s: &Scenario, v: &ServiceSpec) -> Result<(), ParseError> {
    let service = v.service();
    let roots = service.config_roots().join(", ");
    let mut seen: Vec<&str> = Vec::new();
    for f in &v.file {
        check_path(&f.path)?;
        check_text(&f.text)?;
        if seen.contains(&f.path.get_ref().as_str()) {
            return Err(err(
                &f.path,
                format!("path `{}` is declared twice", f.path.get_ref()),
            ));
        }
        seen.push(f.path.get_ref());
    }
    // The declared files through the stages, as `render.pl` will see them:
    // an edit whose `find` is not there fails here, at the edit.
    let mut files: Vec<(String, Content)> = v
        .file
        .iter()
        .filter(|f| service.manages(f.path.get_ref()))
        .map(|f| (f.path.get_ref().clone(), Some(f.text.get_ref().clone())))
        .collect();
    for e in v.wanted_edit.iter().chain(&s.operation.edit) {
        check_edit(e)?;
        if !service.manages(e.path.get_ref()) {
            return Err(err(
                &e.path,
                format!(
                    "path `{}` is outside {}'s configuration ({roots}): no approach manages it as the service's configuration",
                    e.path.get_ref(),
                    v.service().as_str()
                ),
            ));
        }
        if let Some(slot) = files.iter_mut().find(|(p, _)| p == e.path.get_ref()) {
            slot.1 = apply(slot.1.take(), &file_edit(e)).map_err(|m| {
                let at = e.replace.as_ref().map_or(e.path.span(), |r| r.span());
                ParseError::new(Some(at), m)
            })?;
        }
    }
    Ok(())
}

fn check_edit(e: &Edit) -> Result<(), ParseError> {
    check_path(&e.path)?;
    let actions = [e.replace.is_some(), e.text.is_some(), e.delete.is_some()];
    if actions.iter().filter(|a| **a).count() != 1 {
        return Err(err(
            &e.path,
            "an edit is exactly one of `replace = { find = \"...\", with = \"...\" }`, `text = \"...\"` or `delete = true`",
        ));
    }
    if let Some(r) = &e.replace {
        if r.get_ref().find.is_empty() {
            return Err(err(r, "replace: `find` is empty"));
        }
        if r.get_ref().with.len() > MAX_CONFIG_TEXT_BYTES
            || r.get_ref().find.len() > MAX_CONFIG_TEXT_BYTES
        {
            return Err(err(
                r,
                format!("replace: over the limit of {MAX_CONFIG_TEXT_BYTES} bytes"),
            ));
        }
    }
    if let Some(t) = &e.text {
        check_text(t)?;
    }
    if let Some(d) = &e.delete {
        if !d.get_ref() {
            return Err(err(d, "delete: `true` (the file removed) or leave it out"));
        }
    }
    Ok(())
}

fn validate_recoveries(s: &Scenario, v: &ServiceSpec) -> Result<(), ParseError> {
    for (approach, names) in &v.recovery {
        if !s
            .scenario
            .approaches
            .iter()
            .any(|a| a.get_ref().as_str() == approach.get_ref())
        {
            return Err(err(
                approach,
                format!(
                    "recovery for `{}`, which this scenario does not run",
                    approach.get_ref()
                ),
            ));
        }
        let offered = match s.operation.kind.get_ref() {
            super::OperationKind::Rollout => crate::vocab::fleet_methods(approach.get_ref()),
            _ => crate::vocab::config_recoveries(approach.get_ref()),
        }
        .unwrap_or_default();
        let listed = names.get_ref().names();
        if listed.is_empty() {
            return Err(err(names, "recovery: name at least one"));
        }
        for (i, name) in listed.iter().enumerate() {
            if !offered.contains(name) {
                return Err(err(
                    names,
                    format!(
                        "unknown recovery `{name}` for {}: expected one of {}",
                        approach.get_ref(),
                        offered.join(", ")
                    ),
                ));
            }
            if listed[..i].contains(name) {
                return Err(err(names, format!("recovery `{name}` is listed twice")));
            }
            if *name == "reinstall" && s.operation.change.is_none() {
                return Err(err(
                    names,
                    "`reinstall` brings back nginx's default site: it recovers only the built-in `change` mistakes",
                ));
            }
        }
    }
    Ok(())
}
