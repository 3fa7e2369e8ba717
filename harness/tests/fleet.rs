//! The shipped fleet scenario, made small (3 and 4 nodes), against real
//! sshd, nginx, ansible-playbook, nix-copy-closure and deploy-rs on an
//! internal network: every approach changes every node (deploy-rs: until
//! the first that fails its check), the nodes set up to lack the new
//! release break (as many as `broken` says), the fleet is rolled back,
//! and every node serves again on the old configuration; a rollout that
//! breaks nothing is kept (and the dead-man operator confirms it).
//! Whatever a fleet creates (containers, its network) is gone after the
//! trial, after Ctrl-C, and after a killed run's next start.

mod common;

use common::*;
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// The shipped scenario with `nodes`, `broken`, the name and the
/// approaches replaced: the file format as users write it.
fn fleet_scenario(dir: &Path, name: &str, approaches: &str, nodes: u32, broken: u32) -> String {
    scenario_from("fleet-bad-config", dir, name, approaches, nodes, broken)
}

/// `scenarios/<shipped>.toml` made small the same way.
fn scenario_from(
    shipped: &str,
    dir: &Path,
    name: &str,
    approaches: &str,
    nodes: u32,
    broken: u32,
) -> String {
    let text = std::fs::read_to_string(repo().join(format!("scenarios/{shipped}.toml"))).unwrap();
    let mut out = String::new();
    let mut named = false;
    for line in text.lines() {
        let line = match line {
            // The scenario's name: the first `name =` ([service] has one too).
            l if l.starts_with("name = ") && !named => {
                named = true;
                format!("name = \"{name}\"")
            }
            l if l.starts_with("approaches = ") => format!("approaches = {approaches}"),
            l if l.starts_with("nodes = ") => format!("nodes = {nodes}"),
            l if l.starts_with("broken = ") => format!("broken = {broken}"),
            l if l.starts_with("reps = ") => "reps = 1".to_string(),
            // Only the approaches this scenario runs may be named.
            l if l.starts_with("recovery = ") => {
                let methods = [
                    ("apt", r#"apt = ["backup", "dead-man"]"#),
                    ("nix", r#"nix = ["rollback", "deploy-rs"]"#),
                ];
                let named: Vec<&str> = methods
                    .iter()
                    .filter(|(a, _)| approaches.contains(&format!("\"{a}\"")))
                    .map(|(_, m)| *m)
                    .collect();
                format!("recovery = {{ {} }}", named.join(", "))
            }
            l => l.to_string(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, out).unwrap();
    path.to_str().unwrap().to_string()
}

/// Networks carrying `label` (a `key=value` filter).
fn networks_with_label(label: &str) -> usize {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let docker = mistake_cost::docker::connect().await.expect("docker");
        let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
        let options = bollard::query_parameters::ListNetworksOptionsBuilder::default()
            .filters(&filters)
            .build();
        docker
            .list_networks(Some(options))
            .await
            .expect("list")
            .len()
    })
}

fn ensure_images() {
    let o = run(&["images", "build"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Fleet tests start many containers: one at a time.
static DOCKER_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn every_approach_rolls_out_breaks_the_drifted_nodes_and_rolls_the_fleet_back() {
    let _lock = DOCKER_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let all = fleet_scenario(dir.path(), "fleet-3", r#"["apt", "ansible", "nix"]"#, 3, 1);
    let more = fleet_scenario(dir.path(), "fleet-4", r#"["apt"]"#, 4, 2);
    let out = tempfile::tempdir().unwrap();
    let o = run(&["run", &all, &more, "--out", out.path().to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let rows = read_csv(&out.path().join("trials.csv"));
    assert_eq!(
        rows.len(),
        7,
        "apt (backup, dead-man), ansible, nix (rollback, deploy-rs) at 3 nodes; apt's two at 4"
    );
    for r in &rows {
        let who = format!("{} {} ({})", r["scenario"], r["approach"], r["recovery"]);
        let (nodes, broken) = if r["scenario"] == "fleet-3" {
            ("3", "1")
        } else {
            ("4", "2")
        };
        assert_eq!(r["error"], "", "{who}");
        assert_eq!(
            (r["nodes"].as_str(), r["broken"].as_str()),
            (nodes, broken),
            "{who}"
        );
        if r["recovery"] == "deploy-rs" {
            // One node at a time, stopping at the first that fails its
            // check: that one broke, and no other.
            let changed: u32 = r["nodes_changed"].parse().unwrap();
            assert!((1..=3).contains(&changed), "{who}: {changed}");
            assert_eq!(r["nodes_unhealthy_after_change"], "1", "{who}");
        } else {
            // Every other approach changes every node; the drifted ones break.
            assert_eq!(r["nodes_changed"], nodes, "{who}");
            assert_eq!(r["nodes_unhealthy_after_change"], broken, "{who}");
        }
        assert!(
            !r["fleet_detect_ms"].is_empty(),
            "{who}: a broken node was seen"
        );
        assert_eq!(
            r["playbook_ran"], "true",
            "{who}: the fleet was rolled back (by the policy, or by deploy-rs itself)"
        );
        assert!(
            !r["fleet_restore_ms"].is_empty(),
            "{who}: the fleet came back"
        );
        assert_eq!(r["nodes_unhealthy_after_recovery"], "0", "{who}");
        assert_eq!(r["nodes_unreachable_after_recovery"], "0", "{who}");
        assert_eq!(r["nodes_mixed"], "0", "{who}");
        assert_eq!(r["recovered"], "true", "{who}");
        assert!(r["node_downtime_ms"].parse::<f64>().unwrap() > 0.0, "{who}");
    }
    let methods: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r["approach"].clone(), r["recovery"].clone()))
        .collect();
    for m in [
        ("ansible", "previous-vars"),
        ("nix", "rollback"),
        ("nix", "deploy-rs"),
        ("apt", "backup"),
        ("apt", "dead-man"),
    ] {
        assert!(methods.contains(&(m.0.into(), m.1.into())), "{methods:?}");
    }
    // Per node, in the history: the broken ones are the ones that broke
    // (deploy-rs: the one it stopped at, of those it reached).
    for h in read_jsonl(&out.path().join("trials.jsonl")) {
        let deploy_rs = h["history"]["recovery"] == "deploy-rs";
        let nodes = h["history"]["fleet"]["per_node"]
            .as_array()
            .unwrap()
            .clone();
        for n in &nodes {
            if deploy_rs {
                if n["unhealthy_after_change"] == true {
                    assert_eq!(n["broken"], true, "{n}");
                }
                if n["after_change"] == "old" {
                    assert_eq!(n["unhealthy_after_change"], false, "never reached: {n}");
                }
            } else {
                assert_eq!(n["broken"], n["unhealthy_after_change"], "{n}");
            }
            assert_eq!(n["at_end"], "old", "{n}");
        }
    }
    let label = run_label(out.path());
    assert_eq!(containers_with_label(&label), 0, "every container removed");
    assert_eq!(
        networks_with_label(&label),
        0,
        "every fleet network removed"
    );
}

#[test]
fn a_healthy_rollout_is_kept_and_confirmed() {
    let _lock = DOCKER_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let file = fleet_scenario(dir.path(), "fleet-fine", r#"["apt", "nix"]"#, 3, 0);
    let out = tempfile::tempdir().unwrap();
    let o = run(&["run", &file, "--out", out.path().to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let rows = read_jsonl(&out.path().join("trials.jsonl"));
    assert_eq!(
        rows.len(),
        4,
        "apt (backup, dead-man), nix (rollback, deploy-rs)"
    );
    for h in rows {
        let h = &h["history"];
        let who = format!("{} ({})", h["approach"], h["recovery"]);
        let f = &h["fleet"];
        assert_eq!(f["nodes_changed"], 3, "{who}: {f}");
        assert_eq!(f["nodes_unhealthy_after_change"], 0, "{who}: {f}");
        assert_eq!(h["playbook_ran"], false, "{who}: nothing to roll back");
        assert!(f["fleet_restore_ms"].is_null(), "{who}: {f}");
        for n in f["per_node"].as_array().unwrap() {
            assert_eq!(n["at_end"], "new", "{who}: the change is kept: {n}");
            assert_eq!(n["healthy_at_end"], true, "{who}: {n}");
        }
        let commands: Vec<&str> = h["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["command"].as_str().unwrap())
            .collect();
        // The dead-man operator confirms (cancels every node's switch).
        let confirmed = commands.iter().any(|c| c.contains("confirm.sh"));
        assert_eq!(
            confirmed,
            h["recovery"] == "dead-man",
            "{who}: {commands:?}"
        );
        assert!(
            h["steps"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["exit_code"] == 0),
            "{who}: every step succeeded: {}",
            h["steps"]
        );
    }
}

/// The SSH lockout at 3 nodes, 1 locked out: without kept connections only
/// a mechanism on the node brings it back (apt's dead-man switch,
/// deploy-rs's auto rollback); with them (ControlPersist 60 s) apt's
/// rollback reaches it over the connection the rollout left open.
#[test]
fn a_locked_out_node_comes_back_only_by_a_mechanism_on_it_or_a_kept_connection() {
    let _lock = DOCKER_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let fresh = scenario_from(
        "fleet-sshd-lockout-fresh",
        dir.path(),
        "lockout-fresh",
        r#"["apt", "ansible", "nix"]"#,
        3,
        1,
    );
    let kept = scenario_from(
        "fleet-sshd-lockout",
        dir.path(),
        "lockout-kept",
        r#"["apt"]"#,
        3,
        1,
    );
    let out = tempfile::tempdir().unwrap();
    let o = run(&["run", &fresh, &kept, "--out", out.path().to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let rows = read_jsonl(&out.path().join("trials.jsonl"));
    assert_eq!(
        rows.len(),
        7,
        "5 methods without kept connections, apt's 2 with"
    );
    for h in rows {
        let h = &h["history"];
        let method = h["recovery"].as_str().unwrap();
        let who = format!("{} {} ({method})", h["scenario"], h["approach"]);
        assert!(h["error"].is_null(), "{who}: {}", h["error"]);
        let f = &h["fleet"];
        let locked = f["per_node"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["broken"] == true)
            .unwrap()
            .clone();
        // sshd's reload re-executes it: a login in that instant is refused,
        // so a good node may show one failed sample too (seen here).
        assert_eq!(locked["unhealthy_after_change"], true, "{who}: {locked}");
        let with_kept = h["scenario"] == "lockout-kept";
        let (unreachable, by) = match (with_kept, method) {
            (true, _) => (0, None),
            (false, "dead-man") => (0, Some("dead-man switch")),
            (false, "deploy-rs") => (0, Some("deploy-rs auto rollback")),
            (false, _) => (1, None),
        };
        assert_eq!(
            f["nodes_unreachable_after_recovery"], unreachable,
            "{who}: {f}"
        );
        assert_eq!(
            f["nodes_unhealthy_after_recovery"], unreachable,
            "{who}: {f}"
        );
        assert_eq!(locked["restored_by"].as_str(), by, "{who}: {locked}");
        assert_eq!(
            locked["reachable_at_end"],
            unreachable == 0,
            "{who}: {locked}"
        );
        if with_kept {
            assert_eq!(
                locked["kept_connection_at_rollback"], true,
                "{who}: the rollout's connection was still open: {locked}"
            );
        } else {
            assert_eq!(
                locked["kept_connection_at_rollback"], false,
                "{who}: {locked}"
            );
        }
        if by == Some("dead-man switch") {
            // The switch fires 30 s after it was armed, not at once.
            let restore = f["fleet_restore_ms"].as_f64().unwrap();
            assert!(restore > 20_000.0, "{who}: {restore}");
        }
    }
}

/// Waits until the run's deployer container exists (a fleet mid-trial).
fn wait_for_deployer(label_of: impl Fn() -> Option<String>) -> String {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(label) = label_of() {
            if container_names(&label)
                .iter()
                .any(|n| n.ends_with("-deployer"))
            {
                return label;
            }
        }
        assert!(Instant::now() < deadline, "no fleet started");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn label_of(out: &Path) -> Option<String> {
    out.join("run.json").exists().then(|| run_label(out))
}

#[test]
fn ctrl_c_mid_fleet_removes_its_containers_and_network() {
    let _lock = DOCKER_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    ensure_images();
    let dir = tempfile::tempdir().unwrap();
    let file = fleet_scenario(dir.path(), "fleet-int", r#"["apt"]"#, 3, 1);
    let out = tempfile::tempdir().unwrap();
    let child = bin()
        .args(["run", &file, "--out", out.path().to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let label = wait_for_deployer(|| label_of(out.path()));
    // apt's two methods: one or two fleets at a time (`--jobs 2`).
    assert!(
        networks_with_label(&label) >= 1,
        "the fleet's network exists"
    );
    let ok = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(containers_with_label(&label), 0, "every container removed");
    assert_eq!(networks_with_label(&label), 0, "the network removed");
}

#[test]
fn a_killed_fleet_is_swept_by_the_next_start() {
    let _lock = DOCKER_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    ensure_images();
    let dir = tempfile::tempdir().unwrap();
    let file = fleet_scenario(dir.path(), "fleet-kill", r#"["apt"]"#, 3, 1);
    let out = tempfile::tempdir().unwrap();
    let mut child = bin()
        .args(["run", &file, "--out", out.path().to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let label = wait_for_deployer(|| label_of(out.path()));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        containers_with_label(&label) > 0,
        "the killed run left its fleet"
    );
    assert!(networks_with_label(&label) >= 1, "and its network");

    // Any later start sweeps: `validate` does not, `run` of a tiny scenario does.
    let tiny = dir.path().join("tiny.toml");
    std::fs::write(
        &tiny,
        "[scenario]\nname = \"tiny\"\napproaches = [\"apt\"]\nreps = 1\n\n[[package]]\nname = \"a\"\nversion = \"1.0\"\n\n[operation]\nkind = \"install\"\npackages = [\"a\"]\n",
    )
    .unwrap();
    let second = tempfile::tempdir().unwrap();
    let o = run(&[
        "run",
        tiny.to_str().unwrap(),
        "--out",
        second.path().to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(containers_with_label(&label), 0, "containers swept");
    assert_eq!(networks_with_label(&label), 0, "network swept");
}
