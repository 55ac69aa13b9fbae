"""The dashboard under load: does the page keep up, and stay responsive?

Starts the daemon (a fresh data directory, a free loopback port), opens the
dashboard in headless Chromium (chromedriver, Selenium), then has
`spool-follow` ingest RATE records/s (paced NDJSON, no followers of its
own) for SECONDS, while the page counts animation frames. Reports, per
rate: records acknowledged, records the page received, frames per second,
and the longest gap between two frames (a frame held up by rendering).

    bash benches/dashboard.sh                  # RATES="10000 20000" SECONDS=8

Run with Debian's /usr/bin/python3 (python3-selenium, chromium,
chromium-driver). Everything runs on this machine: the browser, the
daemon and the producers share its cores.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

FRAME_PROBE = """
window.__probe = {frames: 0, worst: 0, last: performance.now()};
(function tick(t) {
  const p = window.__probe;
  p.frames++;
  p.worst = Math.max(p.worst, t - p.last);
  p.last = t;
  requestAnimationFrame(tick);
})(performance.now());
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_ready(base, limit=10):
    deadline = time.time() + limit
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the daemon did not become ready")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spool", required=True)
    ap.add_argument("--follow", required=True, help="the spool-follow binary")
    ap.add_argument("--rates", default="10000 20000")
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="spool-dashboard-bench.")
    daemon = driver = None
    try:
        for rate in [int(r) for r in args.rates.split()]:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            data = os.path.join(work, f"data-{rate}")
            daemon = subprocess.Popen(
                [args.spool, "--listen", f"127.0.0.1:{port}", "--data-dir", data],
                stderr=subprocess.DEVNULL,
            )
            wait_ready(base)
            opts = webdriver.ChromeOptions()
            opts.binary_location = args.chromium
            for a in ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"):
                opts.add_argument(a)
            driver = webdriver.Chrome(service=Service(args.chromedriver), options=opts)
            driver.get(base + "/")
            deadline = time.time() + 10
            while "live" not in (driver.execute_script("return document.getElementById('status').textContent") or ""):
                if time.time() > deadline:
                    raise SystemExit("the page did not go live")
                time.sleep(0.05)
            driver.execute_script(FRAME_PROBE)
            t0 = time.time()
            out = subprocess.run(
                [args.follow, "--addr", f"127.0.0.1:{port}", "--followers", "0",
                 "--rate", str(rate), "--seconds", str(args.seconds), "--producers", "8"],
                capture_output=True, text=True, check=False,
            ).stdout
            result = json.loads(next(l for l in out.splitlines() if l.startswith("RESULT ")).split(" ", 1)[1])
            # Let the page drain what is in flight (at most 3 s).
            acked = result["records"]
            deadline = time.time() + 3
            while time.time() < deadline:
                if driver.execute_script("return window.spoolDashboard.received") >= acked:
                    break
                time.sleep(0.1)
            elapsed = time.time() - t0
            probe = driver.execute_script("return window.__probe")
            received = driver.execute_script("return window.spoolDashboard.received")
            dups = driver.execute_script("return window.spoolDashboard.duplicates")
            print(
                f"{rate:>6} records/s for {args.seconds} s: acknowledged {acked:,}, the page received "
                f"{received:,} ({100 * received / max(acked, 1):.1f}%), duplicates {dups}; "
                f"{probe['frames'] / elapsed:.0f} frames/s, longest frame gap {probe['worst']:.0f} ms",
                flush=True,
            )
            driver.quit()
            driver = None
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(30)
            daemon = None
    finally:
        if driver is not None:
            driver.quit()
        if daemon is not None:
            daemon.kill()
            daemon.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
