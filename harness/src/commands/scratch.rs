//! The host-side scratch folders a run writes (fixtures under
//! `$TMPDIR/mistake-cost-<run>`, the base image's build folder under
//! `$TMPDIR/mistake-cost-base-<pid>`), and sweeping those of dead runs: a
//! SIGKILLed harness never reaches its own clean-up.

use std::path::{Path, PathBuf};

use crate::docker::hostname;
use crate::docker::RunId;
use crate::error::{Error, Result};

/// Who made a scratch folder: written first, so a later run can tell a
/// live run's folder from a dead one's.
const OWNER_FILE: &str = ".owner";

/// Creates the run's scratch folder, owned by this process; `out` is the
/// run's results folder, whose run.json a later sweep marks `killed`.
pub fn create(run: &RunId, out: &Path) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("mistake-cost-{run}"));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let out = std::fs::canonicalize(out).unwrap_or_else(|_| out.to_path_buf());
    let owner = format!(
        "pid={}\nhost={}\nrun={run}\nout={}\n",
        std::process::id(),
        hostname(),
        out.display()
    );
    std::fs::write(dir.join(OWNER_FILE), owner)
        .map_err(|e| Error::io(format!("writing {}", dir.display()), e))?;
    Ok(dir)
}

/// What `sweep_dead` removed.
#[derive(Debug, Default)]
pub struct Swept {
    pub folders: Vec<PathBuf>,
    /// Results folders whose run.json said `running` and now says `killed`.
    pub marked_killed: Vec<PathBuf>,
}

/// Removes the scratch folders of dead runs on this host and marks their
/// results as `killed`. Folders of live processes, of other hosts (a shared
/// $TMPDIR) and without an owner record are left alone.
pub fn sweep_dead() -> Swept {
    sweep_dead_in(&std::env::temp_dir(), &|pid| {
        Path::new(&format!("/proc/{pid}")).exists()
    })
}

fn sweep_dead_in(tmp: &Path, alive: &dyn Fn(u32) -> bool) -> Swept {
    let mut swept = Swept::default();
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return swept;
    };
    let me = hostname();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("mistake-cost-") else {
            continue;
        };
        let path = entry.path();
        // Never follow a link someone planted under the shared temp folder.
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if let Some(pid) = rest.strip_prefix("base-") {
            if pid.parse::<u32>().is_ok_and(|p| !alive(p)) && std::fs::remove_dir_all(&path).is_ok()
            {
                swept.folders.push(path);
            }
            continue;
        }
        let Ok(owner) = std::fs::read_to_string(path.join(OWNER_FILE)) else {
            continue;
        };
        let field = |k: &str| {
            owner
                .lines()
                .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
                .map(str::to_string)
        };
        let dead = field("host").is_some_and(|h| h == me)
            && field("pid")
                .and_then(|p| p.parse::<u32>().ok())
                .is_some_and(|p| !alive(p));
        if !dead {
            continue;
        }
        if let (Some(run), Some(out)) = (field("run"), field("out")) {
            if mark_killed(Path::new(&out), &run) {
                swept.marked_killed.push(PathBuf::from(out));
            }
        }
        if std::fs::remove_dir_all(&path).is_ok() {
            swept.folders.push(path);
        }
    }
    swept
}

/// Sets run.json's status to `killed` if it is still `running` for `run`.
/// Edited as plain JSON so that every other field stays as the run wrote it.
fn mark_killed(out: &Path, run: &str) -> bool {
    let path = out.join("run.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return false;
    };
    let Ok(mut meta) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    let ours = meta.get("run_id").and_then(|v| v.as_str()) == Some(run);
    let running = meta.get("status").and_then(|v| v.as_str()) == Some("running");
    if !(ours && running) {
        return false;
    }
    meta["status"] = "killed".into();
    let text = serde_json::to_string_pretty(&meta).expect("a JSON value serializes") + "\n";
    crate::export::write_atomic(&path, &text).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_runs_scratch_goes_and_its_run_json_says_killed() {
        let tmp = std::env::temp_dir().join(format!("mc-scratch-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let out = tmp.join("results");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(
            out.join("run.json"),
            r#"{"run_id": "r1", "status": "running", "seed": 7}"#,
        )
        .unwrap();
        let me = hostname();
        let mk = |name: &str, owner: Option<String>| {
            let d = tmp.join(name);
            std::fs::create_dir_all(d.join("fixtures")).unwrap();
            if let Some(o) = owner {
                std::fs::write(d.join(OWNER_FILE), o).unwrap();
            }
            d
        };
        let dead = mk(
            "mistake-cost-r1",
            Some(format!(
                "pid=11\nhost={me}\nrun=r1\nout={}\n",
                out.display()
            )),
        );
        let live = mk(
            "mistake-cost-r2",
            Some(format!(
                "pid=22\nhost={me}\nrun=r2\nout={}\n",
                out.display()
            )),
        );
        let other_host = mk(
            "mistake-cost-r3",
            Some("pid=11\nhost=elsewhere\nrun=r3\nout=/x\n".to_string()),
        );
        let no_owner = mk("mistake-cost-r4", None);
        let dead_base = mk("mistake-cost-base-11", None);
        let live_base = mk("mistake-cost-base-22", None);
        let unrelated = mk("something-else", None);

        let swept = sweep_dead_in(&tmp, &|pid| pid == 22);
        assert!(!dead.exists() && !dead_base.exists());
        assert!(live.exists() && other_host.exists() && no_owner.exists());
        assert!(live_base.exists() && unrelated.exists());
        assert_eq!(swept.folders.len(), 2);
        assert_eq!(swept.marked_killed, vec![out.clone()]);
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
        assert_eq!(meta["status"], "killed");
        assert_eq!(meta["seed"], 7, "other fields are kept");
        // A second sweep finds nothing more to do.
        let again = sweep_dead_in(&tmp, &|pid| pid == 22);
        assert!(again.folders.is_empty() && again.marked_killed.is_empty());
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
