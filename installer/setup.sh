#!/usr/bin/env bash
# Macro VPN setup for a fresh Debian 12 / Ubuntu machine. Idempotent: run it as often as you like.
#   installer/setup.sh          install system packages and npm dependencies, build the extension
#   installer/setup.sh --demo   the same, then run the demo network (npm run demo)
set -euo pipefail
cd "$(dirname "$0")/.."

# As root (a container, CI) everything runs directly; as another user, what needs root (apt, the
# demo's network namespaces) runs under sudo.
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo --preserve-env=PATH,HOME"; else echo "setup: run this as root, or install sudo (apt-get install sudo) and run it again" >&2; exit 1; fi
fi

# System tools: the tunnel (wireguard-go, wg), networking (ip, iptables), the browser for the demo and tests,
# tcpdump for the tests' packet captures (tests/net/packet-capture.ts).
PACKAGES=(wireguard-go wireguard-tools iproute2 iptables chromium procps ca-certificates curl tcpdump)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # --no-install-recommends: wireguard's recommends would pull in a kernel image.
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v node >/dev/null 2>&1; then
  echo "setup: Node.js 20 or newer is required (apt-get install nodejs npm, or from nodejs.org)" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then echo "setup: Node.js $major is too old; 20 or newer is required" >&2; exit 1; fi

# npm dependencies exactly as locked; skipped when node_modules already matches the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

echo "setup: building the extension"
npx wxt build >/dev/null
chmod +x host/bin/macro-vpn
echo "setup: done. host/bin/macro-vpn is ready; the extension is in .output/chrome-mv3"

if [ "${1:-}" = "--demo" ]; then
  exec $SUDO npm run demo
fi
