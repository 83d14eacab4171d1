#!/usr/bin/env bash
# `npm test`: the type check, the formatting check, both extension builds, then every test file.
# The tests need root (network namespaces, wireguard-go, Chromium in a namespace): as another
# user this re-runs itself under sudo when sudo exists, and says what to do when it does not.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "npm test: the tests need root (network namespaces, wireguard-go). Run it as root, or install sudo." >&2
    exit 1
  fi
  exec sudo --preserve-env=PATH,CI,HOME bash "$0" "$@"
fi
npm run typecheck
npm run format:check
npm run build:ext
exec npx vitest run "$@"
