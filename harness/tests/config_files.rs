//! Every approach applies the same configuration bytes its own way: for
//! a built-in nginx mistake and for scenarios written in the file format
//! (a declared file, an undeclared package file edited, a file created
//! and one deleted), apt (backup, etckeeper), Ansible and Nix run their
//! own set-up, wanted edit, change and recovery commands in their images
//! (nginx running, so each apply reloads it),
//! and after each the managed files equal the configuration `render.pl`
//! rendered in the container — whose declared files equal what
//! `service::config` computes in Rust (the two implementations of the
//! edit rules agree).

mod common;

use mistake_cost::approach::{self, kind};
use mistake_cost::docker::{RunId, Sandbox, SecurityProfile};
use mistake_cost::scenario::Scenario;
use mistake_cost::service::{self, config, STAGES};
use std::time::Duration;

const NGINX_EDITS: &str = r##"
[scenario]
name = "files-nginx"
approaches = ["apt", "ansible", "nix"]
[service]
name = "nginx"
port = 8080
[[service.file]]
path = "/etc/nginx/conf.d/site.conf"
text = "server {\n    listen 8080;\n    root /srv/site;\n}\n"
[[service.file]]
path = "/etc/nginx/conf.d/old.conf"
text = "# to be deleted\n"
[[service.wanted_edit]]
path = "/etc/nginx/conf.d/site.conf"
replace = { find = "root /srv/site;", with = "root /srv/site; # it's wanted" }
[operation]
kind = "configure"
[[operation.edit]]
path = "/etc/nginx/conf.d/site.conf"
replace = { find = "8080", with = "8081" }
[[operation.edit]]
path = "/etc/nginx/conf.d/old.conf"
delete = true
[[operation.edit]]
path = "/etc/nginx/snippets/new.conf"
text = "add_header X-New 1;\n"
[[operation.edit]]
path = "/etc/nginx/nginx.conf"
replace = { find = "worker_connections", with = "worker_connections  " }
"##;

const BUILTIN: &str = r#"
[scenario]
name = "files-builtin"
approaches = ["apt", "ansible", "nix"]
[service]
port = 8080
[operation]
kind = "configure"
change = "missing-include"
"#;

/// Prints `DIFF p` / `PRESENT p` for each path that is not as `stage` has it.
fn differs_from(paths: &[String], stage: &str) -> String {
    paths
        .iter()
        .map(|p| {
            let (want, at) = (
                service::quote(&format!("{STAGES}/{stage}{p}")),
                service::quote(p),
            );
            format!(
                "if [ -e {want} ]; then cmp -s {want} {at} || echo DIFF {at}; elif [ -e {at} ]; then echo PRESENT {at}; fi"
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn every_approach_writes_the_rendered_bytes() {
    let o = common::run(&["images", "build"]);
    assert_eq!(o.status.code(), Some(0));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let docker = rt.block_on(mistake_cost::docker::connect()).unwrap();
    let run = RunId::new();
    let tracker = tokio_util::task::TaskTracker::new();
    let t = Duration::from_secs(180);
    let sh = |c: &str| vec!["sh".to_string(), "-c".to_string(), c.to_string()];
    for text in [NGINX_EDITS, BUILTIN] {
        let scenario: Scenario = mistake_cost::scenario::parse(text).unwrap();
        let name = scenario.scenario.name.clone();
        let plan = config::plan(&scenario).unwrap();
        let paths = plan.paths();
        let [good, wanted, bad] = config::declared_stages(&plan).unwrap();
        let fixtures = tempfile::tempdir().unwrap();
        service::write_fixtures(&scenario, fixtures.path()).unwrap();
        let volume = rt.block_on(common::FixturesVolume::fill(
            &docker,
            &run,
            &name,
            fixtures.path(),
        ));
        for (approach_name, recovery) in [
            ("apt", "backup"),
            ("apt", "etckeeper"),
            ("ansible", "previous-vars"),
            ("nix", "rollback"),
        ] {
            let a = approach::approach(kind(approach_name));
            let commands = a.config_commands(recovery, &plan).unwrap();
            let who = format!("{name} {approach_name} ({recovery})");
            let mut spec = approach::sandbox_spec(
                a.as_ref(),
                SecurityProfile::Default,
                format!("mc-{run}-{name}-{approach_name}-{recovery}"),
            );
            spec.fixtures = Some(volume.name.clone());
            rt.block_on(async {
                let mut sandbox = Sandbox::start(&docker, &run, &spec, &tracker)
                    .await
                    .unwrap();
                let exec = |cmd: String| {
                    let sandbox = &sandbox;
                    let sh = &sh;
                    let who = who.clone();
                    async move {
                        let o = sandbox.exec(&sh(&cmd), None, t).await.unwrap();
                        let out = String::from_utf8_lossy(&o.stdout).into_owned();
                        eprintln!(
                            "[{who}] exit {}: {cmd}\n{out}{}",
                            o.exit_code,
                            String::from_utf8_lossy(&o.stderr)
                        );
                        (o.exit_code, out)
                    }
                };
                if let Some(ready) = a.ready() {
                    assert_eq!(exec(ready).await.0, 0, "[{who}] ready");
                }
                for step in service::prepare(&scenario)
                    .into_iter()
                    .chain(commands.install.clone())
                {
                    assert_eq!(exec(step.clone()).await.0, 0, "[{who}] set-up: {step}");
                }
                // render.pl's declared files are config.rs's, stage by stage.
                for (stage, files) in [("good", &good), ("wanted", &wanted), ("bad", &bad)] {
                    for (path, content) in files {
                        let (code, out) = exec(format!(
                            "cat {}",
                            service::quote(&format!("{STAGES}/{stage}{path}"))
                        ))
                        .await;
                        match content {
                            Some(c) => assert_eq!((code, &out), (0, c), "[{who}] {stage} {path}"),
                            None => assert_ne!(code, 0, "[{who}] {stage} {path} is absent"),
                        }
                    }
                }
                let check = |stage: &'static str, when: &'static str| {
                    let paths = &paths;
                    let exec = &exec;
                    let who = who.clone();
                    async move {
                        let (_, out) = exec(differs_from(paths, stage)).await;
                        assert_eq!(
                            out, "",
                            "[{who}] {when}: the files are the {stage} configuration"
                        );
                    }
                };
                check("good", "after the set-up").await;
                let start = service::kinds::definition(plan.service).start;
                assert_eq!(exec(start.to_string()).await.0, 0, "[{who}] {start}");
                for step in &commands.wanted {
                    assert_eq!(exec(step.clone()).await.0, 0, "[{who}] wanted: {step}");
                }
                check(
                    if plan.wanted.is_empty() {
                        "good"
                    } else {
                        "wanted"
                    },
                    "after the wanted edit",
                )
                .await;
                // The built-in mistake is one nginx -t refuses: the apply
                // (or Ansible's handler) fails after the files were written.
                exec(commands.change.clone()).await;
                check("bad", "after the change").await;
                for step in &commands.recover {
                    assert_eq!(exec(step.clone()).await.0, 0, "[{who}] recovery: {step}");
                }
                let back = if recovery == "backup" {
                    "good"
                } else {
                    "wanted"
                };
                check(back, "after the recovery").await;
                // The harness's wanted-edit check says the same.
                if let Some(wanted) = service::wanted_check(&plan) {
                    let (code, _) = exec(wanted).await;
                    assert_eq!(code == 0, back == "wanted", "[{who}] wanted edit kept");
                }
                sandbox.remove().await.unwrap();
            });
        }
    }
    tracker.close();
    rt.block_on(tracker.wait());
}
