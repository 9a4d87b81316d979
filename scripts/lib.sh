# Shared steps of scripts/run and scripts/test. Every step is idempotent.
# shellcheck shell=bash

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"
SITE_ROOT="$ROOT/target/site"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root for: $*"; fi
}

APT_UPDATED=""
apt_install() {
  command -v apt-get >/dev/null || die "missing $* and no apt-get to install it; install it by hand"
  if [ -z "$APT_UPDATED" ]; then as_root apt-get update -qq >&2; APT_UPDATED=1; fi
  say "installing $* (Debian packages)"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >&2
}

# PostgreSQL: use DATABASE_URL when set; otherwise the local server, started (or installed) as needed.
ensure_postgres() {
  if [ -n "${DATABASE_URL:-}" ]; then return; fi
  command -v pg_isready >/dev/null || apt_install postgresql postgresql-client
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    say "starting the local PostgreSQL"
    local version
    version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)"
    [ -n "$version" ] || die "PostgreSQL is not installed (no /etc/postgresql); install it or set DATABASE_URL"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    pg_isready -q -h 127.0.0.1 -p 5432 || die "PostgreSQL did not start on 127.0.0.1:5432; set DATABASE_URL to a reachable server"
  fi
  # A superuser role for this OS user, so local connections need no password setup.
  if ! psql -h 127.0.0.1 -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
    as_root su postgres -c "createuser --superuser $(id -un)" >/dev/null 2>&1 || true
  fi
  psql -h 127.0.0.1 -d postgres -Atqc 'select 1' >/dev/null 2>&1 \
    || die "cannot connect to PostgreSQL at 127.0.0.1:5432 as $(id -un); set DATABASE_URL"
  export PG_ADMIN_URL="postgres://$(id -un)@127.0.0.1:5432/postgres"
}

ensure_rust() {
  command -v cargo >/dev/null || die "the Rust toolchain (cargo) is required: https://rustup.rs"
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown >&2
  fi
  command -v cc >/dev/null || apt_install build-essential
  command -v gzip >/dev/null || apt_install gzip
  command -v brotli >/dev/null || apt_install brotli
}

# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
ensure_wasm_bindgen() {
  local want have
  want="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
  have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
  if [ "$have" != "$want" ]; then
    say "installing wasm-bindgen-cli $want (once, a few minutes)"
    # Not --locked: its lock file pins a crate version the registry no longer serves.
    cargo install wasm-bindgen-cli --version "$want" >&2
  fi
}

# wasm-opt from npm's binaryen (Debian's is too old for the features rustc emits), pinned, in
# the project's own folder. Prints the path of the binary.
BINARYEN_VERSION="132.0.0"
BINARYEN_DIR="$ROOT/.stratus/binaryen"
ensure_wasm_opt() {
  local bin="$BINARYEN_DIR/node_modules/.bin/wasm-opt"
  if ! "$bin" --version 2>/dev/null | grep -q "version ${BINARYEN_VERSION%%.*}"; then
    command -v npm >/dev/null || apt_install nodejs npm
    say "installing wasm-opt (npm binaryen $BINARYEN_VERSION) into .stratus/binaryen"
    mkdir -p "$BINARYEN_DIR"
    npm install --prefix "$BINARYEN_DIR" --no-audit --no-fund --no-save "binaryen@$BINARYEN_VERSION" >&2
  fi
  echo "$bin"
}

# wasm-split-cli (crate wasm_split_cli_support), pinned, in the project's own folder: it splits
# the browser bundle at the lazy routes (app::chunks). 0.2.2 panics on modules from
# wasm-bindgen 0.2.130's era. Prints the path of the binary.
WASM_SPLIT_VERSION="0.2.4"
WASM_SPLIT_DIR="$ROOT/.stratus/wasm-split"
ensure_wasm_split() {
  local bin="$WASM_SPLIT_DIR/bin/wasm-split-cli"
  # cargo install records what it installed in the root's .crates.toml.
  if [ ! -x "$bin" ] || ! grep -q "wasm_split_cli_support $WASM_SPLIT_VERSION " "$WASM_SPLIT_DIR/.crates.toml" 2>/dev/null; then
    say "installing wasm-split-cli $WASM_SPLIT_VERSION into .stratus/wasm-split (once, about a minute)"
    cargo install --locked --force --root "$WASM_SPLIT_DIR" wasm_split_cli_support \
      --version "$WASM_SPLIT_VERSION" --features build-binary >&2
  fi
  echo "$bin"
}

# The browser bundle, precompressed for ServeDir: the main WASM module and its JS glue, one
# WASM chunk per lazy route group (app::chunks) with the loader wasm-split writes
# (__wasm_split.js), and the CSS. The cargo build links with --emit-relocs (.cargo/config.toml,
# wasm32 only), which wasm-split needs to move code between modules.
build_site() {
  ensure_rust
  ensure_wasm_bindgen
  local wasm_opt wasm_split
  wasm_opt="$(ensure_wasm_opt)"
  wasm_split="$(ensure_wasm_split)"
  say "building the browser bundle (WASM)"
  cargo build -p frontend --target wasm32-unknown-unknown --profile wasm-release >&2
  local pkg="$SITE_ROOT/pkg" stamp="$SITE_ROOT/.bundle-made-from" made_from
  # What the bundle is made from: cargo's output and these steps. When neither changed (as in
  # scripts/run after scripts/test) the steps below are skipped: over a minute for ~80 modules.
  made_from="$(cat target/wasm32-unknown-unknown/wasm-release/frontend.wasm scripts/lib.sh \
    scripts/split_manifest.py | sha256sum)"
  if [ -f "$pkg/stratus_bg.wasm" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$made_from" ]; then
    say "the split bundle is up to date"
  else
    rm -f "$stamp"
    rm -rf "$pkg" && mkdir -p "$pkg"
    # Split first, on cargo's output: the chunks and __wasm_split.js go straight into pkg/ (the
    # loader fetches them next to stratus.js), the main module to pkg/stratus.wasm for
    # wasm-bindgen, which must keep the linker's exports the chunks import from it and the
    # symbol names wasm-split rewrote.
    say "splitting the lazy routes into chunks (wasm-split)"
    "$wasm_split" --target web --out-name stratus \
      target/wasm32-unknown-unknown/wasm-release/frontend.wasm "$pkg" >&2
    wasm-bindgen --target web --no-typescript --keep-lld-exports --no-demangle \
      --out-name stratus --out-dir "$pkg" "$pkg/stratus.wasm"
    rm "$pkg/stratus.wasm"
    python3 scripts/split_manifest.py "$pkg"
    # wasm-opt merges identical functions (monomorphised copies) and strips the names and the
    # producers section (the profile keeps them: `strip = true` would also drop the
    # `target_features` section wasm-bindgen reads). Not -Oz or -Os: on this bundle they shrink
    # the raw file but grow its brotli size, what browsers download (docs/measurements.md).
    # The features rustc's wasm32 target enables by default (bulk memory, sign extension,
    # non-trapping float-to-int, multivalue, reference types) must stay enabled for wasm-opt.
    # Every module: the main one and each chunk. (wasm-split writes a name subsection wasm-opt
    # does not know, label names, and which it drops with the rest; its warnings are left out.)
    say "merging duplicate functions and stripping names (wasm-opt)"
    local wasm
    for wasm in "$pkg"/*.wasm; do
      "$wasm_opt" --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
        --enable-multivalue --enable-reference-types \
        --duplicate-function-elimination --remove-unused-module-elements --strip-debug --strip-producers \
        -o "$wasm.opt" "$wasm" 2> >(grep -v 'unknown name subsection' >&2 || true)
      mv "$wasm.opt" "$wasm"
    done
    for f in "$pkg"/*; do
      gzip -9 -k -f "$f"
      brotli -q 11 -f -k "$f"
    done
    echo "$made_from" >"$stamp"
  fi
  cp style/stratus.css "$pkg/stratus.css"
  gzip -9 -k -f "$pkg/stratus.css"
  brotli -q 11 -f -k "$pkg/stratus.css"
}

ensure_e2e_deps() {
  command -v node >/dev/null || apt_install nodejs npm
  [ -x /usr/bin/chromium ] || apt_install chromium
  if [ ! -d e2e/node_modules/@playwright/test ] || [ e2e/package-lock.json -nt e2e/node_modules/.package-lock.json ]; then
    say "installing the e2e test packages (npm)"
    (cd e2e && npm ci --no-audit --no-fund >&2)
  fi
}

# moto, the AWS emulator, in a virtualenv owned by the project (.stratus/venv), pinned: its
# behaviour (docs/sandbox.md, PROVISIONING.md §6) was checked against this version, and a newer
# one may change what the sandbox accepts. A venv holding another version is reinstalled.
MOTO_VENV="$ROOT/.stratus/venv"
MOTO_VERSION="5.2.5"
ensure_moto() {
  local have=""
  if [ -x "$MOTO_VENV/bin/python" ]; then
    have="$("$MOTO_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true)"
  fi
  if [ ! -x "$MOTO_VENV/bin/moto_server" ] || [ "$have" != "$MOTO_VERSION" ]; then
    say "installing moto $MOTO_VERSION (the sandbox cloud) into .stratus/venv${have:+ (found $have)}"
    [ -x "$MOTO_VENV/bin/pip" ] || python3 -m venv "$MOTO_VENV" >&2 || { apt_install python3-venv; python3 -m venv "$MOTO_VENV" >&2; }
    "$MOTO_VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
  fi
}

# schemathesis, the OpenAPI fuzzer, in its own virtualenv (.stratus/schemathesis), pinned.
SCHEMATHESIS_VENV="$ROOT/.stratus/schemathesis"
SCHEMATHESIS_VERSION="4.32.5"
ensure_schemathesis() {
  if ! "$SCHEMATHESIS_VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    say "installing schemathesis $SCHEMATHESIS_VERSION into .stratus/schemathesis"
    python3 -m venv "$SCHEMATHESIS_VENV" >&2 || { apt_install python3-venv; python3 -m venv "$SCHEMATHESIS_VENV" >&2; }
    "$SCHEMATHESIS_VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" >&2
  fi
}

# Starts moto on 127.0.0.1:$1 unless something already answers there; prints its URL.
start_moto() {
  local port="$1" url="http://127.0.0.1:$1"
  if ! curl -fs "$url/moto-api/" >/dev/null 2>&1; then
    ensure_moto
    nohup "$MOTO_VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$ROOT/.stratus/moto-$port.log" 2>&1 &
    for _ in $(seq 1 60); do curl -fs "$url/moto-api/" >/dev/null 2>&1 && break; sleep 0.5; done
    curl -fs "$url/moto-api/" >/dev/null 2>&1 || die "moto did not start on port $port (see .stratus/moto-$port.log)"
    # Moto loads each service's code on its first request (about 2 s for EC2 on 2 cores): pay
    # that here, not inside the first job a person or a test starts.
    local service action version
    for service in ec2:DescribeAvailabilityZones:2016-11-15 rds:DescribeDBInstances:2014-10-31; do
      IFS=: read -r service action version <<<"$service"
      curl -fs -o /dev/null "$url/" -d "Action=$action&Version=$version" \
        -H "Authorization: AWS4-HMAC-SHA256 Credential=warmup/20260101/us-east-1/$service/aws4_request, SignedHeaders=host, Signature=0" || true
    done
  fi
  echo "$url"
}

# A free TCP port on loopback.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
