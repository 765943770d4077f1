#!/usr/bin/env bash
# Build the Debian package with cargo-deb (metadata: [package.metadata.deb]
# in Cargo.toml): the binary, the systemd unit, /etc/callsign/callsign.toml,
# the radio profiles, man pages and shell completions generated from the
# command line itself, the docs.
#
#   scripts/package.sh [--no-build] [--out DIR]
#
# --no-build uses the binary already in target/release ($CARGO_TARGET_DIR
# when set, as cargo and cargo-deb do). The package lands
# in target/debian/ (or DIR); its path is the last line printed.
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/debian
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) build=0 ;;
        --out) out=$2; shift ;;
        *) echo "usage: scripts/package.sh [--no-build] [--out DIR]" >&2; exit 2 ;;
    esac
    shift
done

if ! command -v cargo-deb >/dev/null 2>&1; then
    echo "cargo-deb is not installed: cargo install cargo-deb --locked (./run package does it)" >&2
    exit 1
fi
if [ "$build" = 1 ]; then
    cargo build --release --quiet
fi
bin=${CARGO_TARGET_DIR:-target}/release/callsign
[ -x "$bin" ] || { echo "no $bin: build it first (cargo build --release)" >&2; exit 1; }

gen=target/package-gen
rm -rf "$gen"
mkdir -p "$gen/man" "$gen/completions"
"$bin" gen-man "$gen/man" >/dev/null
gzip -9n "$gen"/man/*.1
"$bin" gen-completions "$gen/completions" >/dev/null

mkdir -p "$out"
cargo deb --no-build --strip --output "$out" --quiet
ls -1t "$out"/callsign_*.deb | head -1
