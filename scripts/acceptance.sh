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
for seed in 1 2 3 4 5; do
    "$bin" sim --topology random --nodes 100 --loss 0.05 --seed "$seed" --compare-babel --quiet --no-wall-clock --json |
        python3 scripts/acceptance_table.py
done
