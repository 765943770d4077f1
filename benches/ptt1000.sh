#!/bin/sh
# The 1000-node push-to-talk benchmark: a random geometric mesh of 1000
# handsets, 60 s simulated with talkgroup traffic (every node in one of
# two talkgroups, each with a talker at a realistic duty cycle for most of
# the minute), must finish within 120 s of wall time in a release build.
# The application layer runs in every node, as in the daemon; the mesh
# core alone (`--no-names`, as benches/sim1000.sh).
#   benches/ptt1000.sh [SEED]
set -eu
cd "$(dirname "$0")/.."
seed="${1:-1}"
target_ms=120000
cargo build --release --quiet
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# Cold start (about 16 s at this size), a short idle window, then 30 s
# of talking.
./target/release/callsign sim --topology random --nodes 1000 --seed "$seed" \
    --settle 2 --idle 5 --kills 0 --idle-kills 0 --floods 0 \
    --ptt --voice-window 30 --duration 60 --no-names --json >"$out"
field() { sed -n "s/^  \"$1\": \([^,]*\),*$/\1/p" "$out"; }
wall=$(field wall_ms)
echo "ptt1000: seed $seed, 60 s simulated, $(field events) events, converged_ms $(field converged_ms)"
echo "ptt1000: $(field ptt_bursts) bursts, $(field ptt_frames_sent) frames, delivery $(field ptt_frame_delivery_ratio) (worst member $(field ptt_frame_delivery_min)), m2e p95 $(field ptt_m2e_ms_p95) ms, $(field ptt_tx_per_frame_per_node) transmissions per frame per node"
if [ "$wall" -le "$target_ms" ]; then
    echo "ptt1000: wall ${wall} ms <= target ${target_ms} ms: PASS"
else
    echo "ptt1000: wall ${wall} ms > target ${target_ms} ms: FAIL"
    exit 1
fi
