//! An independent oracle for the harness's measurement (issue 8). For every
//! approach and for scenarios generated here (a 7-package chain, 30
//! packages under one top package, the 7-chain whose top package fails), a
//! live sandbox is driven through the executor's own steps (set-up,
//! snapshot, operation, snapshot) and the harness's numbers are checked
//! against what is read outside the agent and outside the approaches'
//! view commands:
//!
//! - files: the engine's own change list (`docker diff`) against the paths
//!   the harness's snapshots considered changed;
//! - packages: each package manager's own listing, read with a plain exec
//!   (`dpkg-query`, `pip list --format=json`, `nix-env -q --json`), diffed
//!   here, against the residue's package list: equal, and of the exact size
//!   each tool is known to produce.
//!
//! - pip's view: its direct read of the metadata equals what
//!   `importlib.metadata` lists, in the state after each operation.
//!
//! The 30-package case makes the apt view (about 4,000 bytes in the bare
//! image) far longer than the agent's 4096-byte output tail, which once
//! invented package changes (`adduser` for a 7-chain).

mod common;

use futures_util::FutureExt;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mistake_cost::approach::{approach, operation_command, Approach, ApproachKind};
use mistake_cost::docker::images::Family;
use mistake_cost::docker::{DockerError, ExecLimits, RunId, Sandbox, SandboxSpec, RUN_LABEL};
use mistake_cost::history::{History, Phase};
use mistake_cost::runner::DockerExecutor;
use mistake_cost::scenario::Scenario;
use mistake_cost::snapshot::classify::{excluded, Class};
use mistake_cost::snapshot::manifest::{ChangeKind, Entry, Manifest};
use mistake_cost::snapshot::{self, Residue, Snapshot};
use tokio_util::task::TaskTracker;

const STEP: Duration = Duration::from_secs(300);

/// The scenarios, generated: (name, TOML, operation succeeds).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Case {
    /// och1 → och2 → … → och7, all installed.
    Chain7,
    /// wtop depends on wch1 (a chain of 10) and on 19 independent
    /// packages: 30 installed.
    Thirty,
    /// fch1 → … → fch7, where fch1 (the top) fails.
    FailingTop,
}

impl Case {
    const ALL: [Case; 3] = [Case::Chain7, Case::Thirty, Case::FailingTop];

    fn name(self) -> &'static str {
        match self {
            Case::Chain7 => "oracle-chain7",
            Case::Thirty => "oracle-thirty",
            Case::FailingTop => "oracle-chain7-fails",
        }
    }

    /// Every package the operation pulls in, top first.
    fn packages(self) -> Vec<String> {
        match self {
            Case::Chain7 => (1..=7).map(|i| format!("och{i}")).collect(),
            Case::Thirty => std::iter::once("wtop".to_string())
                .chain((1..=10).map(|i| format!("wch{i}")))
                .chain((1..=19).map(|i| format!("wid{i}")))
                .collect(),
            Case::FailingTop => (1..=7).map(|i| format!("fch{i}")).collect(),
        }
    }

    fn toml(self) -> String {
        let approaches: Vec<String> = installing_approaches()
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect();
        let mut t = format!(
            "[scenario]\nname = \"{}\"\napproaches = [{}]\nreps = 1\n",
            self.name(),
            approaches.join(", ")
        );
        let pkg = |t: &mut String, name: &str, depends: &[String]| {
            let deps: Vec<String> = depends.iter().map(|d| format!("\"{d}\"")).collect();
            t.push_str(&format!(
                "\n[[package]]\nname = \"{name}\"\nversion = \"1.0\"\ndepends = [{}]\nfiles = [{{ path = \"f.dat\", size = 64 }}]\n",
                deps.join(", ")
            ));
        };
        let names = self.packages();
        match self {
            Case::Chain7 | Case::FailingTop => {
                for (i, n) in names.iter().enumerate() {
                    pkg(
                        &mut t,
                        n,
                        &names.get(i + 1).cloned().into_iter().collect::<Vec<_>>(),
                    );
                    if i == 0 && self == Case::FailingTop {
                        // As failed-install.toml: the build fails (pip, Nix);
                        // a binary .deb has no build, its postinst fails.
                        t.push_str("\n[package.fail]\nstep = \"build\"\napt = \"configure\"\nexit_code = 1\n");
                    }
                }
            }
            Case::Thirty => {
                let chain: Vec<&String> = names.iter().filter(|n| n.starts_with("wch")).collect();
                let top_deps: Vec<String> = names
                    .iter()
                    .filter(|n| n.starts_with("wid") || *n == "wch1")
                    .cloned()
                    .collect();
                pkg(&mut t, "wtop", &top_deps);
                for (i, n) in chain.iter().enumerate() {
                    pkg(
                        &mut t,
                        n,
                        &chain
                            .get(i + 1)
                            .map(|d| d.to_string())
                            .into_iter()
                            .collect::<Vec<_>>(),
                    );
                }
                for n in names.iter().filter(|n| n.starts_with("wid")) {
                    pkg(&mut t, n, &[]);
                }
            }
        }
        t.push_str(&format!(
            "\n[operation]\nkind = \"install\"\npackages = [\"{}\"]\n",
            names[0]
        ));
        t
    }

    fn succeeds(self) -> bool {
        self != Case::FailingTop
    }
}

/// The exact number of packages whose state the operation changes, as each
/// package manager lists them.
/// Every approach that installs packages: all but the environment-only
/// ones (`npm-local`, `nix-shell`), which run in isolation experiments only.
fn installing_approaches() -> Vec<ApproachKind> {
    mistake_cost::approach::registry()
        .into_iter()
        .filter(|k| !mistake_cost::vocab::ENVIRONMENT_ONLY.contains(&k.as_str()))
        .collect()
}

fn expected_packages(kind: ApproachKind, case: Case) -> usize {
    let n = case.packages().len();
    if approach(kind).ecosystem() == mistake_cost::scenario::Ecosystem::Npm {
        // npm -g lists the top package only (its dependencies are nested
        // inside it), and removes what it unpacked when an install fails.
        return if case.succeeds() { 1 } else { 0 };
    }
    if approach(kind).family() == Family::Nix {
        // A Nix profile lists what was asked for, not its dependencies
        // (they are in the store, reachable from the profile): the one top
        // package when it installs; when its build fails, nix-env builds
        // the dependencies into the store and never switches the profile.
        return if case.succeeds() { 1 } else { 0 };
    }
    let dpkg = approach(kind).ecosystem() == mistake_cost::scenario::Ecosystem::Apt;
    match (dpkg, case.succeeds()) {
        (_, true) => n,
        // dpkg (apt, and ansible, which drives apt) unpacks the 6
        // dependencies and the top package, configures the dependencies,
        // and leaves the top package half-configured when its postinst
        // fails: all 7 change state.
        (true, false) => n,
        // pip installs the 6 dependencies, then the top package's
        // `setup.py` fails its build: the top package is never installed.
        (_, false) => n - 1,
    }
}

/// What one sandbox run measured, harness and oracle side by side.
struct Measured {
    kind: ApproachKind,
    case: Case,
    op_exit: i64,
    before: Snapshot,
    after: Snapshot,
    residue: Residue,
    engine_before: BTreeSet<String>,
    engine_after: BTreeSet<String>,
    packages_before: BTreeMap<String, String>,
    packages_after: BTreeMap<String, String>,
    view_ms: f64,
    secs: f64,
}

fn history(kind: ApproachKind, case: Case) -> History {
    History::new(case.name(), kind, "none", 0, 0)
}

/// `sh -c COMMAND` with a plain exec: the whole stdout, or an error.
async fn plain(sb: &Sandbox, command: &str) -> Result<String, String> {
    let out = sb
        .exec(&["sh".into(), "-c".into(), command.into()], None, STEP)
        .await
        .map_err(|e| e.to_string())?;
    if out.exit_code != 0 {
        return Err(format!(
            "`{command}` failed ({}): {}",
            out.exit_code,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("`{command}`: {e}"))
}

/// The package manager's own list, read without the approach's view
/// command: name → state (version, and dpkg's status).
async fn independent_packages(
    sb: &Sandbox,
    kind: ApproachKind,
) -> Result<BTreeMap<String, String>, String> {
    let pip_list = |python: &str| {
        format!("PYTHONDONTWRITEBYTECODE=1 {python} -m pip --disable-pip-version-check list --format=json")
    };
    let json = |text: &str| {
        serde_json::from_str::<serde_json::Value>(text).map_err(|e| format!("{e}: {text}"))
    };
    // The oracle's own knowledge of each package manager, by name on
    // purpose: it must not read what the approach under test says.
    match kind.as_str() {
        // ansible's packages are dpkg's (it drives apt in its own image).
        "apt" | "ansible" => {
            let text = plain(
                sb,
                r"dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\n'",
            )
            .await?;
            Ok(text
                .lines()
                .filter_map(|l| l.split_once(' '))
                .map(|(n, state)| (n.to_string(), state.trim_end().to_string()))
                .collect())
        }
        "pip" | "pip-venv" | "pip-venv-user" => {
            // The venvs' interpreters: where approach/pip.rs makes them
            // (pip-venv-user's in the user's home, read by the user).
            let python = match kind.as_str() {
                "pip" => "python3",
                "pip-venv" => "/opt/venv/bin/python",
                _ => "runuser -u alice -- /home/alice/venv/bin/python",
            };
            let list = json(&plain(sb, &pip_list(python)).await?)?;
            Ok(list
                .as_array()
                .ok_or("pip list: not an array")?
                .iter()
                .map(|d| {
                    (
                        d["name"].as_str().unwrap_or("?").to_lowercase(),
                        d["version"].as_str().unwrap_or("?").to_string(),
                    )
                })
                .collect())
        }
        "nix-profile" => {
            // Once `nix profile` has switched the profile, nix-env refuses
            // it ("incompatible with 'nix-env'"): read its manifest.json,
            // each element's store path `<hash>-<name>-<version>`. Before
            // any switch there is no manifest (and nothing installed).
            let text = plain(
                sb,
                "cat /nix/var/nix/profiles/default/manifest.json 2>/dev/null || echo '{\"elements\": []}'",
            )
            .await?;
            let manifest = json(&text)?;
            Ok(manifest["elements"]
                .as_array()
                .ok_or("manifest.json: no elements")?
                .iter()
                .flat_map(|e| e["storePaths"].as_array().cloned().unwrap_or_default())
                .filter_map(|p| {
                    let base = p
                        .as_str()?
                        .rsplit('/')
                        .next()?
                        .split_once('-')?
                        .1
                        .to_string();
                    let (name, version) = base.rsplit_once('-')?;
                    Some((name.to_string(), version.to_string()))
                })
                .collect())
        }
        _ if approach(kind).family() == Family::Nix => {
            // A daemon-backed variant talks to its nix-daemon; both read
            // the same profile.
            let text = plain(sb, "if [ -S /nix/var/nix/daemon-socket/socket ]; then export NIX_REMOTE=daemon; fi; nix-env -q --json").await?;
            let installed = json(&text)?;
            Ok(installed
                .as_object()
                .ok_or("nix-env -q --json: not an object")?
                .values()
                .map(|p| {
                    (
                        p["pname"].as_str().unwrap_or("?").to_string(),
                        p["version"].as_str().unwrap_or("?").to_string(),
                    )
                })
                .collect())
        }
        "npm-global" | "npm-global-user" => {
            // npm's own listing of the global packages (depth 0: the
            // dependencies are nested inside them); the user's npm finds
            // its prefix in the user's ~/.npmrc. Before the user's first
            // global install the prefix has no lib folder, and `npm ls -g`
            // fails (ENOENT) where there is simply nothing installed.
            let command = if kind.as_str() == "npm-global" {
                "npm ls -g --depth=0 --json --offline"
            } else {
                "if [ -d /home/alice/.npm-global/lib ]; then runuser -u alice -- npm ls -g --depth=0 --json --offline; else echo '{}'; fi"
            };
            let list = json(&plain(sb, command).await?)?;
            Ok(list["dependencies"]
                .as_object()
                .map(|deps| {
                    deps.iter()
                        .map(|(n, d)| (n.clone(), d["version"].as_str().unwrap_or("?").to_string()))
                        .collect()
                })
                .unwrap_or_default())
        }
        other => Err(format!(
            "no independent package reader for approach {other}: add one to tests/oracle.rs"
        )),
    }
}

fn changed_names(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Vec<String> {
    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    names
        .into_iter()
        .filter(|n| before.get(*n) != after.get(*n))
        .cloned()
        .collect()
}

/// The engine's change list (`docker diff`) as the set of paths a snapshot
/// must consider changed: every listed path outside the harness's excluded
/// ones, and every image path below a deleted or replaced directory.
async fn engine_considered(sb: &Sandbox, base: &Manifest) -> Result<BTreeSet<String>, String> {
    let engine = sb.engine_changes().await.map_err(|e| e.to_string())?;
    let mut set: BTreeSet<String> = engine.paths.into_iter().filter(|p| !excluded(p)).collect();
    for d in engine.replaced_dirs.iter().filter(|d| !excluded(d)) {
        let prefix = format!("{d}/");
        set.extend(
            base.range(prefix.clone()..)
                .take_while(|(p, _)| p.starts_with(&prefix))
                .map(|(p, _)| p.clone()),
        );
    }
    Ok(set)
}

async fn drive(
    ex: &DockerExecutor,
    sb: &Sandbox,
    a: &dyn Approach,
    s: &Scenario,
    base: &Arc<Manifest>,
    case: Case,
) -> Result<Measured, String> {
    let started = Instant::now();
    let kind = a.kind();
    let mut h = history(kind, case);
    let e = |e: DockerError| e.to_string();
    ex.set_up(sb, a, s, &mut h).await.map_err(e)?;
    // The oracle's own reads come before the "before" snapshot and after the
    // "after" one, so any trace they leave is in both snapshots or neither.
    let packages_before = independent_packages(sb, kind).await?;
    let before = ex.snapshot(sb, a, base, &mut h).await.map_err(e)?;
    let engine_before = engine_considered(sb, base).await?;
    let op = DockerExecutor::run_steps(sb, Phase::Operation, &[operation_command(a, s)], STEP, &[])
        .await
        .map_err(e)?
        .remove(0);
    let after = ex.snapshot(sb, a, base, &mut h).await.map_err(e)?;
    let engine_after = engine_considered(sb, base).await?;
    let packages_after = independent_packages(sb, kind).await?;
    // pip's view reads the metadata itself in the common case: with
    // `--both` it says whether that equals importlib.metadata's own listing
    // (in the state after the operation, failed installs' egg-info included).
    if kind.to_string().starts_with("pip") {
        let both = plain(sb, &format!("{} --both", a.package_view())).await?;
        if both.trim() != "same" {
            return Err(format!(
                "{kind} {}: pip's view differs from importlib.metadata's: {both}",
                case.name()
            ));
        }
    }
    let residue = snapshot::residue(&before, &after);
    if op.exit_code != 0 && case.succeeds() {
        return Err(format!(
            "{kind} {}: the operation failed ({}): {}{}",
            case.name(),
            op.exit_code,
            op.stdout_tail,
            op.stderr_tail
        ));
    }
    Ok(Measured {
        kind,
        case,
        op_exit: op.exit_code,
        before,
        after,
        residue,
        engine_before,
        engine_after,
        packages_before,
        packages_after,
        view_ms: h.timings.snapshot_view_ms,
        secs: started.elapsed().as_secs_f64(),
    })
}

/// One case in a fresh sandbox, removed whatever happens (a panic included).
async fn measure(
    ex: &DockerExecutor,
    scenarios: &HashMap<Case, Scenario>,
    kind: ApproachKind,
    case: Case,
) -> Result<Measured, String> {
    let a = approach(kind);
    let s = &scenarios[&case];
    let base = ex
        .base_manifest(a.family())
        .await
        .map_err(|e| e.to_string())?;
    let mut sb = ex
        .sandbox(a.as_ref(), s, &format!("oracle-{kind}-{}", case.name()))
        .await
        .map_err(|e| e.to_string())?;
    let result = AssertUnwindSafe(drive(ex, &sb, a.as_ref(), s, &base, case))
        .catch_unwind()
        .await;
    let removed = sb.remove().await;
    match result {
        Ok(r) => {
            removed.map_err(|e| e.to_string())?;
            r
        }
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// The size of the view's package lines (`P<TAB>name<TAB>state<LF>`).
fn view_bytes(s: &Snapshot) -> usize {
    s.packages
        .iter()
        .map(|(n, st)| n.len() + st.len() + 4)
        .sum()
}

/// A change the engine's diff cannot see: the same file, mode, owner and
/// size, other content. Docker's diff here compares metadata (size, mode,
/// mtime), not content, so a rewrite that keeps size and mtime is not
/// listed. Seen: shadow's `useradd` (the `*-user` approaches' set-up)
/// rewrites /etc/group- with the old /etc/group, same size, mtime kept;
/// md5sum changed, `docker diff` silent. The engine cannot refute it.
fn engine_blind(now: Option<&Entry>, was: Option<&Entry>) -> bool {
    match (now, was) {
        (Some(a), Some(b)) => {
            a.kind == b.kind
                && a.mode == b.mode
                && a.owner == b.owner
                && a.size == b.size
                && a.hash != b.hash
        }
        _ => false,
    }
}

/// Everything the oracle disagrees with, as readable lines.
fn disagreements(m: &Measured) -> Vec<String> {
    let mut bad = Vec::new();
    let label = format!("{} {}", m.kind, m.case.name());
    // Files: each snapshot considered every path the engine lists. It may
    // consider more (overlay2's upper directory also holds files merely
    // copied up, e.g. a lock file opened for writing, which the engine's
    // diff leaves out as unchanged), but each of those must measure exactly
    // as in the image: nothing the engine calls unchanged is residue.
    for (which, snap, engine) in [
        ("before", &m.before, &m.engine_before),
        ("after", &m.after, &m.engine_after),
    ] {
        let harness: BTreeSet<String> = snap.overlay.keys().cloned().collect();
        let missing: Vec<&String> = engine.difference(&harness).collect();
        if !missing.is_empty() {
            bad.push(format!("{label}: snapshot {which}: the engine lists, the harness did not consider: {missing:?}"));
        }
        let differing: Vec<&String> = harness
            .difference(engine)
            .filter(|p| snap.get(p) != snap.base.get(p.as_str()))
            .filter(|p| !engine_blind(snap.get(p), snap.base.get(p.as_str())))
            .collect();
        if !differing.is_empty() {
            bad.push(format!("{label}: snapshot {which}: measured as changed, but the engine does not list them: {differing:?}"));
        }
    }
    // Every residue path is one the engine lists as changed.
    let listed: BTreeSet<&String> = m.engine_before.union(&m.engine_after).collect();
    let unlisted: Vec<&String> = m
        .residue
        .paths
        .iter()
        .map(|p| &p.path)
        .filter(|p| !listed.contains(p))
        .collect();
    if !unlisted.is_empty() {
        bad.push(format!(
            "{label}: residue paths the engine never listed: {unlisted:?}"
        ));
    }
    // Packages: the harness's diff is the package manager's own diff.
    let oracle = changed_names(&m.packages_before, &m.packages_after);
    if m.residue.packages != oracle {
        bad.push(format!(
            "{label}: harness package diff {:?} != package manager's own diff {oracle:?}",
            m.residue.packages
        ));
    }
    let want = expected_packages(m.kind, m.case);
    if m.residue.packages.len() != want {
        bad.push(format!(
            "{label}: residue_packages = {} (expected {want}): {:?}",
            m.residue.packages.len(),
            m.residue.packages
        ));
    }
    // apt's view outgrows the agent's 4096-byte tail here: what is checked
    // above is the read that the tail once cut.
    if m.kind.as_str() == "apt" && view_bytes(&m.after) <= 4096 {
        bad.push(format!(
            "{label}: the apt view is only {} bytes: the case no longer exceeds a 4096-byte tail",
            view_bytes(&m.after)
        ));
    }
    // The view lists what the package manager lists, name for name.
    for (which, snap, own) in [
        ("before", &m.before, &m.packages_before),
        ("after", &m.after, &m.packages_after),
    ] {
        let view: BTreeSet<&String> = snap.packages.keys().collect();
        let own: BTreeSet<&String> = own.keys().collect();
        if view != own {
            let only_view: Vec<&&String> = view.difference(&own).collect();
            let only_own: Vec<&&String> = own.difference(&view).collect();
            bad.push(format!("{label}: view {which} lists {} packages, the package manager {}: only in the view {only_view:?}, only in its list {only_own:?}", view.len(), own.len()));
        }
    }
    // A successful install's files are visible, added residue: each
    // package's payload file (apt /usr/share/N/f.dat, pip .../N/data/f.dat,
    // Nix <store>/share/N/f.dat).
    if m.case.succeeds() {
        for n in m.case.packages() {
            let found = m.residue.paths.iter().any(|p| {
                p.kind == ChangeKind::Added
                    && p.class == Class::Visible
                    && (p.path.ends_with(&format!("/{n}/f.dat"))
                        || p.path.ends_with(&format!("/{n}/data/f.dat")))
            });
            if !found {
                bad.push(format!("{label}: no visible added payload file of {n}"));
            }
        }
        if m.op_exit != 0 {
            bad.push(format!("{label}: operation exit {}", m.op_exit));
        }
    } else if m.op_exit == 0 {
        bad.push(format!("{label}: the failing install exited 0"));
    }
    bad
}

#[test]
fn harness_measurement_agrees_with_an_independent_oracle() {
    let o = common::run(&["images", "build"]);
    assert_eq!(o.status.code(), Some(0), "images build");
    let started = Instant::now();
    let fixtures = tempfile::tempdir().unwrap();
    let mut scenarios = HashMap::new();
    let mut folders = HashMap::new();
    for case in Case::ALL {
        let s = mistake_cost::scenario::parse(&case.toml())
            .unwrap_or_else(|e| panic!("{}: {e:?}\n{}", case.name(), case.toml()));
        let dir = fixtures.path().join(case.name());
        mistake_cost::payload::write_fixtures(&s, &dir).expect("fixtures");
        folders.insert(case.name().to_string(), dir);
        scenarios.insert(case, s);
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let run = RunId::new();
    let label = format!("{RUN_LABEL}={run}");
    let results = rt.block_on(async {
        let docker = mistake_cost::docker::connect()
            .await
            .expect("docker engine (run scripts/setup-host.sh)");
        let tracker = TaskTracker::new();
        let mut volumes = Vec::new();
        for (name, dir) in &folders {
            volumes.push(common::FixturesVolume::fill(&docker, &run, name, dir).await);
        }
        let mounts = volumes
            .iter()
            .zip(folders.keys())
            .map(|(v, name)| (name.clone(), v.name.clone()))
            .collect();
        let ex = DockerExecutor::new(docker, run.clone(), mounts, tracker.clone());
        // Two sandboxes at a time (this machine kind has two cores), the
        // longest first (30 sdists for pip take over a minute).
        let jobs: Vec<(ApproachKind, Case)> = [Case::Thirty, Case::FailingTop, Case::Chain7]
            .into_iter()
            .flat_map(|c| {
                installing_approaches()
                    .into_iter()
                    .rev()
                    .map(move |k| (k, c))
            })
            .collect();
        let limit = Arc::new(tokio::sync::Semaphore::new(2));
        let results = futures_util::future::join_all(jobs.into_iter().map(|(kind, case)| {
            let (ex, scenarios, limit) = (&ex, &scenarios, limit.clone());
            async move {
                let _permit = limit.acquire().await.unwrap();
                (kind, case, measure(ex, scenarios, kind, case).await)
            }
        }))
        .await;
        drop(ex);
        tracker.close();
        tracker.wait().await;
        results
    });
    assert_eq!(
        common::containers_with_label(&label),
        0,
        "containers of this run left behind"
    );

    let mut errors = Vec::new();
    let mut bad = Vec::new();
    for (kind, case, r) in &results {
        match r {
            Ok(m) => {
                eprintln!(
                    "{kind:9} {:20} exit {:3}  residue_packages {:2} {:?}  files {} (+{} -{} ~{}) garbage {}  view {} B, {:.0} ms  {:.1} s",
                    case.name(),
                    m.op_exit,
                    m.residue.packages.len(),
                    m.residue.packages,
                    m.residue.visible_files(),
                    m.residue.added,
                    m.residue.removed,
                    m.residue.modified,
                    m.residue.garbage,
                    view_bytes(&m.after),
                    m.view_ms,
                    m.secs
                );
                bad.extend(disagreements(m));
            }
            Err(e) => errors.push(format!("{kind} {}: {e}", case.name())),
        }
    }
    eprintln!(
        "oracle: {} sandboxes in {:.0?}",
        results.len(),
        started.elapsed()
    );
    assert!(errors.is_empty(), "harness errors:\n{}", errors.join("\n"));
    assert!(
        bad.is_empty(),
        "the harness disagrees with the oracle:\n{}",
        bad.join("\n")
    );
}

/// A package view far longer than the agent's 4096-byte output tail is read
/// whole by the snapshot's reader, and one longer than its cap is an error,
/// never a cut view.
#[test]
fn a_long_package_view_is_read_whole_and_an_oversized_one_is_an_error() {
    let o = common::run(&["images", "build"]);
    assert_eq!(o.status.code(), Some(0), "images build");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let run = RunId::new();
    rt.block_on(async {
        let docker = mistake_cost::docker::connect()
            .await
            .expect("docker engine");
        let tracker = TaskTracker::new();
        let spec = SandboxSpec::new(Family::Apt.image(), format!("mc-{run}-longview"));
        let mut sb = Sandbox::start(&docker, &run, &spec, &tracker)
            .await
            .expect("sandbox");
        // 2,000 packages: about 40 KB, ten times the tail.
        let view =
            "i=1; while [ $i -le 2000 ]; do printf 'P\\tpkg%04d\\t1.0 ii \\n' $i; i=$((i+1)); done";
        let whole = snapshot::read_view(&sb, view, STEP, ExecLimits::MEASUREMENT).await;
        let capped = snapshot::read_view(
            &sb,
            view,
            STEP,
            ExecLimits {
                max_output_bytes: 4096,
            },
        )
        .await;
        // The real apt view of the bare image, whole.
        let dpkg = snapshot::read_view(
            &sb,
            &approach(mistake_cost::approach::kind("apt")).package_view(),
            STEP,
            ExecLimits::MEASUREMENT,
        )
        .await;
        let dpkg_count = sb
            .exec(
                &[
                    "sh".into(),
                    "-c".into(),
                    "dpkg-query -W -f '${Package}\\n' | wc -l".into(),
                ],
                None,
                STEP,
            )
            .await
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .trim()
                    .parse::<usize>()
                    .unwrap_or(0)
            });
        sb.remove().await.expect("remove");
        tracker.close();
        tracker.wait().await;

        let whole = whole.expect("the long view is read");
        assert_eq!(whole.packages.len(), 2000);
        assert!(
            whole.packages.contains_key("pkg0001"),
            "the first line survives"
        );
        assert!(whole.packages.contains_key("pkg2000"));
        let err = capped
            .expect_err("a view over the cap is an error")
            .to_string();
        assert!(
            err.contains("package view printed more than 4096 bytes"),
            "{err}"
        );
        let dpkg = dpkg.expect("dpkg view");
        assert_eq!(
            dpkg.packages.len(),
            dpkg_count.expect("dpkg-query count"),
            "every dpkg package is in the view"
        );
        assert!(
            dpkg.packages.contains_key("adduser"),
            "adduser (the first listed) is in the view"
        );
    });
    assert_eq!(
        common::containers_with_label(&format!("{RUN_LABEL}={run}")),
        0
    );
}
