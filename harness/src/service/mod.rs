//! The real services of the bad-configuration scenarios (nginx, sshd,
//! PostgreSQL; `kinds.rs`) and their configurations as files
//! (`config.rs`): the fixtures every approach reads (the plan `render.pl`
//! turns into three configurations inside the container, the apply
//! script, the probes), the set-up every approach shares around the
//! service, and the health probe's timeline (`timeline.rs`).

pub mod config;
pub mod kinds;
pub mod timeline;

use std::io;
use std::path::Path;

use crate::scenario::{Scenario, ServiceName, ServiceSpec};
use crate::snapshot::AGENT;

pub use config::{ConfigPlan, SITE_CONF, SITE_ROOT, WANTED_HEADER};

/// The service fixtures, as containers see them.
pub const FIXTURES: &str = "/fixtures/service";
/// The apply script every approach runs to make the service take a change.
pub const APPLY: &str = "sh /fixtures/service/apply.sh";
/// Where the set-up renders the three configurations (`render.pl`):
/// `STAGES/{good,wanted,bad}/<path>` and `STAGES/<stage>.absent`.
pub const STAGES: &str = "/var/lib/mistake-cost/config";
/// The check every service scenario adds after the change and after the
/// recovery: the probe's state once `settle_ms` has passed.
pub const HEALTH_CHECK: &str = "service healthy (probe)";
/// The harness's inspection after the recovery: the files the wanted
/// edit changed hold its result.
pub const WANTED_CHECK: &str = "wanted edit kept";
/// The harness's inspection after the recovery: the known rows are there.
pub const DATA_CHECK: &str = "known rows intact";

/// A shell word.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `stage`'s files in place, each written into the existing file (its
/// owner and mode kept, as an editor saves), the stage's absent ones
/// removed: how an operator edits /etc by hand.
pub fn put_stage(paths: &[String], stage: &str) -> String {
    paths
        .iter()
        .map(|p| {
            let (from, to) = (quote(&format!("{STAGES}/{stage}{p}")), quote(p));
            format!("if [ -e {from} ]; then mkdir -p \"$(dirname {to})\" && cp {from} {to}; else rm -f {to}; fi")
        })
        .collect::<Vec<_>>()
        .join(" && ")
}

/// Writes `service/` under the fixtures folder: the plan `render.pl`
/// reads and the script itself, the apply script, the probes, the shared
/// content files (nginx's page), each approach's own files (Ansible's
/// playbook, Nix's generations). Nothing for scenarios without a service.
pub fn write_fixtures(s: &Scenario, dir: &Path) -> io::Result<()> {
    let Some(spec) = &s.service else {
        return Ok(());
    };
    let dir = dir.join("service");
    std::fs::create_dir_all(&dir)?;
    let def = kinds::definition(spec.service());
    std::fs::write(dir.join("apply.sh"), def.apply_script(spec.apply))?;
    std::fs::write(dir.join("probes"), probe_spec(spec))?;
    if spec.service() == ServiceName::Nginx {
        std::fs::write(
            dir.join("index.html"),
            format!("<html><body>{}</body></html>\n", spec.marker()),
        )?;
    }
    let Some(plan) = config::plan(s) else {
        return Ok(());
    };
    std::fs::write(dir.join("config.json"), plan.json())?;
    std::fs::write(dir.join("render.pl"), RENDER)?;
    for (i, (_, text)) in plan.content.iter().enumerate() {
        std::fs::write(dir.join(format!("content-{i}")), text)?;
    }
    for stage in ["good", "wanted", "bad"] {
        std::fs::write(dir.join(format!("{stage}.nix")), system_nix(stage))?;
    }
    std::fs::write(
        dir.join("config.yml"),
        ansible_playbook(&plan.paths(), "localhost"),
    )?;
    std::fs::write(
        dir.join("fleet.yml"),
        ansible_playbook(&plan.paths(), "fleet"),
    )?;
    Ok(())
}

const RENDER: &str = include_str!("render.pl");

/// The probe spec `agent.pl probe` reads: the scenario's probes, or
/// without any, nginx's `GET /` answering 200 with the marker and another
/// service's TCP connect to its port.
fn probe_spec(spec: &ServiceSpec) -> String {
    let hex = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    let port = spec.port();
    if spec.probe.is_empty() {
        return match spec.service() {
            ServiceName::Nginx => format!("http\t{port}\t/\t200\t{}\n", hex(spec.marker())),
            _ => format!("tcp\t{port}\n"),
        };
    }
    let mut out = String::new();
    for p in spec.probe.iter().map(|p| p.get_ref()) {
        let text = |v: &Option<serde_spanned::Spanned<String>>| {
            v.as_ref().map_or(String::new(), |t| hex(t.get_ref()))
        };
        if let Some(path) = &p.http {
            let status = p.expect_status.as_ref().map_or(200, |s| *s.get_ref());
            out.push_str(&format!(
                "http\t{port}\t{}\t{status}\t{}\n",
                path.get_ref(),
                text(&p.expect_body)
            ));
        } else if p.tcp.is_some() {
            out.push_str(&format!("tcp\t{port}\n"));
        } else if let Some(c) = &p.command {
            out.push_str(&format!(
                "command\t{}\t{}\n",
                hex(c.get_ref()),
                text(&p.expect_stdout)
            ));
        }
    }
    out
}

/// A system generation holding `stage`'s files, built the way
/// `nixos-rebuild` builds one (simulated: only these files, under their
/// own paths: `etc/nginx/...`).
fn system_nix(stage: &str) -> String {
    format!(
        "# Generated by mistake-cost: a system generation holding the {stage}\n\
         # configuration's files under their own paths.\n\
         derivation {{\n\
         \x20 name = \"mistake-cost-system\";\n\
         \x20 system = builtins.currentSystem;\n\
         \x20 builder = \"/bin/sh\";\n\
         \x20 args = [ \"-c\" \"cp -r $files $out\" ];\n\
         \x20 PATH = \"/usr/bin:/bin\";\n\
         \x20 files = {STAGES}/{stage};\n\
         \x20 preferLocalBuild = true;\n\
         \x20 allowSubstitutes = false;\n\
         }}\n"
    )
}

/// The Ansible way: one playbook for every configuration, the stage
/// chosen with `-e stage=…` (an operator's variables): each managed file
/// copied from the stage (`copy` keeps an existing file's owner and mode),
/// the stage's absent files removed, and the apply script as a handler, so
/// the service is told only when something changed. `-e apply=false`
/// skips the handler (the set-up, before the service runs).
/// `hosts` is `localhost` for one machine (`-c local`), the inventory's
/// group `fleet` for a rollout.
fn ansible_playbook(paths: &[String], hosts: &str) -> String {
    let yaml = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let mut list = String::new();
    for p in paths {
        list.push_str(&format!("      - {}\n", yaml(p)));
    }
    format!(
        "# Generated by mistake-cost: the service's configuration, the Ansible way.\n\
         # ansible-playbook -c local -i localhost, config.yml -e stage=good (or wanted, bad)\n\
         - hosts: {hosts}\n\
         \x20 gather_facts: false\n\
         \x20 vars:\n\
         \x20   files:\n{list}\
         \x20   absent: \"{{{{ lookup('ansible.builtin.file', '{STAGES}/' ~ stage ~ '.absent').splitlines() }}}}\"\n\
         \x20 tasks:\n\
         \x20   - name: folders\n\
         \x20     ansible.builtin.file:\n\
         \x20       path: \"{{{{ item | dirname }}}}\"\n\
         \x20       state: directory\n\
         \x20     loop: \"{{{{ files | difference(absent) }}}}\"\n\
         \x20   - name: configuration files\n\
         \x20     ansible.builtin.copy:\n\
         \x20       src: \"{STAGES}/{{{{ stage }}}}{{{{ item }}}}\"\n\
         \x20       dest: \"{{{{ item }}}}\"\n\
         \x20     loop: \"{{{{ files | difference(absent) }}}}\"\n\
         \x20     notify: apply the configuration\n\
         \x20   - name: files this configuration does not have\n\
         \x20     ansible.builtin.file:\n\
         \x20       path: \"{{{{ item }}}}\"\n\
         \x20       state: absent\n\
         \x20     loop: \"{{{{ absent }}}}\"\n\
         \x20     notify: apply the configuration\n\
         \x20 handlers:\n\
         \x20   - name: apply the configuration\n\
         \x20     ansible.builtin.command: {APPLY}\n\
         \x20     when: apply | default(true) | bool\n"
    )
}

/// The set-up every approach shares before its own install of the
/// configuration: the service's own preparation, nginx's page and
/// Debian's default site out of the way (it would listen on 80 too) unless
/// the scenario manages it, the shared content files, and the three
/// configurations rendered from what is on disk now.
pub fn prepare(s: &Scenario) -> Vec<String> {
    let Some(spec) = &s.service else {
        return Vec::new();
    };
    let def = kinds::definition(spec.service());
    let mut out: Vec<String> = def.prepare.iter().map(|c| c.to_string()).collect();
    let plan = config::plan(s);
    let paths = plan.as_ref().map(ConfigPlan::paths).unwrap_or_default();
    if spec.service() == ServiceName::Nginx {
        const DEFAULT: &str = "/etc/nginx/sites-enabled/default";
        if !paths.iter().any(|p| p == DEFAULT) {
            out.push(format!("rm -f {DEFAULT}"));
        }
        out.push(format!(
            "mkdir -p {SITE_ROOT} && cp {FIXTURES}/index.html {SITE_ROOT}/index.html"
        ));
    }
    if let Some(plan) = &plan {
        for (i, (path, _)) in plan.content.iter().enumerate() {
            let to = quote(path);
            out.push(format!(
                "mkdir -p \"$(dirname {to})\" && cp {FIXTURES}/content-{i} {to}"
            ));
        }
        out.push(format!(
            "rm -rf {STAGES} && mkdir -p {STAGES} && perl {FIXTURES}/render.pl {FIXTURES}/config.json {STAGES}"
        ));
    }
    out
}

/// The set-up of an install or upgrade scenario's site: Debian's default
/// site out of the way, the site's root linked to the folder `dir_command`
/// prints (the site package's installed files), and the site's
/// configuration.
pub fn prepare_package_site(spec: &ServiceSpec, dir_command: &str) -> Vec<String> {
    let conf = config::site_conf(spec.port());
    vec![
        "rm -f /etc/nginx/sites-enabled/default".into(),
        format!("d=$({dir_command}) && [ -d \"$d\" ] && ln -sfn \"$d\" {SITE_ROOT}"),
        format!("printf '%s' {} > {SITE_CONF}", quote(&conf)),
    ]
}

/// After it: the service started on the good configuration, what the
/// harness needs of the running service (PostgreSQL's role for root and
/// its known rows: a probe may log in as root), the probe started, and a
/// wait for its first healthy sample (at most 30 s).
pub fn start(spec: &ServiceSpec) -> Vec<String> {
    let mut steps = start_unprobed(spec);
    steps.push(probe_command(spec));
    steps.push(wait_until_healthy());
    steps
}

/// The service started on the configuration on disk and what the harness
/// needs of it (a role, the known rows), without a probe inside: a fleet's
/// nodes are probed from outside.
pub fn start_unprobed(spec: &ServiceSpec) -> Vec<String> {
    let def = kinds::definition(spec.service());
    let mut steps = vec![LOCALHOST.to_string(), def.start.to_string()];
    steps.extend(def.after_start.iter().map(|c| c.to_string()));
    steps.extend(kinds::data_setup(spec.service()));
    steps
}

/// A wait (at most 30 s) for a healthy sample taken after it began; on
/// failure it says what the probe saw last.
pub fn wait_until_healthy() -> String {
    format!(
        "end=$(($(date +%s) + 30)); until why=$(perl {AGENT} settle 20); do \
         [ \"$(date +%s)\" -lt \"$end\" ] || {{ echo \"the service is not healthy after 30 s: $why\" >&2; exit 1; }}; done"
    )
}

/// After a container restart (a crashed machine's boot): the service
/// starts from the configuration on disk, as its unit would (it stays down
/// when that fails), and the probe starts again. No wait: whether it
/// serves is the trial's data.
pub fn boot(spec: &ServiceSpec) -> Vec<String> {
    vec![
        LOCALHOST.to_string(),
        kinds::definition(spec.service()).start.to_string(),
        probe_command(spec),
    ]
}

/// A container without a network gets no /etc/hosts from the engine, and
/// a service resolving `localhost` (PostgreSQL's default listen_addresses)
/// would fail where a machine would not. Run with every start: `docker
/// commit` leaves /etc/hosts out of a committed set-up image.
const LOCALHOST: &str =
    "grep -qs '^127.0.0.1[[:space:]].*localhost' /etc/hosts || echo '127.0.0.1 localhost' >> /etc/hosts";

/// Starts the prober in the background (`agent.pl probe`).
fn probe_command(spec: &ServiceSpec) -> String {
    format!(
        "perl {AGENT} probe {FIXTURES}/probes {}",
        spec.probe_interval_ms.get_ref()
    )
}

/// The health check's command: the probe's last sample after `settle_ms`.
pub fn health_command(spec: &ServiceSpec) -> String {
    format!("perl {AGENT} settle {}", spec.settle_ms.get_ref())
}

/// The wanted-edit check (exit 0 kept, 1 lost): every file the wanted
/// edit changed equals its wanted configuration (a removed one is absent).
/// None without a wanted edit.
pub fn wanted_check(plan: &ConfigPlan) -> Option<String> {
    let paths = plan.wanted_paths();
    (!paths.is_empty()).then(|| {
        paths
            .iter()
            .map(|p| {
                let (want, at) = (quote(&format!("{STAGES}/wanted{p}")), quote(p));
                format!(
                    "if [ -e {want} ]; then cmp -s {want} {at} || {{ echo {at} differs; exit 1; }}; \
                     elif [ -e {at} ]; then echo {at} is back; exit 1; fi"
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    })
}

/// The probe's log, read whole after the trial (never through a tail).
pub fn probe_log_command() -> Vec<String> {
    vec!["cat".into(), "/run/mistake-cost/probe.log".into()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_is_put_file_by_file_and_absent_files_removed() {
        let put = put_stage(&["/etc/a b".to_string(), "/etc/x/it's".to_string()], "bad");
        assert!(
            put.starts_with(&format!("if [ -e '{STAGES}/bad/etc/a b' ]; then")),
            "{put}"
        );
        assert!(put.contains(r"'/etc/x/it'\''s'"), "{put}");
        assert!(put.contains("else rm -f '/etc/a b'; fi && if"), "{put}");
    }

    #[test]
    fn probes_are_written_one_per_line() {
        let s = crate::scenario::parse(
            r#"
[scenario]
name = "t"
approaches = ["apt"]
[service]
name = "postgresql"
[[service.probe]]
tcp = true
[[service.probe]]
command = "psql -tAc 'select 1'"
expect_stdout = "1"
[operation]
kind = "configure"
[[operation.edit]]
path = "/etc/postgresql/15/main/postgresql.conf"
replace = { find = "max_connections", with = "max_connectoins" }
"#,
        )
        .unwrap();
        let spec = probe_spec(s.service.as_ref().unwrap());
        let lines: Vec<&str> = spec.lines().collect();
        assert_eq!(lines[0], "tcp\t5432");
        assert!(lines[1].starts_with("command\t7073716c"), "{spec}");
        assert!(lines[1].ends_with("\t31"), "{spec}");
        let nginx = crate::scenario::parse(
            "[scenario]\nname = \"t\"\napproaches = [\"apt\"]\n[service]\nport = 8080\n\
             [operation]\nkind = \"configure\"\nchange = \"wrong-root\"\n",
        )
        .unwrap();
        let default = probe_spec(nginx.service.as_ref().unwrap());
        assert!(default.starts_with("http\t8080\t/\t200\t"), "{default}");
    }
}
