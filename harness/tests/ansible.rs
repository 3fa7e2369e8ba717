//! The `ansible` approach's template, rendered by the real ansible-playbook
//! (Debian's ansible-core, in the ansible image) for the good configuration
//! and every change, gives exactly the bytes `service::render` gives the
//! other approaches: the comparison between approaches is only fair on
//! identical files. It runs the approach's own commands, in the order a
//! trial does: the set-up install, nginx started, the change, the recovery.

mod common;

use mistake_cost::approach;
use mistake_cost::docker::{RunId, Sandbox, SecurityProfile};
use mistake_cost::scenario::ConfigChange;
use mistake_cost::service;
use std::time::{Duration, Instant};

const CHANGES: [ConfigChange; 4] = [
    ConfigChange::SyntaxError,
    ConfigChange::WrongRoot,
    ConfigChange::WrongPort,
    ConfigChange::MissingInclude,
];

#[test]
fn ansible_playbook_renders_the_same_bytes_for_every_change() {
    let o = common::run(&["images", "build"]);
    assert_eq!(o.status.code(), Some(0));
    let a = approach::approach(approach::kind("ansible"));
    let config = a
        .config_commands("previous-vars")
        .expect("ansible manages configuration");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let docker = rt.block_on(mistake_cost::docker::connect()).unwrap();
    let run = RunId::new();
    let tracker = tokio_util::task::TaskTracker::new();
    let t = Duration::from_secs(120);
    let sh = |c: &str| vec!["sh".to_string(), "-c".to_string(), c.to_string()];
    for change in CHANGES {
        let name = change.as_str();
        let scenario = mistake_cost::scenario::parse(&format!(
            "[scenario]\nname = \"ansible-{name}\"\napproaches = [\"ansible\"]\n\
             [service]\nport = 8080\nmarker = \"mistake-cost site v1\"\napply = \"reload\"\n\
             [operation]\nkind = \"configure\"\nchange = \"{name}\"\n"
        ))
        .unwrap();
        let spec = scenario.service.clone().unwrap();
        let fixtures = tempfile::tempdir().unwrap();
        service::write_fixtures(&scenario, fixtures.path()).unwrap();
        let mut sandbox_spec = approach::sandbox_spec(
            a.as_ref(),
            SecurityProfile::Default,
            format!("mc-{run}-ansible-{name}"),
        );
        let volume = rt.block_on(common::FixturesVolume::fill(
            &docker,
            &run,
            &format!("ansible-{name}"),
            fixtures.path(),
        ));
        sandbox_spec.fixtures = Some(volume.name.clone());
        rt.block_on(async {
            let mut sandbox = Sandbox::start(&docker, &run, &sandbox_spec, &tracker)
                .await
                .unwrap();
            let exec = |cmd: String| {
                let sandbox = &sandbox;
                let sh = &sh;
                async move {
                    let started = Instant::now();
                    let o = sandbox.exec(&sh(&cmd), None, t).await.unwrap();
                    let ms = started.elapsed().as_millis();
                    eprintln!(
                        "[{name}] exit {} in {ms} ms: {cmd}\n{}{}",
                        o.exit_code,
                        String::from_utf8_lossy(&o.stdout),
                        String::from_utf8_lossy(&o.stderr)
                    );
                    o
                }
            };
            let site = || async {
                let o = exec(format!("cat {}", service::SITE_CONF)).await;
                assert_eq!(o.exit_code, 0);
                String::from_utf8(o.stdout).unwrap()
            };
            for step in service::prepare().into_iter().chain(config.install.clone()) {
                assert_eq!(
                    exec(step.clone()).await.exit_code,
                    0,
                    "[{name}] set-up: {step}"
                );
            }
            assert_eq!(
                site().await,
                service::render(&spec, None, false),
                "[{name}] good"
            );
            assert_eq!(exec("nginx -t -q && nginx".into()).await.exit_code, 0);
            for step in &config.wanted {
                assert_eq!(
                    exec(step.clone()).await.exit_code,
                    0,
                    "[{name}] wanted edit"
                );
            }
            assert_eq!(
                site().await,
                service::render(&spec, None, true),
                "[{name}] wanted edit"
            );

            let changed = exec(config.change.clone()).await;
            assert_eq!(
                site().await,
                service::render(&spec, Some(change), true),
                "[{name}] the bad configuration"
            );
            // nginx -t refuses these two; the handler's failure fails the play.
            let refused = matches!(
                change,
                ConfigChange::SyntaxError | ConfigChange::MissingInclude
            );
            assert_eq!(
                changed.exit_code != 0,
                refused,
                "[{name}] change's exit code"
            );

            for step in &config.recover {
                assert_eq!(
                    exec(step.clone()).await.exit_code,
                    0,
                    "[{name}] recovery: {step}"
                );
            }
            assert_eq!(
                site().await,
                service::render(&spec, None, true),
                "[{name}] recovered: the previous variables, the wanted edit kept"
            );
            sandbox.remove().await.unwrap();
        });
    }
    tracker.close();
    rt.block_on(tracker.wait());
}
