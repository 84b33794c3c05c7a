#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""kura-console in a real browser (issue 14), against a real kura-targetd.

Headless Chromium (Debian chromium + chromium-driver, python3-selenium)
logs in through the form, sees the dashboard with the LUN and the pool,
creates a volume through the form and finds it both in the page and with
`kura-targetctl volume list`, opens the LUN charts (uPlot) and finds the
history kura-console sampled before the page was opened, sees two
kura-lockd hosts and a VM lease in the cluster view and the alert when one
host dies, watches the rebuild progress bar of an array move after a
member is failed and a spare added, and saves a screenshot of each page
under build/tests/console/screenshots/. Then, without the
browser: a request without a session is refused (401), a form post without
(or with a wrong) CSRF token is refused (403), /metrics wants the bearer
token and passes promtool, five wrong passwords make the next login wait
(429), and the console killed with -9 and restarted leaves the target
serving. Exits 77 with the reason when something it needs is missing.
"""
import http.cookiejar
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

BUILD = os.environ.get("KURA_BUILD") or os.path.join(os.path.dirname(__file__), "../../build")
TARGETD = os.path.join(BUILD, "target/kura-targetd")
CONSOLE = os.path.join(BUILD, "console/kura-console")
CTL = os.path.join(BUILD, "tools/kura-targetctl")
LOCKD = os.path.join(BUILD, "cluster-lock/kura-lockd")
LOCKCTL = os.path.join(BUILD, "cluster-lock/kura-lockctl")
IQN = "iqn.2026-11.org.kura:console"
CL_IQN = "iqn.2026-12.org.kura:console-cluster"
SHOTS = os.path.join(BUILD, "tests/console/screenshots")
PROCS = []
GROUPS = []  # started in their own process group, stopped as a group
FAILS = []


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


def log(msg):
    print("[console_browser %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def check(what, ok):
    log(("ok: " if ok else "NOT OK: ") + what)
    if not ok:
        FAILS.append(what)


def free_port():
    """A free port below the ephemeral range (as tests/integration/lib.sh)."""
    lo = 32768
    try:
        lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except OSError:
        pass
    for _ in range(200):
        p = random.randint(10000, lo - 1)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
            return p
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port")


def wait_for(cond, seconds, what):
    end = time.time() + seconds
    while time.time() < end:
        try:
            v = cond()
            if v:
                return v
        except Exception:  # the page or daemon is not there yet
            pass
        time.sleep(0.2)
    raise TimeoutError(what)


def start(args, logf):
    p = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT)
    PROCS.append(p)
    return p


def ctl(sock, *words):
    return subprocess.run([CTL, "-s", sock] + list(words), capture_output=True, text=True,
                          timeout=30)


class Https:
    """urllib with the console's self-signed certificate and a cookie jar."""

    def __init__(self, base):
        self.base = base
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.jar = http.cookiejar.CookieJar()
        self.op = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx),
                                              urllib.request.HTTPCookieProcessor(self.jar),
                                              NoRedirect())

    def req(self, path, data=None, headers=None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        r = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        try:
            with self.op.open(r, timeout=30) as f:
                return f.status, f.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


def write_conf(d, port):
    with open(os.path.join(d, "kura.conf"), "w") as f:
        f.write("""[portal main]
address = 127.0.0.1:%d
[raid r1]
level = 1
members = r1a.img, r1b.img
member_size = 96M
create = yes
rebuild_rate = 1M
[pool p]
data = p.data
size = 64M
meta = p.meta
[target %s]
[lun 0]
backend = memory
size = 64M
[target %s]
[lun 0]
backend = memory
size = 16M
[lun 1]
backend = memory
size = 16M
""" % (port, IQN, CL_IQN))


def cluster_start(d, port, logf):
    """Two kura-lockd hosts hv1 and hv2 on this machine, made as
    tests/cluster/cluster_lib.sh's cl_config, cl_format and cl_host_start
    make them (bash functions a python test cannot call): the HA LUN is LUN
    0 of CL_IQN, vm1's disk its LUN 1, and vm1's QEMU a stand-in that sleeps
    (qemu_binary, as test_i8_lost_caw.sh does): the page shows the lease.
    Returns {host: (process, control socket)}."""
    cd = os.path.join(d, "cluster")
    os.makedirs(cd)
    fake = os.path.join(cd, "fake-qemu")
    with open(fake, "w") as f:
        f.write("#!/bin/sh\nexec sleep 100000\n")
    os.chmod(fake, 0o755)
    conf = os.path.join(cd, "cluster.conf")
    url = "iscsi://127.0.0.1:%d/%s/" % (port, CL_IQN)
    with open(conf, "w") as f:
        f.write("[cluster]\nname = console-test\nha_lun = %s0\nheartbeat_interval = 0.5\n"
                "fail_after = 4\nqemu_binary = %s\n" % (url, fake))
        for i in (1, 2):
            f.write("[host hv%d]\nid = %d\ninitiator = iqn.2026-12.org.kura:hv%d\n"
                    "address = 127.0.0.1\nsocket = %s/hv%d.sock\nstate_dir = %s/hv%d\n"
                    % (i, i, i, cd, i, cd, i))
        f.write("[vm vm1]\ndisks = %s1\nqemu = -nographic\nha = no\n" % url)
    r = subprocess.run([LOCKCTL, "-c", conf, "format", "--force"], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("kura-lockctl format: " + r.stdout + r.stderr)
    hosts = {}
    for h in ("hv1", "hv2"):
        os.makedirs(os.path.join(cd, h))
        sk = os.path.join(cd, h + ".sock")
        hosts[h] = (start([LOCKD, "-c", conf, "--host", h, "--foreground"], logf), sk)
        wait_for(lambda: os.path.exists(sk), 15, "kura-lockd %s's socket" % h)
    r = subprocess.run([LOCKCTL, "-c", conf, "--host", "hv1", "start", "vm1"],
                       capture_output=True, text=True, timeout=60)
    check("kura-lockctl --host hv1 start vm1 (%s)" % (r.stdout + r.stderr).strip(),
          r.returncode == 0)
    return hosts


def io_loop(port):
    """Small reads and writes on LUN 0 every second: the charts have a shape."""
    url = "iscsi://127.0.0.1:%d/%s/0" % (port, IQN)
    sh = ("while :; do timeout --foreground 20 qemu-img bench -f raw -t none -c 300 -d 2 -s 4096 %s; "
          "timeout --foreground 20 qemu-img bench -w -f raw -t none -c 150 -d 2 -s 4096 %s; sleep 1; done"
          % (url, url))
    # its own process group: the end of the test stops the loop and its
    # qemu-img (a qemu-img whose target is gone retries for ever)
    p = subprocess.Popen(["bash", "-c", sh], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    GROUPS.append(p)
    return p


def browser(url):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        skip("python3-selenium not installed (scripts/install-deps.sh)")
    drv = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not os.path.exists(drv):
        skip("chromium-driver not installed (scripts/install-deps.sh)")
    o = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--ignore-certificate-errors", "--window-size=1400,1000"):
        o.add_argument(a)
    try:
        d = webdriver.Chrome(service=Service(drv), options=o)
    except Exception as e:  # no display, no sandbox rights, broken install
        skip("chromium cannot start: %s" % str(e).splitlines()[0])
    d.set_page_load_timeout(30)
    return d


def shot(d, name):
    os.makedirs(SHOTS, exist_ok=True)
    d.save_screenshot(os.path.join(SHOTS, name + ".png"))


def text_of(d, sel):
    return d.find_element("css selector", sel).text


def browser_part(d, base, sock, hosts):
    from selenium.webdriver.support.ui import Select
    d.get(base + "/")
    wait_for(lambda: "/login" in d.current_url, 15, "redirect to /login")
    shot(d, "login")
    d.find_element("id", "user").send_keys("admin")
    d.find_element("id", "password").send_keys("correct horse 1")
    d.find_element("id", "login").click()
    wait_for(lambda: d.execute_script("return document.body.dataset.loaded") == "1", 20,
             "dashboard loaded")
    luns = text_of(d, "#luns")
    check("the dashboard lists LUN 0 of %s" % IQN, IQN in luns and " 0 " in " " + luns + " ")
    check("the dashboard lists pool p with its usage bar",
          re.search(r"\bp\s+[\d.]+% of 64\.0 MiB", text_of(d, "#pools")) is not None)
    check("the dashboard shows array r1 clean", "clean" in text_of(d, "#arrays"))
    shot(d, "dashboard")

    d.get(base + "/#storage")
    wait_for(lambda: d.execute_script("return document.body.dataset.loaded") == "1", 20,
             "storage view loaded")
    f = d.find_element("id", "volume-create")
    wait_for(lambda: [o.text for o in Select(f.find_element("name", "pool")).options] == ["p"],
             10, "pool choices")
    f.find_element("name", "id").send_keys("7")
    f.find_element("name", "size").send_keys("16M")
    f.find_element("css selector", "button").click()
    res = wait_for(lambda: d.find_element("id", "result").text, 20, "form result")
    check("the form says the volume was created (%s)" % res.strip(), "created" in res)
    vols = wait_for(lambda: re.search(r"^p 7 16\.0 MiB", text_of(d, "#volumes"), re.M), 15,
                    "volume 7 in the table")
    check("volume 7 appears in the page's volume table", vols is not None)
    out = ctl(sock, "volume", "list", "p", "--json")
    ids = [v["id"] for v in json.loads(out.stdout)] if out.returncode == 0 else []
    check("kura-targetctl volume list p shows volume 7", 7 in ids)
    shot(d, "storage")
    d.get(base + "/#access")
    time.sleep(0.5)
    shot(d, "access")
    charts_part(d, base)
    cluster_part(d, base, hosts)
    rebuild_part(d, base, sock, hosts)


def charts_part(d, base):
    """A page opened now shows the history kura-console sampled before."""
    d.get("about:blank")
    d.get(base + "/#luns")
    wait_for(lambda: d.execute_script("return document.body.dataset.loaded") == "1", 20,
             "charts view loaded")
    card = "#chart-" + re.sub(r"[^A-Za-z0-9]", "_", IQN + "|0")
    try:
        pts = int(wait_for(lambda: d.find_element("css selector", card), 10, "LUN 0's charts")
                  .get_attribute("data-points") or 0)
    except TimeoutError:
        log("browser log: %s" % d.get_log("browser"))
        log("page: %s" % d.execute_script(
            "return JSON.stringify(Object.keys(S.hist)) + ' since ' + S.since"))
        log("history: %s" % d.execute_async_script(
            "const cb = arguments[0]; fetch('/api/history').then(r => r.text()).then(cb)")[:600])
        raise
    check("LUN 0's charts show %d points sampled before the page was opened (>= 5)" % pts,
          pts >= 5)
    check("three uPlot charts per LUN",
          len(d.find_elements("css selector", card + " .uplot")) == 3)
    iops = d.execute_script("const h = S.hist[arguments[0]]; return h ? Math.max(...h.iops) : 0",
                            IQN + "|0")
    check("the IOPS chart saw the qemu-img bench loop (peak %.0f IOPS)" % iops, iops > 0)
    time.sleep(1.5)
    shot(d, "charts")


def cluster_part(d, base, hosts):
    d.get(base + "/#cluster")
    wait_for(lambda: d.execute_script("return document.body.dataset.loaded") == "1", 20,
             "cluster view loaded")
    txt = wait_for(lambda: (lambda t: "vm1" in t and t)(text_of(d, "#cluster")), 15,
                   "the cluster view")
    views = d.find_elements("css selector", "#cluster .card")
    check("one view per kura-lockd socket (%d)" % len(views), len(views) == 2)
    for v in views:
        t = v.text
        check("%s: hv1 and hv2 alive with an incarnation" % t.splitlines()[0],
              re.search(r"^hv1( \(this host\))? 1 alive \d+ [\d.]+ s ago no$", t, re.M) and
              re.search(r"^hv2( \(this host\))? 2 alive \d+ [\d.]+ s ago no$", t, re.M))
        check("%s: vm1's lease held by hv1, lver >= 1, running" % t.splitlines()[0],
              re.search(r"^vm1 hv1 [1-9]\d* running - no", t, re.M))
    check("the Cluster tab is shown", d.find_element("id", "nav-cluster").is_displayed())
    shot(d, "cluster")
    hosts["hv2"][0].kill()  # a host dies; hv1 notices within fail_after (4 s)


def rebuild_part(d, base, sock, hosts):
    d.get(base + "/#dashboard")
    check("raid fail r1 1", ctl(sock, "raid", "fail", "r1", "1").returncode == 0)
    alert = wait_for(lambda: "Array r1 is degraded" in text_of(d, "#alerts"), 15,
                     "the degraded alert")
    check("the dashboard's alert names the degraded array", alert)
    shot(d, "degraded")
    check("raid add-spare r1 spare.img",
          ctl(sock, "raid", "add-spare", "r1", "spare.img").returncode == 0)
    seen = set()

    def progress():
        m = re.search(r"rebuild (\d+)%", text_of(d, "#arrays"))
        if m:
            seen.add(int(m.group(1)))
            if len(seen) == 1:
                shot(d, "rebuild")
        return len(seen) >= 2
    try:
        wait_for(progress, 40, "two rebuild percentages")
    except TimeoutError:
        pass
    check("the rebuild progress bar moved (%s)" % sorted(seen), len(seen) >= 2)
    try:
        dead = wait_for(lambda: re.search(r"Cluster: host hv2 is (dead|fenced)", text_of(d, "#alerts")),
                        30, "the cluster alert")
    except TimeoutError:
        dead = None
    check("the dashboard alerts that host hv2 is dead / fenced (%s)" % (dead and dead.group(0)),
          dead)
    check("the dashboard alerts that hv2's kura-lockd does not answer",
          "hv2.sock: kura-lockd does not answer" in text_of(d, "#alerts"))
    shot(d, "cluster-alert")


def http_part(base, token, sock):
    h = Https(base)
    st, _ = h.req("/api/luns")
    check("GET /api/luns without a session: 401 (%d)" % st, st == 401)
    for api in ("/api/history", "/api/cluster"):
        st, _ = h.req(api)
        check("GET %s without a session: 401 (%d)" % (api, st), st == 401)
    st, _ = h.req("/api/action", {"action": "volume_create", "pool": "p", "id": "9", "size": "8M"})
    check("POST /api/action without a session: 401 (%d)" % st, st == 401)
    st, page = h.req("/login")
    tok = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
    st, _ = h.req("/login", {"csrf": tok, "user": "admin", "password": "correct horse 1"})
    check("login over HTTPS: 303 (%d)" % st, st == 303)
    st, body = h.req("/api/history")
    lun0 = [x for x in json.loads(body)["luns"] if x["target"] == IQN and x["lun"] == "0"] \
        if st == 200 else []
    check("GET /api/history: LUN 0 with points and the same count in every series",
          lun0 and len(lun0[0]["t"]) >= 5 and
          len({len(lun0[0][k]) for k in ("t", "iops", "mibs", "lat_ms")}) == 1)
    st, _ = h.req("/api/action", {"action": "volume_create", "pool": "p", "id": "9", "size": "8M"})
    check("a form without the CSRF token is refused: 403 (%d)" % st, st == 403)
    st, _ = h.req("/api/action", {"action": "volume_create", "pool": "p", "id": "9",
                                  "size": "8M", "csrf": "0" * 64})
    check("a form with a wrong CSRF token is refused: 403 (%d)" % st, st == 403)
    check("volume 9 was not created",
          9 not in [v["id"] for v in json.loads(ctl(sock, "volume", "list", "p", "--json").stdout)])
    st, _ = h.req("/metrics")
    check("GET /metrics without the bearer token: 401 (%d)" % st, st == 401)
    st, text = h.req("/metrics", headers={"Authorization": "Bearer " + token})
    check("GET /metrics with the token: 200 (%d)" % st, st == 200)
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True)
    check("promtool check metrics on the console's /metrics: clean (%s)" %
          (p.stdout + p.stderr).strip(), p.returncode == 0 and not (p.stdout + p.stderr).strip())
    rate_limit_part(base)


def rate_limit_part(base):
    h = Https(base)
    codes = []
    for _ in range(6):
        st, page = h.req("/login")
        tok = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
        st, _ = h.req("/login", {"csrf": tok, "user": "admin", "password": "wrong password"})
        codes.append(st)
    check("five wrong passwords: 401, then the sixth attempt must wait: 429 (%s)" % codes,
          codes[:5] == [401] * 5 and codes[5] == 429)


def main():
    for exe in (TARGETD, CONSOLE, CTL, LOCKD, LOCKCTL):
        if not os.access(exe, os.X_OK):
            skip("%s not built" % exe)
    if not shutil.which("promtool"):
        skip("promtool not installed (package prometheus, scripts/install-deps.sh)")
    d = tempfile.mkdtemp(prefix="kura-it-console-browser.")
    data = os.path.join(d, "data")
    os.makedirs(data)
    port, cport = free_port(), free_port()
    write_conf(d, port)
    sock = os.path.join(data, "kura-targetd.sock")
    logf = open(os.path.join(d, "log"), "w")
    drv = None
    try:
        tgt = start([TARGETD, "--foreground", "--data-dir", data, "-c", os.path.join(d, "kura.conf")], logf)
        wait_for(lambda: ctl(sock, "list", "luns").returncode == 0, 30, "kura-targetd up")
        token = "t0ken-" + "%032x" % random.getrandbits(128)
        with open(os.path.join(d, "token"), "w") as f:
            f.write(token + "\n")
        subprocess.run([CONSOLE, "--add-user", "admin", "--state-dir", os.path.join(d, "console")],
                       input="correct horse 1\n", text=True, check=True, capture_output=True)
        hosts = cluster_start(d, port, logf)
        io_loop(port)
        cargs = [CONSOLE, "--listen", "127.0.0.1:%d" % cport, "--socket", sock, "--state-dir",
                 os.path.join(d, "console"), "--metrics-token-file", os.path.join(d, "token"),
                 "--sample-interval", "1"]
        for h in sorted(hosts):
            cargs += ["--lockd-socket", hosts[h][1]]
        con = start(cargs, logf)
        base = "https://127.0.0.1:%d" % cport
        wait_for(lambda: Https(base).req("/login")[0] == 200, 20, "kura-console up")
        drv = browser(base)
        browser_part(drv, base, sock, hosts)
        drv.quit()
        drv = None
        http_part(base, token, sock)
        con.send_signal(signal.SIGKILL)
        con.wait()
        check("kura-console killed: the target still answers",
              tgt.poll() is None and ctl(sock, "list", "luns").returncode == 0)
        start(cargs, logf)
        st = wait_for(lambda: Https(base).req("/metrics", headers={"Authorization": "Bearer " + token})[0] == 200,
                      20, "kura-console restarted")
        check("kura-console restarted serves /metrics again", st)
        tgt.send_signal(signal.SIGTERM)
        check("kura-targetd exits 0 on SIGTERM", tgt.wait(timeout=20) == 0)
    except TimeoutError as e:
        FAILS.append("timed out waiting for " + str(e))
        log("NOT OK: timed out waiting for %s" % e)
    finally:
        for p in GROUPS:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        if drv:
            drv.quit()
        for p in PROCS:
            if p.poll() is None:
                p.kill()
                p.wait()
        logf.close()
        if FAILS:
            print("---- last 40 lines of the log ----")
            print("".join(open(os.path.join(d, "log")).readlines()[-40:]))
        shutil.rmtree(d, ignore_errors=True)
    print("%d failed" % len(FAILS))
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()
