"""Print one `callsign sim --compare-babel --json` result as a table."""
import json
import sys

c = json.load(sys.stdin)
o, b = c["callsign"], c["babel_default"]
keys = ["converged_ms", "route_repair_ms_p50", "route_repair_ms_p95", "route_repair_idle_ms_p50",
        "route_repair_idle_ms_p95", "control_bits_per_s_per_node",
        "control_packets_per_s_per_node", "delivery_ratio",
        "loops_detected", "flood_rebroadcast_ratio", "flood_delivery_ratio",
        "name_propagation_ms_p50", "name_propagation_ms_p95", "name_probes_unresolved",
        "directory_refresh_bits_per_s_per_node", "directory_converged_ms",
        "command_holders_after_merge"]
print("seed %s: diameter %s hops, average degree %s" % (o["seed"], o["diameter_hops"], o["avg_degree"]))
for k in keys:
    print("  %-30s ours %10s   babel-default %10s" % (k, o[k], b[k]))
print("  %-30s %s" % ("route_repair_ratio_vs_babel", c["route_repair_ratio_vs_babel"]))
