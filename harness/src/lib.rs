//! mistake-cost: a chaos-testing harness that measures what a mistake costs
//! with apt, pip and Nix, in matched Docker containers.
//!
//! Rooms: `scenario` (files → model), `payload` (packages for every
//! ecosystem), `plan` (the seeded generator), `docker` (engine, sandboxes,
//! images, sweeps), `approach` (per package manager), `snapshot` (manifests
//! and residue), `runner` (executor + scheduler + events), `history` and
//! `checker` (record first, judge after), `export` (CSV, JSONL), `report`,
//! `verify` (guarantees → verdicts, JUnit), `compare` (two runs), `commands`,
//! `properties` (operation sequences and invariants for the property tests).

pub mod approach;
pub mod checker;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod docker;
pub mod error;
pub mod explore;
pub mod export;
pub mod history;
pub mod nemesis;
pub mod payload;
pub mod plan;
pub mod properties;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod snapshot;
pub mod verify;
pub mod vocab;
