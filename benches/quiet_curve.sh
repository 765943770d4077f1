#!/usr/bin/env bash
# The trade-off behind the idle hello interval (issue "A quiet mesh",
# point 2): idle control overhead against idle repair time on the
# 100-node acceptance mesh (5 % extra loss), one row per interval, the
# other timers as shipped (an idle neighbour is suspected after 2.1
# intervals of silence). Flow repair does not depend on it (fast hellos).
#   benches/quiet_curve.sh [SEED ...]                 (default: 1)
#   HELLOS="1000 2100 3000" benches/quiet_curve.sh 1 2
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./target/release/callsign
[ -x "$bin" ] || cargo build --release --quiet
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(1)
hellos=${HELLOS:-"1000 1500 2100 3000 4000"}
printf '%-6s %-9s %12s %10s %18s %18s %14s\n' seed hello_ms "bit/s/node" "pkt/s/node" \
    "idle_repair_p50" "idle_repair_p95" "flow_rep_p95"
for seed in "${seeds[@]}"; do
    for h in $hellos; do
        "$bin" sim --topology random --nodes 100 --loss 0.05 --seed "$seed" --hello-idle "$h" \
            --quiet --no-wall-clock --json |
            python3 -c '
import json, sys
r = json.load(sys.stdin)
f = lambda k: "-" if r[k] is None else "%.0f" % r[k]
print("%-6s %-9s %12s %10.2f %18s %18s %14s" % (sys.argv[1], sys.argv[2],
      f("control_bits_per_s_per_node"), r["control_packets_per_s_per_node"] or 0,
      f("route_repair_idle_ms_p50"), f("route_repair_idle_ms_p95"), f("route_repair_ms_p95")))
' "$seed" "$h"
    done
done
