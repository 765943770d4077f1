#!/bin/sh
# The 1000-node benchmark: a random geometric mesh of 1000 handsets,
# 60 s simulated, must finish within 60 s of wall time in a release build.
# It measures the mesh core (`--no-names`): with the directory every one of
# the 1000 simulated devices verifies the signature of every other's
# record, a million Ed25519 checks on one CPU that a real device (1000
# checks of its own) never pays. `benches/sim1000.sh SEED --with-names`
# runs the full stack and prints its wall time without a target.
#   benches/sim1000.sh [SEED] [--with-names]
set -eu
cd "$(dirname "$0")/.."
seed="${1:-1}"
names="--no-names"
[ "${2:-}" = "--with-names" ] && names=""
target_ms=60000
cargo build --release --quiet
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# Shorter phases than the default run so every phase fits in 60 s.
./target/release/callsign sim --topology random --nodes 1000 --seed "$seed" \
    --idle 20 --kills 3 --idle-kills 3 --kill-interval 5 --floods 5 \
    --duration 60 $names --json >"$out"
wall=$(sed -n 's/^  "wall_ms": \([0-9]*\).*/\1/p' "$out")
events=$(sed -n 's/^  "events": \([0-9]*\).*/\1/p' "$out")
conv=$(sed -n 's/^  "converged_ms": \(.*\),$/\1/p' "$out")
echo "sim1000: seed $seed, 60 s simulated, $events events, converged_ms $conv"
if [ -z "$names" ]; then
    echo "sim1000: with the directory: wall ${wall} ms (no target)"
elif [ "$wall" -le "$target_ms" ]; then
    echo "sim1000: wall ${wall} ms <= target ${target_ms} ms: PASS"
else
    echo "sim1000: wall ${wall} ms > target ${target_ms} ms: FAIL"
    exit 1
fi
