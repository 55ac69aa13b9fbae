#!/usr/bin/env bash
# The dashboard under load (issue 7): headless Chromium on the page while
# spool-follow ingests RATES records/s for DURATION seconds; see
# benches/dashboard.py. Needs Debian's chromium, chromium-driver and
# python3-selenium (what .ci/run installs for the tests).
# Usage: bash benches/dashboard.sh            (RATES="10000 20000" DURATION=8)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p spool-server -p spool-benches
echo "machine: $(nproc) cores, $(uname -r); browser, daemon and producers on the same machine"
/usr/bin/python3 benches/dashboard.py --spool target/release/spool --follow target/release/spool-follow \
    --rates "${RATES:-10000 20000}" --seconds "${DURATION:-8}"
