#!/usr/bin/env bash
# Installs and starts what mistake-cost needs on a fresh Debian 12 machine:
# Docker's engine (Debian's docker.io), mmdebstrap (the base image),
# nix-bin (only its `nix-instantiate --parse`, to check flake.nix in the
# tests), chromium (headless, to render report.html in the tests) and
# deploy-rs 1.0.0 (built with cargo: the fleet's `deploy-rs` method). Safe
# to run again: it skips what is already there.
set -euo pipefail

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
command -v nix-instantiate >/dev/null 2>&1 || need+=(nix-bin)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  echo "setup: starting dockerd" >&2
  setsid dockerd >/var/log/dockerd.log 2>&1 < /dev/null &
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { echo "setup: dockerd did not start; see /var/log/dockerd.log" >&2; tail -20 /var/log/dockerd.log >&2; exit 1; }
fi
echo "setup: docker engine $(docker version --format '{{.Server.Version}}') ready" >&2

# deploy-rs (the `nix` approach's `deploy-rs` fleet method): `deploy` and
# `activate` built from crates.io with the crate's own Cargo.lock; the
# harness copies them into a fleet's deployer (the images are Debian 12,
# as this host, so the glibc matches). MISTAKE_COST_DEPLOY_RS overrides
# the folder.
DEPLOY_RS_ROOT=/opt/deploy-rs
if ! "$DEPLOY_RS_ROOT/bin/deploy" --version 2>/dev/null | grep -qx 'deploy-rs 1.0.0' \
   || [ ! -x "$DEPLOY_RS_ROOT/bin/activate" ]; then
  echo "setup: building deploy-rs 1.0.0 into $DEPLOY_RS_ROOT (a few minutes, once)" >&2
  cargo install deploy-rs --version 1.0.0 --locked --root "$DEPLOY_RS_ROOT" --quiet
fi
echo "setup: $("$DEPLOY_RS_ROOT/bin/deploy" --version) ready" >&2
