//! The rules of each operation kind, beyond the fields' own: what an
//! install, upgrade, configure or experiment needs, and what a `[retry]`
//! or an `[experiment]` table may say (see scenarios/README.md).

use super::validate::{check_ref, err};
use super::{PackageRef, ParseError, Scenario};

/// A `[retry]` needs a failure to retry (a package of the operation that
/// fails, or a fault), and must itself install something that does not
/// fail: it stands for "fix the cause, install again".
pub(super) fn validate_retry(s: &Scenario) -> Result<(), ParseError> {
    use super::OperationKind;
    let Some(retry) = &s.retry else {
        return Ok(());
    };
    if matches!(
        s.operation.kind.get_ref(),
        OperationKind::Configure | OperationKind::Experiment | OperationKind::Rollout
    ) {
        return Err(err(
            retry,
            "[retry] installs packages again after a failed install or upgrade; a `configure` or `experiment` operation has no failure to retry",
        ));
    }
    if s.service.is_some() {
        return Err(err(
            retry,
            "[retry] with a [service] is not supported: the clean install it is compared with would need its own running service",
        ));
    }
    for r in &retry.get_ref().packages {
        check_ref(s, r, "package")?;
    }
    let before = s.closure_specs(&s.setup_refs());
    let fails = s
        .closure_specs(&s.operation_refs())
        .into_iter()
        .filter(|p| !before.iter().any(|b| std::ptr::eq(*b, *p)))
        .any(|p| p.fail.is_some());
    if !fails && s.faults.is_empty() {
        return Err(err(
            retry,
            "[retry] retries a failed operation, but nothing makes this one fail: no package the operation installs has a [package.fail] and the scenario has no [[fault]]",
        ));
    }
    for r in &retry.get_ref().packages {
        let closure = s.closure_specs(&[PackageRef::parse(r.get_ref())]);
        if let Some(p) = closure.iter().find(|p| p.fail.is_some()) {
            return Err(err(
                r,
                format!(
                    "the retry installs `{}={}`, which fails itself ([package.fail]); a retry installs the fixed version or an alternative",
                    p.name.get_ref(),
                    p.version
                ),
            ));
        }
    }
    Ok(())
}

/// An `experiment` (isolation) scenario: every approach takes part in
/// experiments, nothing disturbs it, and a second project needs another
/// version of one of the first project's packages. Environment-only
/// approaches run experiments and nothing else.
pub(super) fn validate_experiment(s: &Scenario) -> Result<(), ParseError> {
    use super::OperationKind;
    use crate::vocab::{experiment_role, ExperimentRole, ENVIRONMENT_ONLY};
    let is_experiment = *s.operation.kind.get_ref() == OperationKind::Experiment;
    if !is_experiment {
        if let Some(e) = &s.experiment {
            return Err(err(
                e,
                "[experiment] belongs to a scenario whose operation has `kind = \"experiment\"`",
            ));
        }
        if let Some(a) = s
            .scenario
            .approaches
            .iter()
            .find(|a| ENVIRONMENT_ONLY.contains(&a.get_ref().as_str()))
        {
            return Err(err(
                a,
                format!(
                    "approach `{}` is a project environment: it runs in `experiment` scenarios only",
                    a.get_ref()
                ),
            ));
        }
        return Ok(());
    }
    for a in &s.scenario.approaches {
        if experiment_role(a.get_ref().as_str()) == ExperimentRole::None {
            return Err(err(
                a,
                format!(
                    "approach `{}` cannot enter an environment or install a project's packages; an `experiment` scenario takes {}",
                    a.get_ref(),
                    experiment_takers()
                ),
            ));
        }
    }
    if let Some(f) = s.faults.first() {
        return Err(err(
            &f.kind,
            "an `experiment` runs undisturbed: faults are for install and upgrade operations",
        ));
    }
    if s.service.is_some() || s.setup.drop_old_versions {
        return Err(err(
            &s.operation.kind,
            "an `experiment` takes no [service] and no `drop_old_versions`",
        ));
    }
    let Some(e) = &s.experiment else {
        return Ok(());
    };
    let first = s.closure_specs(&s.operation_refs());
    for r in &e.get_ref().second {
        check_ref(s, r, "package")?;
    }
    let conflict = s.closure_specs(&s.second_refs()).into_iter().any(|p| {
        first
            .iter()
            .any(|f| f.name.get_ref() == p.name.get_ref() && f.version != p.version)
    });
    if !conflict {
        return Err(err(
            e,
            "[experiment] second: the second project must need another version of a package the first one uses (that is what side by side tests)",
        ));
    }
    Ok(())
}

/// The operation's own fields against its kind, and the `[service]` a
/// `configure` needs.
pub(super) fn validate_operation(s: &Scenario) -> Result<(), ParseError> {
    use super::OperationKind;
    let op = &s.operation;
    match op.kind.get_ref() {
        OperationKind::Install | OperationKind::Upgrade | OperationKind::Experiment => {
            if op.packages.is_empty() {
                return Err(err(
                    &op.kind,
                    "an install, upgrade or experiment names its `packages`",
                ));
            }
            if let Some(c) = &op.change {
                return Err(err(c, "`change` belongs to a `configure` operation"));
            }
            if let Some(e) = op.edit.first() {
                return Err(err(
                    &e.path,
                    "`[[operation.edit]]` belongs to a `configure` operation",
                ));
            }
        }
        OperationKind::Configure => super::validate_service::validate_configure(s)?,
        OperationKind::Rollout => {
            super::validate_service::validate_configure(s)?;
            super::validate_fleet::validate_rollout(s)?;
        }
    }
    if let (Some(fleet), false) = (&s.fleet, *op.kind.get_ref() == OperationKind::Rollout) {
        return Err(err(
            fleet,
            "[fleet] belongs to a `rollout` operation (kind = \"rollout\")",
        ));
    }
    if let (Some(service), OperationKind::Install | OperationKind::Upgrade) =
        (&s.service, op.kind.get_ref())
    {
        super::validate_service::validate_site(s, service)?;
    }
    Ok(())
}

/// The built-ins an `experiment` scenario takes, for messages:
/// `apt, pip, … or nix-shell`.
fn experiment_takers() -> String {
    use crate::vocab::{experiment_role, ExperimentRole, BUILTIN_APPROACHES};
    let names: Vec<&str> = BUILTIN_APPROACHES
        .into_iter()
        .filter(|n| experiment_role(n) != ExperimentRole::None)
        .collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => names.join(", "),
    }
}
