#!/usr/bin/env bash
# Stalls are not deaths (issue "Reliability", point 2), in one run per
# seed: the 100-node acceptance mesh (random, handset radios, 5 % extra
# loss) with a stall phase after the idle window (20 stalls each of 150,
# 300 and 500 ms on the quiet mesh), then the usual flows, relay kills,
# idle kills and directory phases. PASS needs no neighbour death from the
# stalls and the mesh-core targets of scripts/acceptance.sh: flow repair
# p95 <= 500 ms, idle repair p95 <= 5000 ms, delivery >= 0.999, name
# propagation p95 <= 1000 ms, no loop. The stall grace is off by default
# in the daemon (docs/ARCHITECTURE.md says why); this runs with it on
# (GRACE=550); GRACE=0 runs the same without it. Figures, not a gate.
#   scripts/stall_acceptance.sh [SEED ...]     (default: 1-5)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./target/release/callsign
[ -x "$bin" ] || cargo build --release --quiet
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(1 2 3 4 5)
extra=(--stall-grace "${GRACE:-550}")
for seed in "${seeds[@]}"; do
    "$bin" sim --topology random --nodes 100 --loss 0.05 --seed "$seed" --stalls 150,300,500 \
        --quiet --no-wall-clock --json "${extra[@]}" |
        python3 -c '
import json, sys
r = json.load(sys.stdin)
k = ["stall_neighbour_deaths_by_length", "stall_pairs_without_route_max", "route_repair_ms_p95",
     "route_repair_idle_ms_p95", "delivery_ratio", "name_propagation_ms_p95", "loops_detected",
     "control_bits_per_s_per_node"]
v = lambda x, none: none if r[x] is None else r[x]
ok = (r["stall_neighbour_deaths"] == 0 and v(k[2], 1e9) <= 500 and v(k[3], 1e9) <= 5000
      and v(k[4], 0) >= 0.999 and v(k[5], 1e9) <= 1000 and r[k[6]] == 0)
print("seed %-3s %s  %s" % (sys.argv[1], "PASS" if ok else "FAIL",
      "  ".join("%s=%s" % (x, r[x]) for x in k)))
' "$seed"
done
