//! What the harness knows about each service a scenario can name: where
//! its configuration lives (what approaches manage), how it starts without
//! systemd and how a change reaches it (the commands Debian's units run),
//! and what it needs set up first. One table: a new service is one entry.

use crate::scenario::{Apply, ServiceName};

/// One service.
#[derive(Debug, Clone, Copy)]
pub struct Definition {
    pub name: ServiceName,
    /// Set-up before the configuration is written (keys, folders).
    pub prepare: &'static [&'static str],
    /// Starts the service from the configuration on disk, as its unit
    /// does at boot (and stays down when that fails).
    pub start: &'static str,
    /// Once it serves: what the harness itself needs of it (a role, the
    /// known rows of [`DATA_CHECK`]).
    pub after_start: &'static [&'static str],
    /// It holds data the harness checks after the recovery (`data_lost`).
    pub holds_data: bool,
}

const NGINX_STOP: &str = "if [ -s /run/nginx.pid ]; then\n\
  pid=$(cat /run/nginx.pid); kill -QUIT \"$pid\"\n\
  i=0; while kill -0 \"$pid\" 2>/dev/null && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done\n\
  kill -KILL \"$pid\" 2>/dev/null\n\
fi\n";

const SSHD_STOP: &str = "if [ -s /run/sshd.pid ]; then\n\
  pid=$(cat /run/sshd.pid); kill -TERM \"$pid\"\n\
  i=0; while kill -0 \"$pid\" 2>/dev/null && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done\n\
  kill -KILL \"$pid\" 2>/dev/null; rm -f /run/sshd.pid\n\
fi\n";

/// The PostgreSQL cluster Debian's postgresql-15 creates.
pub const PG_CLUSTER: &str = "15 main";

/// The table of known rows the harness writes into a data-holding service
/// and reads back after the recovery.
pub const DATA_TABLE: &str = "mistake_cost_known_rows";
/// Known rows written at set-up.
pub const DATA_ROWS: u32 = 1000;

const DEFINITIONS: [Definition; 3] = [
    Definition {
        name: ServiceName::Nginx,
        prepare: &[],
        start: "nginx -t -q && nginx",
        after_start: &[],
        holds_data: false,
    },
    Definition {
        name: ServiceName::Sshd,
        prepare: &[
            // root's own key pair at the default identity path, trusted by
            // root's authorized_keys: a probe can log in as root.
            "mkdir -p -m 700 /root/.ssh && ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519 \
             && cp /root/.ssh/id_ed25519.pub /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys",
        ],
        start: "mkdir -p -m 755 /run/sshd && /usr/sbin/sshd -t && /usr/sbin/sshd -E /var/log/sshd.log",
        after_start: &[],
        holds_data: false,
    },
    Definition {
        name: ServiceName::Postgresql,
        prepare: &[],
        start: "pg_ctlcluster 15 main start",
        after_start: &[
            // root's role and database, so a probe run as root can `psql`.
            "runuser -u postgres -- psql -qc 'create role root superuser login' \
             && runuser -u postgres -- createdb -O root root",
        ],
        holds_data: true,
    },
];

/// The definition of `name`.
pub fn definition(name: ServiceName) -> &'static Definition {
    DEFINITIONS
        .iter()
        .find(|d| d.name == name)
        .expect("every ServiceName has a definition")
}

impl Definition {
    /// The apply script every approach runs to make the service take a
    /// change (`service::APPLY`), as `systemctl reload|restart` would.
    pub fn apply_script(&self, apply: Apply) -> String {
        match (apply, self.name) {
            (Apply::Reload, ServiceName::Nginx) => "# systemctl reload nginx: test the configuration, then signal a reload\n\
                 # (old workers keep serving when the new configuration fails).\n\
                 nginx -t -q && nginx -s reload\n"
                .into(),
            (Apply::Restart, ServiceName::Nginx) => format!(
                "# systemctl restart nginx: stop the master by its pid file (Debian's unit:\n\
                 # start-stop-daemon --stop --retry QUIT/5), then test and start.\n\
                 {NGINX_STOP}nginx -t -q && nginx\n"
            ),
            (Apply::Reload, ServiceName::Sshd) => "# systemctl reload ssh: `sshd -t`, then SIGHUP (sshd re-executes itself\n\
                 # with the new configuration; the test keeps a refused one from killing it).\n\
                 # (sshd -t exits 255 on a refused file: said as 1, a plain failure.)\n\
                 /usr/sbin/sshd -t || exit 1\n\
                 kill -HUP \"$(cat /run/sshd.pid)\"\n"
                .into(),
            (Apply::Restart, ServiceName::Sshd) => format!(
                "# systemctl restart ssh: stop the daemon by its pid file, then test and start.\n\
                 {SSHD_STOP}mkdir -p -m 755 /run/sshd && {{ /usr/sbin/sshd -t || exit 1; }} && /usr/sbin/sshd -E /var/log/sshd.log\n"
            ),
            (Apply::Reload, ServiceName::Postgresql) => format!(
                "# systemctl reload postgresql@15-main: SIGHUP; the server keeps its old\n\
                 # settings when the files hold an error (it logs it).\n\
                 pg_ctlcluster {PG_CLUSTER} reload\n"
            ),
            (Apply::Restart, ServiceName::Postgresql) => format!(
                "# systemctl restart postgresql@15-main: stop, then start (a setting the\n\
                 # server refuses keeps it down).\n\
                 pg_ctlcluster {PG_CLUSTER} restart\n"
            ),
        }
    }
}

/// The known rows' fingerprint (`count:md5`), printed by the data check and
/// stored at set-up. Read as the cluster's owner, so a broken pg_hba line
/// for root does not hide the data.
fn data_query() -> String {
    format!(
        "runuser -u postgres -- psql -d root -XtAc \"select count(*) || ':' || md5(coalesce(string_agg(id || '=' || v, ',' order by id), '')) from {DATA_TABLE}\""
    )
}

/// Where the set-up keeps the fingerprint of the rows it wrote.
const DATA_EXPECTED: &str = "/var/lib/mistake-cost/known-rows";

/// Set-up, the service serving: the known rows written and their
/// fingerprint kept. Only for a service that holds data.
pub fn data_setup(name: ServiceName) -> Vec<String> {
    if !definition(name).holds_data {
        return Vec::new();
    }
    vec![
        format!(
            "runuser -u postgres -- psql -d root -Xqc \"create table {DATA_TABLE} (id int primary key, v text not null); \
             insert into {DATA_TABLE} select i, md5(i::text) from generate_series(1, {DATA_ROWS}) i\""
        ),
        format!("mkdir -p /var/lib/mistake-cost && {} > {DATA_EXPECTED}", data_query()),
    ]
}

/// The data check after the recovery: exit 0 when every known row is there
/// unchanged, 1 when any is missing or changed, 2 when the server cannot be
/// asked (down: unknown). None for a service without data.
pub fn data_check(name: ServiceName) -> Option<String> {
    definition(name).holds_data.then(|| {
        format!(
            "got=$({}) || {{ echo 'the server cannot be asked'; exit 2; }}; \
             want=$(cat {DATA_EXPECTED}); [ \"$got\" = \"$want\" ] && exit 0; \
             echo \"known rows: $got, set up: $want\"; exit 1",
            data_query()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_has_one_definition_with_its_commands() {
        for name in [
            ServiceName::Nginx,
            ServiceName::Sshd,
            ServiceName::Postgresql,
        ] {
            let d = definition(name);
            assert_eq!(d.name, name);
            assert!(!name.config_roots().is_empty() && !d.start.is_empty());
            for apply in [Apply::Reload, Apply::Restart] {
                assert!(!d.apply_script(apply).is_empty());
            }
        }
        assert!(ServiceName::Sshd.manages("/etc/ssh/sshd_config"));
        assert!(!ServiceName::Sshd.manages("/etc/sshd_config"));
        assert!(!ServiceName::Nginx.manages("/etc/nginx"));
        assert!(data_check(ServiceName::Nginx).is_none());
        assert!(data_check(ServiceName::Postgresql).is_some());
    }
}
