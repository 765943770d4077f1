#!/usr/bin/env bash
# Print the mesh-core and directory acceptance figures (issues "The mesh
# core", points 1-2, and "The directory and trust", point 1): a 100-node
# random geometric mesh, handset radios, 5 % extra loss per link, our timers
# and RFC 8966 default timers side by side. Figures, not a pass/fail:
# tests/sim_acceptance.rs holds the thresholds
# (`cargo test --release --test sim_acceptance -- --ignored`).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./target/release/callsign
[ -x "$bin" ] || cargo build --release --quiet
# KILLS=20 kills 20 flow relays and 20 idle relays per run instead of 5 and
# 5: with 5, a p95 is the worst kill; with 20 it is a p95 (of a mesh that
# has lost 40 % of its nodes by the end, which the later figures show).
extra=()
if [ -n "${KILLS:-}" ]; then
    extra=(--kills "$KILLS" --idle-kills "$KILLS")
fi
for seed in 1 2 3 4 5; do
    "$bin" sim --topology random --nodes 100 --loss 0.05 --seed "$seed" --compare-babel --quiet --no-wall-clock --json "${extra[@]}" |
        python3 scripts/acceptance_table.py
done
