#!/usr/bin/env bash
# Installs, in one apt call, every Debian 12 package nicemu builds or runs with.
# Idempotent: when everything is present it only runs dpkg-query and returns at once.
set -euo pipefail

packages=(
  libdpdk-dev libboost-dev catch2 libspdlog-dev libcli11-dev libfmt-dev nlohmann-json3-dev
  libyaml-cpp-dev libpcap-dev libbenchmark-dev pkg-config ninja-build cmake g++ clang ccache
  iproute2
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages and not root; run as root or install: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
