#!/usr/bin/env bash
# Installs the peers that benches/pipeline/ compares Vestnik with (see README.md here):
#   graphile-worker: bench/peers/graphile/node_modules, from the committed package-lock.json;
#   Procrastinate:   ${CARGO_TARGET_DIR:-target}/bench-peers-venv, from requirements.txt.
# Every version is pinned. A stamp (the hash of what was installed from) makes a second run
# a no-op; changing a pin changes the hash and reinstalls.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."

log() { printf 'peers setup: %s\n' "$*" >&2; }
hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

# graphile-worker on Node >= 20, the Node the issue names.
command -v node >/dev/null || { log "node is not installed (need v20+)"; exit 1; }
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || { log "node v20+ needed, found $(node --version)"; exit 1; }
graphile=$here/graphile
want=$(hash_of "$graphile/package-lock.json" <(node --version))
if [ "$(cat "$graphile/node_modules/.vestnik-stamp" 2>/dev/null)" != "$want" ]; then
  log "installing graphile-worker (npm ci)"
  npm ci --prefix "$graphile" --no-audit --no-fund --loglevel=error >&2
  echo "$want" >"$graphile/node_modules/.vestnik-stamp"
else
  log "graphile-worker already installed"
fi

# Procrastinate in its own venv: --no-deps because requirements.txt pins the whole tree.
venv=${CARGO_TARGET_DIR:-target}/bench-peers-venv
want=$(hash_of "$here/procrastinate/requirements.txt" <(python3 --version))
if [ "$(cat "$venv/.vestnik-stamp" 2>/dev/null)" != "$want" ]; then
  log "installing Procrastinate into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps \
    -r "$here/procrastinate/requirements.txt" >&2
  "$venv/bin/pip" check --disable-pip-version-check >&2
  echo "$want" >"$venv/.vestnik-stamp"
else
  log "Procrastinate already installed in $venv"
fi
