//! The harness's git commit, for `--version` and run.json
//! (`MISTAKE_COST_COMMIT`): `git rev-parse HEAD`, with `-dirty` when the
//! harness's tracked files differ from it; `unknown` without git or a
//! checkout (a source tarball). Reruns when HEAD moves or the sources change.

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Watches `path` if it exists: a missing path would rerun the script on
/// every build (and rebuild the crate with it).
fn watch(path: &Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

fn main() {
    for p in ["build.rs", "Cargo.toml", "src"] {
        watch(Path::new(p));
    }
    let commit = git(&["rev-parse", "HEAD"]).filter(|c| !c.is_empty());
    let version = match &commit {
        None => "unknown".to_string(),
        Some(c) => {
            // This crate's folder only: the code that was compiled.
            let dirty = git(&["status", "--porcelain", "--untracked-files=no", "--", "."])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{c}-dirty")
            } else {
                c.clone()
            }
        }
    };
    println!("cargo:rustc-env=MISTAKE_COST_COMMIT={version}");
    if commit.is_none() {
        return;
    }
    // Where HEAD lives: a worktree's `.git` is a file naming its own git
    // folder, whose refs live in the common folder.
    let abs = |p: String| {
        let p = PathBuf::from(p);
        if p.is_absolute() {
            p
        } else {
            std::env::current_dir().map(|d| d.join(&p)).unwrap_or(p)
        }
    };
    if let Some(dir) = git(&["rev-parse", "--git-dir"]).map(abs) {
        watch(&dir.join("HEAD"));
        // Appended to on every commit, checkout and reset.
        watch(&dir.join("logs/HEAD"));
        watch(&dir.join("index"));
    }
    if let Some(common) = git(&["rev-parse", "--git-common-dir"]).map(abs) {
        if let Some(head_ref) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watch(&common.join(head_ref));
        }
        watch(&common.join("packed-refs"));
    }
}
