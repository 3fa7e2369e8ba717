//! An approach defined here, in the test, and registered with one call
//! plugs in everywhere the built-ins do: names, order, colour, image
//! family, scenario files, the command line. No Docker: nothing runs.

use std::sync::OnceLock;

use clap::Parser;
use mistake_cost::approach::{self, Approach, ApproachKind, Check, RegistryError};
use mistake_cost::cli::{Cli, Command};
use mistake_cost::docker::images::Family;
use mistake_cost::docker::SecurityProfile;
use mistake_cost::report::aggregate::approach_order;
use mistake_cost::report::plots::approach_colours;
use mistake_cost::scenario::{Ecosystem, PackageRef, Scenario};

/// A make-believe package manager: copies the apt fixtures into place.
struct Copier;

const COLOUR: (u8, u8, u8) = (0x12, 0x34, 0x56);

impl Approach for Copier {
    fn name(&self) -> &'static str {
        "test-copier"
    }
    fn description(&self) -> &'static str {
        "a test approach that copies files"
    }
    fn family(&self) -> Family {
        Family::Apt
    }
    fn ecosystem(&self) -> Ecosystem {
        Ecosystem::Apt
    }
    fn colour(&self) -> (u8, u8, u8) {
        COLOUR
    }
    fn configuration(&self, _: SecurityProfile) -> String {
        "cp, as root".into()
    }
    fn install(&self, packages: &[PackageRef]) -> String {
        let names: Vec<String> = packages.iter().map(|p| p.to_string()).collect();
        format!("copy-in {}", names.join(" "))
    }
    fn default_playbook(&self, _: &Scenario) -> Vec<String> {
        vec!["copy-out".into()]
    }
    fn checks(&self, _: &Scenario) -> Vec<Check> {
        Vec::new()
    }
    fn package_view(&self) -> String {
        "true".into()
    }
}

/// The one call, made once per test process whichever test runs first.
fn copier() -> ApproachKind {
    static KIND: OnceLock<ApproachKind> = OnceLock::new();
    *KIND.get_or_init(|| approach::register(|| Box::new(Copier)).expect("a free name"))
}

const BUILTINS: [&str; 12] = [
    "apt",
    "ansible",
    "pip",
    "pip-venv",
    "pip-venv-user",
    "npm-global",
    "npm-global-user",
    "npm-local",
    "nix",
    "nix-single-user",
    "nix-profile",
    "nix-shell",
];

#[test]
fn it_comes_after_the_builtins_and_parses_from_its_name() {
    let kind = copier();
    let names: Vec<&str> = approach::registry().iter().map(|k| k.as_str()).collect();
    assert_eq!(names[..12], BUILTINS);
    assert_eq!(names[12], "test-copier");
    assert_eq!(kind.rank(), 12);
    assert_eq!("test-copier".parse::<ApproachKind>(), Ok(kind));
    assert_eq!(kind.to_string(), "test-copier");
    assert_eq!(serde_json::to_string(&kind).unwrap(), "\"test-copier\"");
    assert!(approach::kind("nix-profile") < kind);
    // A second registration of the name is refused, not shadowing it.
    assert_eq!(
        approach::register(|| Box::new(Copier)).unwrap_err(),
        RegistryError::Taken("test-copier")
    );
}

#[test]
fn the_registry_returns_it_with_what_it_declared() {
    let kind = copier();
    let a = approach::approach(kind);
    assert_eq!(a.kind(), kind);
    assert_eq!(a.description(), "a test approach that copies files");
    assert_eq!(a.family(), Family::Apt);
    assert_eq!(a.ecosystem(), Ecosystem::Apt);
    assert_eq!(a.generation_rollback(), None);
    assert_eq!(a.restore_packages(&[], &[]), None);
    assert!(approach::by_name("test-copier").is_some());
    // The report: its colour, and its place after the built-ins.
    assert!(approach_colours().contains(&("test-copier", COLOUR)));
    assert_eq!(approach_order("test-copier"), (12, "test-copier".into()));
    assert!(approach_order("nix-profile") < approach_order("test-copier"));
    assert!(approach_order("test-copier") < approach_order("zypper"));
}

#[test]
fn a_scenario_naming_it_loads_and_uses_its_commands() {
    let kind = copier();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("copy.toml");
    std::fs::write(
        &path,
        "[scenario]\nname = \"copy\"\napproaches = [\"apt\", \"test-copier\"]\n\
         [[package]]\nname = \"a\"\nversion = \"1.0\"\n\
         [operation]\nkind = \"install\"\npackages = [\"a\"]\n\
         [recovery.test-copier]\ncommands = [\"copy-out --all\"]\n",
    )
    .unwrap();
    let loaded = mistake_cost::verify::load_scenario(&path).expect("the scenario loads");
    assert_eq!(
        loaded.scenario.approaches(),
        vec![approach::kind("apt"), kind]
    );
    let a = approach::approach(kind);
    assert_eq!(
        approach::operation_command(a.as_ref(), &loaded.scenario),
        "copy-in a"
    );
    assert_eq!(
        approach::playbook(a.as_ref(), &loaded.scenario),
        ["copy-out --all"]
    );
}

#[test]
fn an_unregistered_name_is_still_located() {
    copier();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[scenario]\nname = \"bad\"\napproaches = [\"test-copier\", \"test-mover\"]\n\
         [[package]]\nname = \"a\"\nversion = \"1.0\"\n\
         [operation]\nkind = \"install\"\npackages = [\"a\"]\n",
    )
    .unwrap();
    let e = mistake_cost::verify::load_scenario(&path)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("{}:3:30:", path.display())),
        "file:line:col in {e}"
    );
    assert!(
        e.contains("unknown variant `test-mover`") && e.contains("`test-copier`"),
        "{e}"
    );
}

#[test]
fn the_command_line_takes_it_and_lists_it() {
    copier();
    let cli = Cli::try_parse_from([
        "mistake-cost",
        "explore",
        "s.toml",
        "--approaches",
        "test-copier,apt",
    ])
    .expect("a registered name parses");
    let Command::Explore(args) = cli.command else {
        panic!("explore");
    };
    assert_eq!(args.approaches, [copier(), approach::kind("apt")]);
    let e = Cli::try_parse_from(["mistake-cost", "explore", "s.toml", "--approaches", "yum"])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("yum") && e.contains("test-copier") && e.contains("nix-single-user"),
        "{e}"
    );
}
