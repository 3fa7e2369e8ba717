#!/usr/bin/env bash
# Installs and starts what mistake-cost needs on a fresh Debian 12 machine:
# Docker's engine (Debian's docker.io), mmdebstrap (the base image),
# nix-bin (only its `nix-instantiate --parse`, to check flake.nix in the
# tests) and chromium (headless, to render report.html in the tests). Safe
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
