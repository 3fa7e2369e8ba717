//! mistake-cost: a chaos-testing harness that measures what a mistake costs
//! with apt, pip and Nix, in matched Docker containers. `DESIGN.md` beside
//! this file maps the rooms, the one trial lifecycle and where new
//! approaches, faults, operations and columns go.
//!
//! Rooms: `vocab` (shared names; imports nothing), `stats` (every median,
//! quantile and CI; imports nothing), `cache` (what depends on an image's
//! content alone, on disk by image id; imports nothing), `scenario` (files → model; uses
//! `vocab` only), `payload` (packages for every ecosystem), `plan` (the
//! seeded generator), `docker` (engine, sandboxes, images, sweeps),
//! `approach` (per package manager), `snapshot` (manifests and residue),
//! `runner` (executor + scheduler + events; `runner::fleet` runs a
//! rollout's nodes, deployer and prober), `history` and `checker`
//! (record first, judge after), `export` (the results schema — typed
//! records, column lists, run.json — and its CSV and JSONL writers),
//! `report`, `service` (the real service of configure scenarios: rendered
//! configurations, shared commands, the health probe's timeline),
//! `nemesis` (faults), `explore` (crash points), `verify`
//! (guarantees → verdicts, JUnit), `compare` (two runs), `error`, `cli`,
//! `commands`, `properties` (operation sequences and invariants for the
//! property tests).
//!
//! Layers, bottom → top (each module uses only those listed before it;
//! `tests/structure.rs` fails on an import cycle): `vocab`, `stats`, `cache`;
//! `scenario`, `docker`; `snapshot`, `error`, `service`, `history`, `nemesis`;
//! `export`; `checker`, `payload`, `approach`; `plan`, `verify`,
//! `properties`, `cli`; `runner`, `explore`, `report`, `compare`; `commands`.

pub mod approach;
pub mod cache;
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
pub mod service;
pub mod snapshot;
pub mod stats;
pub mod verify;
pub mod vocab;
