#!/usr/bin/env python3
"""Drives Spool's dashboard (GET /) in headless Chromium through chromedriver
(Selenium) and checks what a person would see.

Run by tests/dashboard.rs, which owns the daemon:

    dashboard.py --base http://127.0.0.1:PORT --artifacts DIR
                 [--chromium /usr/bin/chromium] [--chromedriver /usr/bin/chromedriver]

To restart the daemon it prints `CTL stop` or `CTL start [more serve
flags]` on stdout and reads one answer line on stdin (`ok`, or `err <why>`). Progress goes to
stderr. Exit status 0 when every check passed; 1 with a line starting with
`FAIL:` on stderr at the first one that did not (2 for a usage mistake).
Every wait is bounded (10 s unless said otherwise).
"""

import argparse
import base64
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

WAIT = 10.0


class Fail(Exception):
    pass


def log(*parts):
    print("dashboard.py:", *parts, file=sys.stderr, flush=True)


def check(cond, what):
    if not cond:
        raise Fail(what)


def wait_until(what, probe, timeout=WAIT, interval=0.05):
    """Polls probe() until it returns something truthy; returns it. On the
    deadline fails with `what` and the last value seen (probe may return a
    (ok, shown) pair to control what is shown)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        value = probe()
        ok, shown = value if isinstance(value, tuple) else (value, value)
        if ok:
            return shown
        last = shown
        if time.monotonic() > deadline:
            raise Fail(f"{what}: not within {timeout:.0f} s; last seen: {last!r}")
        time.sleep(interval)


class Daemon:
    """HTTP to the daemon under test, and the restart requests to the Rust
    test that runs it."""

    def __init__(self, base):
        self.base = base.rstrip("/")
        self.netloc = urllib.parse.urlsplit(self.base).netloc

    def ingest(self, records):
        """POSTs records (dicts) as one JSON array; returns their ids."""
        body = json.dumps(records).encode()
        req = urllib.request.Request(
            self.base + "/ingest", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=WAIT) as r:
            answer = json.load(r)
        check(answer.get("status") == "accepted", f"ingest answer {answer}")
        if "id" in answer:
            first = last = int(answer["id"])
        else:
            first, last = int(answer["first_id"]), int(answer["last_id"])
        check(last - first + 1 == len(records), f"ingest answer {answer} for {len(records)} records")
        return [str(i) for i in range(first, last + 1)]

    def put_rules(self, rules):
        """PUT /alerts/rules; the answer must be 200."""
        req = urllib.request.Request(
            self.base + "/alerts/rules", data=json.dumps(rules).encode(), method="PUT",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=WAIT) as r:
            check(r.status == 200, f"PUT /alerts/rules answered {r.status}")

    def oldest_id(self):
        """Where the log now begins (`oldest_id` of a /logs answer)."""
        with urllib.request.urlopen(self.base + "/logs?limit=1", timeout=WAIT) as r:
            return json.load(r)["oldest_id"]

    def control(self, command):
        print(f"CTL {command}", flush=True)
        answer = sys.stdin.readline().strip()
        check(answer == "ok", f"the test answered {answer!r} to {command!r}")


class Page:
    def __init__(self, driver):
        self.d = driver

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def rows(self, list_id="records"):
        """(id, level, message) of each row, top to bottom."""
        return [
            tuple(r)
            for r in self.js(
                "return [...document.querySelectorAll('#' + arguments[0] + ' > .row')]"
                ".map(r => [r.dataset.id, r.dataset.level, r.querySelector('.msg').textContent])",
                list_id,
            )
        ]

    def ids(self, list_id="records"):
        return [r[0] for r in self.rows(list_id)]

    def text(self, css):
        return self.js("const e = document.querySelector(arguments[0]); return e ? e.textContent : null", css)

    def status(self):
        return self.text("#status") or ""

    def wait_live(self, what):
        wait_until(f"{what}: #status says live", lambda: ("live" in self.status(), self.status()))

    def set_input(self, css, value):
        el = self.d.find_element(By.CSS_SELECTOR, css)
        el.clear()
        if value:
            el.send_keys(value)
        # `change` applies the filter at once (typing alone waits 400 ms).
        self.js("arguments[0].dispatchEvent(new Event('change', {bubbles: true}))", el)

    def counter(self, name):
        return self.js("return window.spoolDashboard[arguments[0]]", name)


def expect_ids(page, expected, what, list_id="records"):
    """Waits until the list's rows are exactly `expected` (newest first)."""
    wait_until(what, lambda: (page.ids(list_id) == expected, page.ids(list_id)[:12]))


def newest_first(ids):
    return sorted(ids, key=int, reverse=True)


def network_hosts(page, seen):
    """Every URL the browser requested (performance log) and every resource
    the page loaded (Resource Timing), gathered into `seen`."""
    for entry in page.d.get_log("performance"):
        try:
            msg = json.loads(entry["message"])["message"]
        except (KeyError, ValueError):
            continue
        params = msg.get("params", {})
        if msg.get("method") == "Network.requestWillBeSent":
            seen.add(params.get("request", {}).get("url", ""))
        elif msg.get("method") == "Network.webSocketCreated":
            seen.add(params.get("url", ""))
    for name in page.js("return performance.getEntriesByType('resource').map(e => e.name)"):
        seen.add(name)
    return seen


def check_network(page, daemon, seen):
    network_hosts(page, seen)
    foreign = sorted(
        u for u in seen if not u.startswith("data:") and urllib.parse.urlsplit(u).netloc != daemon.netloc
    )
    check(not foreign, f"the page reached beyond the daemon ({daemon.netloc}): {foreign}")
    check(any("/ws?" in u for u in seen), f"no WebSocket to /ws among the requests: {sorted(seen)}")


def console_errors(page, allowed=()):
    bad = []
    for e in page.d.get_log("browser"):
        if e.get("level") != "SEVERE":
            continue
        if any(a in e.get("message", "") for a in allowed):
            continue
        bad.append(e.get("message"))
    return bad


def settle(page):
    """Returns after two animation frames: layout, and the rows that came
    into view rendered (off-screen rows skip rendering until then)."""
    page.d.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "requestAnimationFrame(() => requestAnimationFrame(() => done()));"
    )


def screenshot(page, path, width=None):
    """A PNG of the whole page (beyond the viewport), at `width` CSS pixels
    as a phone shows it when given."""
    d = page.d
    page.js("window.scrollTo(0, 0); for (const l of document.querySelectorAll('.records')) l.scrollTop = 0;")
    settle(page)
    if width:
        d.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 800, "deviceScaleFactor": 2, "mobile": True},
        )
        time.sleep(0.6)  # the chart redraws at its new width
        settle(page)
        scroll = page.js("return [document.documentElement.scrollWidth, window.innerWidth]")
        check(scroll[0] <= scroll[1], f"horizontal page scroll at {width} px: scrollWidth, innerWidth = {scroll}")
    size = d.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = d.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    with open(path, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    if width:
        d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        time.sleep(0.3)
    log("screenshot", path)


SERVICES = ["payments", "auth", "search", "mailer"]
PRE_LEVELS = ["INFO", "DEBUG", "WARN", "ERROR", "TRACE", "INFO"]


def run(args):
    daemon = Daemon(args.base)
    seen_urls = set()

    # 1. Records stored before the page opens, including hostile markup.
    pre = []
    for i in range(30):
        rec = {
            "level": PRE_LEVELS[i % len(PRE_LEVELS)],
            "service": SERVICES[i % len(SERVICES)],
            "message": f"pre-{i:02} order {1000 + i} processed",
            "metadata": {"n": i, "user": f"user-{i % 7}"},
        }
        pre.append(rec)
    pre[7]["message"] = 'pre-07 <img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
    pre[8]["message"] = "pre-08 a\nmultiline message\twith a tab"
    pre[11]["message"] = "pre-11 payment timeout after 30 s"
    pre[11]["service"] = "payments"
    pre_ids = daemon.ingest(pre)
    levels = {i: r["level"] for i, r in zip(pre_ids, pre)}
    services = {i: r["service"] for i, r in zip(pre_ids, pre)}
    messages = {i: r["message"] for i, r in zip(pre_ids, pre)}

    opts = webdriver.ChromeOptions()
    opts.binary_location = args.chromium
    for a in [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--disable-crash-reporter",
        "--disable-breakpad",
    ]:
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=args.chromedriver), options=opts)
    try:
        driver.set_page_load_timeout(WAIT)
        driver.set_script_timeout(WAIT)
        page = Page(driver)
        driver.get(daemon.base + "/")
        check(driver.title == "Spool", f"title {driver.title!r}")

        expected = newest_first(pre_ids)
        expect_ids(page, expected, "1. records stored before the page opened, newest first")
        for rid, level, msg in page.rows():
            check(level == levels[rid], f"row {rid}: data-level {level!r}, stored {levels[rid]!r}")
            check(msg == messages[rid], f"row {rid}: message {msg!r}, stored {messages[rid]!r}")
        check(page.js("return window.__xss") is None, "record markup ran as script")
        check(
            page.js("return document.querySelectorAll('#records img, #records script').length") == 0,
            "record markup became elements",
        )
        log("1. ok:", len(pre_ids), "stored records shown in order; markup shown as text")

        # 2. Records stored after the page opened arrive over /ws.
        page.wait_live("2. after the first load")
        live = daemon.ingest(
            [{"level": lv, "service": "live", "message": f"live-{k} arrives over the socket"}
             for k, lv in enumerate(["INFO", "WARN", "ERROR", "CRITICAL", "DEBUG"])]
        )
        for rid, lv in zip(live, ["INFO", "WARN", "ERROR", "CRITICAL", "DEBUG"]):
            levels[rid], services[rid] = lv, "live"
        expected = newest_first(live) + expected
        expect_ids(page, expected, "2. records stored after the page opened appear live, on top")
        check(page.counter("duplicates") == 0, "the socket repeated a record")
        log("2. ok: live records on top, in order")

        # Clicking a row shows its metadata.
        row = f'#records .row[data-id="{pre_ids[3]}"]'
        driver.find_element(By.CSS_SELECTOR, row + " .msg").click()
        detail = wait_until("a clicked row shows its metadata", lambda: page.text(row + " .detail"))
        check('"user": "user-3"' in detail, f"metadata in the detail: {detail!r}")
        driver.find_element(By.CSS_SELECTOR, row + " .msg").click()
        wait_until("a second click hides the metadata", lambda: page.text(row + " .detail") is None)

        # Pause: records keep arriving and are counted, not rendered.
        driver.find_element(By.ID, "pause").click()
        held = daemon.ingest([{"level": "WARN", "service": "auth", "message": f"held-{k}"} for k in range(3)])
        for rid in held:
            levels[rid], services[rid] = "WARN", "auth"
        wait_until("paused: #pending counts 3 new", lambda: ("3 new" in (page.text("#pending") or ""), page.text("#pending")))
        check(page.ids() == expected, f"paused, yet the list changed: {page.ids()[:8]}")
        driver.find_element(By.ID, "pause").click()
        expected = newest_first(held) + expected
        expect_ids(page, expected, "resumed: the held records are rendered")
        check((page.text("#pending") or "") == "", "pending count cleared on resume")
        log("pause/resume ok")

        # The chart has bars, the stats panel the daemon's counters.
        wait_until(
            "the records/s chart draws bars for the live records",
            lambda: page.js(
                "const c = document.getElementById('chart'), g = c.getContext('2d');"
                "const d = g.getImageData(0, 0, c.width, c.height).data; let n = 0;"
                "for (let i = 0; i < d.length; i += 4) if (d[i] > 150 && d[i + 2] < 120) n++;"  # red/amber bars
                "return n > 20;"
            ),
        )
        total = len(pre_ids) + len(live) + len(held)
        wait_until(
            "/stats panel shows total_processed",
            lambda: (page.text('#stats dd[data-stat="total_processed"]') == str(total),
                     page.text('#stats dd[data-stat="total_processed"]')),
        )
        check(page.text('#stats dd[data-stat="last_id"]') == held[-1], "stats last_id")
        check("no alerts" in (page.text("#alerts") or ""), "the alerts panel says no alerts")
        log("chart, stats, alerts panel ok")

        # Search with paging: 30 "pre-" records, pages of 20.
        page.set_input("#search-q", "pre-")
        Select(driver.find_element(By.ID, "search-limit")).select_by_value("20")
        driver.find_element(By.ID, "search-go").click()
        expect_ids(page, newest_first(pre_ids)[:20], "search: first page", "search-results")
        more = driver.find_element(By.ID, "search-more")
        check(more.is_displayed(), "an Older button after a full page")
        more.click()
        expect_ids(page, newest_first(pre_ids), "search: the older page appended", "search-results")
        wait_until("search: no Older button at the end", lambda: not more.is_displayed())
        page.set_input("#search-q", "TIMEOUT")
        driver.find_element(By.ID, "search-qi").click()
        page.set_input("#search-since", "not a time")
        driver.find_element(By.ID, "search-go").click()
        wait_until("search: a refused parameter is shown", lambda: "since" in (page.text("#search-error") or ""))
        page.set_input("#search-since", "2000-01-01T00:00:00Z")
        driver.find_element(By.ID, "search-go").click()
        expect_ids(page, [pre_ids[11]], "search: qi (ignoring case) with since", "search-results")
        log("search ok")

        check_network(page, daemon, seen_urls)
        # The browser logs the deliberate 400 above; nothing else may be there.
        errors = console_errors(page, allowed=("since=not%20a%20time",))
        check(not errors, f"console errors: {errors}")
        log("5. ok: requests only to", daemon.netloc, "and no console error")

        screenshot(page, f"{args.artifacts}/dashboard.png")
        screenshot(page, f"{args.artifacts}/dashboard-phone.png", width=375)

        # 3. Level filter: ERROR and above, server-side.
        Select(driver.find_element(By.ID, "level")).select_by_value("ERROR")
        severe = lambda: newest_first(i for i, lv in levels.items() if lv in ("ERROR", "CRITICAL"))
        expect_ids(page, severe(), "3. level ERROR: the stored ERROR (and CRITICAL) records only")
        page.wait_live("3. after the filter change")
        new = daemon.ingest(
            [
                {"level": "INFO", "service": "payments", "message": "filtered-out info"},
                {"level": "WARN", "service": "payments", "message": "filtered-out warn"},
                {"level": "ERROR", "service": "payments", "message": "kept error"},
            ]
        )
        for rid, lv in zip(new, ["INFO", "WARN", "ERROR"]):
            levels[rid], services[rid] = lv, "payments"
        expect_ids(page, severe(), "3. new ERROR records appear, INFO and WARN do not")
        check(all(r[1] in ("ERROR", "CRITICAL") for r in page.rows()), f"levels shown: {page.rows()}")
        log("3. ok: level filter")

        # Service and text filters, combined with the level.
        page.set_input("#service", "payments")
        want = [i for i in severe() if services[i] == "payments"]
        expect_ids(page, want, "service filter payments (with level ERROR)")
        page.set_input("#text", "kept")
        expect_ids(page, [new[2]], "text filter 'kept' (with service and level)")
        # Nothing matches: the stream starts after the last stored id, so
        # the first match to come still shows.
        page.set_input("#text", "needle-later")
        expect_ids(page, [], "text filter matching nothing yet")
        page.wait_live("a filter that matches nothing yet")
        needle = daemon.ingest([{"level": "ERROR", "service": "payments", "message": "a needle-later arrives"}])
        levels[needle[0]], services[needle[0]] = "ERROR", "payments"
        expect_ids(page, needle, "the first record matching a filter that matched nothing")
        page.set_input("#text", "")
        page.set_input("#service", "")
        expect_ids(page, severe(), "filters cleared but level")
        page.wait_live("before the restart")
        log("service and text filters ok")

        # 4. The daemon restarts; the page reconnects by itself and goes on
        # from the last record it had: no duplicate, no gap.
        daemon.control("stop")
        wait_until("4. the page notices the daemon stopped", lambda: ("reconnecting" in page.status(), page.status()))
        daemon.control("start")
        # Stored right away, most likely before the page reconnects.
        after = daemon.ingest(
            [
                {"level": "ERROR", "service": "auth", "message": "after restart 1"},
                {"level": "INFO", "service": "auth", "message": "after restart, filtered out"},
                {"level": "ERROR", "service": "auth", "message": "after restart 2"},
            ]
        )
        for rid, lv in zip(after, ["ERROR", "INFO", "ERROR"]):
            levels[rid], services[rid] = lv, "auth"
        page.wait_live("4. reconnected after the restart")
        expect_ids(page, severe(), "4. records stored after the restart appear once each")
        more_after = daemon.ingest([{"level": "CRITICAL", "service": "auth", "message": "after reconnect"}])
        levels[more_after[0]] = "CRITICAL"
        expect_ids(page, severe(), "4. and records stored after the reconnection")
        ids = page.ids()
        check(len(ids) == len(set(ids)), f"duplicate ids among the rows: {ids}")
        check(page.counter("duplicates") == 0, "the socket repeated a record after the restart")
        log("4. ok: reconnected; no duplicate, no gap")

        # 4b. Retention deletes records the page has not read while it is
        # away: it shows a separator naming them and goes on. The browser is
        # taken offline (DevTools) so the page cannot reconnect until the
        # daemon, restarted with a small --retention-bytes, has deleted them.
        last = page.counter("lastId")
        check(last == severe()[0], f"the page's last id {last!r}, expected {severe()[0]}")
        offline = {"latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", dict(offline, offline=True))
        daemon.control("stop")
        wait_until("4b. the page notices the daemon stopped", lambda: ("reconnecting" in page.status(), page.status()))
        daemon.control("start --retention-bytes 256KiB")
        pad = "x" * 300
        for batch in range(6):
            ids = daemon.ingest(
                [{"level": "INFO", "service": "bulk", "message": f"bulk {batch}-{k} {pad}"} for k in range(500)]
            )
            for rid in ids:
                levels[rid] = "INFO"
        oldest = wait_until(
            "4b. retention deletes the records after the page's last id",
            lambda: (lambda o: (int(o) > int(last) + 1, o))(daemon.oldest_id()),
        )
        tail = daemon.ingest([{"level": "ERROR", "service": "auth", "message": "after the gap"}])
        levels[tail[0]] = "ERROR"
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", dict(offline, offline=False))
        page.wait_live("4b. reconnected after the records were deleted")
        expect_ids(page, severe(), "4b. the record after the deletion appears")
        gap = wait_until("4b. a separator row names the deleted ids", lambda: page.text("#records > .gap"))
        first_child, second_child = page.js(
            "const c = document.getElementById('records').children;"
            "return [c[0].dataset.id || c[0].className, c[1].dataset.id || c[1].className]"
        )
        check(
            (first_child, second_child) == (tail[0], "gap"),
            f"the separator sits between the new record and the older ones: {first_child}, {second_child}",
        )
        lo, hi = [int(x) for x in gap.split()[1].split("–")] if "–" in gap else (None, None)
        check(
            lo == int(last) + 1 and int(oldest) - 1 <= hi < int(tail[0]),
            f"separator {gap!r}: expected records {int(last) + 1}–(at least {int(oldest) - 1})",
        )
        ids = page.ids()
        check(len(ids) == len(set(ids)), f"duplicate ids among the rows: {ids}")
        check(page.counter("duplicates") == 0, "the socket repeated a record after the gap")
        log(f"4b. ok: {gap!r}")

        # 4c. The data directory is replaced while the page is away: the
        # new log's ids start again at 1, below the last id shown. The page
        # must notice and show the new log's records, not wait until the
        # ids pass its last one and skip those before.
        daemon.control("stop")
        wait_until("4c. the page notices the daemon stopped", lambda: ("reconnecting" in page.status(), page.status()))
        daemon.control("wipe")
        daemon.control("start")
        fresh = daemon.ingest([{"level": "ERROR", "service": "auth", "message": f"new log {k}"} for k in range(3)])
        page.wait_live("4c. reconnected to the replaced log")
        wait_until(
            "4c. the replaced log's records are shown",
            lambda: (page.ids()[:3] == list(reversed(fresh)), page.ids()[:5]),
        )
        note = page.text("#live-note") or ""
        check("the log now ends at id" in note, f"4c. the page says why it starts over: {note!r}")
        log("4c. ok: a replaced log is shown from its start")

        # 6. An alert: shown in the panel, its triggering records highlighted.
        daemon.put_rules({"rules": [{
            "name": "Disk trouble", "level": "CRITICAL", "service": "db", "pattern": "DISK",
            "ignore_case": True, "threshold": 3, "window": "1m",
        }]})
        others = daemon.ingest([
            {"level": "CRITICAL", "service": "web", "message": "disk full"},  # another service
            {"level": "ERROR", "service": "db", "message": "disk slow"},  # below CRITICAL
        ])
        trig = daemon.ingest([{"level": "CRITICAL", "service": "db", "message": f"Disk {k} failing"}
                              for k in range(3)])
        wait_until("6. the alerts panel shows the alert",
                   lambda: ("Disk trouble" in (page.text("#alerts") or ""), page.text("#alerts")))
        wait_until("6. the triggering records are shown", lambda: (set(trig) <= set(page.ids()), page.ids()[:8]))
        marked = page.js("return [...document.querySelectorAll('#records > .row.trig')].map(r => r.dataset.id)")
        check(sorted(marked) == sorted(trig), f"6. highlighted rows {marked}, triggering records {trig} (not {others})")
        check(f"(ids {trig[0]} to {trig[-1]})" in (page.text("#alerts") or ""), "6. the alert names its ids")
        page.js("document.querySelector('#alerts li[data-rule]').click()")
        check(page.js("return document.querySelector('#alerts li.active') !== null"), "6. clicking the alert selects it")
        screenshot(page, f"{args.artifacts}/dashboard-alert.png")
        # A page opened later lists the stored alert (GET /alerts), once.
        driver.refresh()
        page.wait_live("6. after a reload")
        wait_until("6. after a reload the panel lists the stored alert",
                   lambda: ((page.text("#alerts") or "").count("Disk trouble:") == 1, page.text("#alerts")))
        marked = page.js("return [...document.querySelectorAll('#records > .row.trig')].map(r => r.dataset.id)")
        check(sorted(marked) == sorted(trig), f"6. after a reload, highlighted rows {marked}, triggering {trig}")
        log("6. ok: the alert is shown and its records highlighted")

        check_network(page, daemon, seen_urls)
        # While the daemon was down or the browser offline, connections
        # failed: the browser logs those, and nothing else may be there.
        errors = console_errors(
            page,
            allowed=(
                "ERR_CONNECTION_REFUSED",
                "WebSocket connection to",
                "ERR_CONNECTION_RESET",
                "ERR_EMPTY_RESPONSE",
                "ERR_INTERNET_DISCONNECTED",
            ),
        )
        check(not errors, f"console errors: {errors}")
        log("5. ok after the restart too")
    finally:
        try:
            driver.quit()
        except Exception as e:  # the browser may already be gone
            log("driver.quit:", e)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True)
    ap.add_argument("--artifacts", required=True)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    args = ap.parse_args()
    try:
        run(args)
    except Fail as e:
        print(f"FAIL: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
    except Exception as e:  # Selenium or HTTP trouble: still a clear failure
        print(f"FAIL: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
    log("all checks passed")


if __name__ == "__main__":
    main()
