#!/usr/bin/env bash
# A scheduled monitoring job (cron, a CI schedule, a systemd timer; docs/report.md, "A scheduled
# pipeline"): record the monitoring history, export the current figures for Prometheus, keep the
# report as an artifact, and page when a threshold is crossed.
#
#   exit 0  nothing crossed, no drift
#   exit 2  a threshold crossed or the cloud drifted: page someone (alerts.txt says what)
#   exit 1  ipamctl could not run (the state or the cloud could not be read)
#
# Settings: IPAM_WORKSPACE (the workspace folder, default .), OUT (where the files go, default .),
# TEXTFILE_DIR (node_exporter's --collector.textfile.directory; unset: metrics go to $OUT/ipam.prom),
# PUSHGATEWAY (e.g. http://pushgateway:9091; unset: nothing is pushed).
set -uo pipefail
ws="${IPAM_WORKSPACE:-.}"
out="${OUT:-.}"
prom="${TEXTFILE_DIR:-$out}/ipam.prom"

# 1. drift, recording this run's sample in the state backend's history (one sample per run)
ipamctl -C "$ws" drift --history --detailed-exitcode --json > "$out/drift.json"
drift=$?
# 2. the thresholds: exit 2 when a figure is above one; the JSON lists them under monitoring.alerts
ipamctl -C "$ws" report --json --detailed-exitcode > "$out/report.json"
report=$?
# 3. the current figures for Prometheus, written atomically (the textfile collector never reads half a file)
ipamctl -C "$ws" report --format openmetrics --out "$prom" || exit 1
if [ -n "${PUSHGATEWAY:-}" ]; then
    curl -sf --data-binary @"$prom" -H 'Content-Type: text/plain; version=0.0.4' \
        "$PUSHGATEWAY/metrics/job/ipamctl" || echo "warning: the push to $PUSHGATEWAY failed" >&2
fi
# 4. the page with the monitoring charts of every scope, for the job's artifacts
ipamctl -C "$ws" report --html "$out/report.html" > /dev/null || exit 1

if [ "$drift" = 1 ] || [ "$report" = 1 ]; then
    echo "error: ipamctl could not run (drift exit $drift, report exit $report)" >&2
    exit 1
fi
python3 -c 'import json, sys; [print(a["message"]) for a in json.load(open(sys.argv[1]))["monitoring"]["alerts"]]' \
    "$out/report.json" > "$out/alerts.txt"
[ "$drift" = 2 ] && echo "the cloud drifted from the recorded state (see drift.json)" >> "$out/alerts.txt"
if [ "$drift" = 2 ] || [ "$report" = 2 ]; then
    cat "$out/alerts.txt" >&2
    exit 2
fi
exit 0
