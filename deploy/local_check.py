"""The deployment of deploy/compose.yaml without a container engine, on one machine: the same parts started for real.

    python deploy/local_check.py [--out /tmp/local-check]

What compose.yaml runs as containers, this starts as processes: a PostgreSQL (Debian's server binaries, a throwaway
one), a Ray head that is also the one measuring node (`{"measure": 1}`), two app replicas (`streamlit run`, each
with its own home and data folder) on that database and that cluster, and Caddy (Debian's `caddy`) in front of them
with deploy/Caddyfile's sticky-cookie policy. Then two students in one Chromium, landed on different replicas by
the proxy's cookie, do the same thing: the first trains and measures (on the Ray node), the second, on the other
replica, trains the same model and asks for the same measurement and is served the first one's figures through
the shared database, labelled with when and where they were measured. It prints what each saw and writes
screenshots; it exits 1 if a step did not happen. Not in CI (it needs caddy, and minutes).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.server import Server, free_port, start_server, stop_server, wait_healthy  # noqa: E402
from tests.service.board_kit import throwaway_postgres  # noqa: E402

CADDYFILE = ROOT / "deploy" / "Caddyfile"
# deploy/Caddyfile finds the replicas by the compose service's name; here they are two local ports.
DYNAMIC = re.compile(r"\n[ \t]*# every replica[^\n]*\n[ \t]*dynamic a \{.*?\}\n", re.S)
KEY = "local-check-presenter-key"


def local_caddyfile(port: int, upstreams: str) -> str:
    """deploy/Caddyfile as it is (its sticky cookie, retries, streaming), listening on `port` and proxying to
    `upstreams` instead of looking up the compose service."""
    text, found = DYNAMIC.subn(f"\n\t\tto {upstreams}\n", CADDYFILE.read_text(), count=1)
    if not found or ":80 {" not in text:
        raise SystemExit("deploy/Caddyfile no longer has ':80' and its 'dynamic a' block: update local_caddyfile")
    return text.replace(":80 {", f":{port} {{", 1)


def ray(*args: str) -> None:
    subprocess.run([str(Path(sys.executable).with_name("ray")), *args], check=True, capture_output=True)


def students(proxy: str, out: Path, replicas: dict[str, str]) -> int:
    from playwright.sync_api import expect, sync_playwright

    from tests.e2e.browse import go, open_app, screen, settle

    def on_other_replica(browser, taken: str | None):
        for _ in range(12):   # the proxy picks a replica for a new browser: a few tries land on the other one
            context = browser.new_context(viewport={"width": 1280, "height": 720})
            page = context.new_page()
            open_app(page, proxy)
            cookie = next((c["value"] for c in context.cookies() if c["name"] == "lab_replica"), None)
            if cookie is not None and cookie != taken:
                return context, page, cookie
            context.close()
        raise SystemExit("the proxy sent every new browser to the same replica")

    def train_and_measure(page, who: str) -> str:
        go(page, "Train", "Train a model")
        page.get_by_role("button", name="Train", exact=True).click()
        expect(page.get_by_text(re.compile(r"Training finished"))).to_be_visible(timeout=300_000)
        settle(page)
        go(page, "Compress & benchmark", "Compress & benchmark")
        page.get_by_role("button", name="Compress & measure", exact=True).click()
        expect(page.get_by_role("heading", name="Side by side")).to_be_visible(timeout=300_000)
        settle(page)
        screen(page, out, f"{who}-compress", "Side by side")
        return page.get_by_test_id("stMain").inner_text()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        a_context, a, a_cookie = on_other_replica(browser, None)
        b_context, b, b_cookie = on_other_replica(browser, a_cookie)
        print(f"student A's replica cookie {a_cookie[:12]}..., student B's {b_cookie[:12]}...")
        seen_a = train_and_measure(a, "student-a")
        seen_b = train_and_measure(b, "student-b")
        browser.close()
    measured = re.search(r"Measured on (Ray node \w+ \([^)]*\))", seen_a)
    served = re.search(r"These figures were measured on (.+?) at (\d\d:\d\d) for another session", seen_b)
    print("student A:", measured.group(0) if measured else "(no 'Measured on Ray node')")
    print("student B:", served.group(0) if served else "(not served from the shared results)")
    ok = bool(measured and served and measured.group(1) == served.group(1))
    print("replicas:", ", ".join(f"{name} {url}" for name, url in replicas.items()))
    print("PASS: B's replica served A's figures through the database, naming the node that measured them" if ok
          else "FAIL")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "local-check")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if shutil.which("caddy") is None:
        sys.exit("caddy is not installed (apt-get install caddy)")
    token = Path.home() / ".ray" / "auth_token"
    servers, caddy = [], None
    with throwaway_postgres() as url:
        if url is None:
            sys.exit("PostgreSQL's server is not installed (apt-get install postgresql)")
        ray("start", "--head", "--num-cpus=2", '--resources={"measure":1}', "--include-dashboard=false",
            "--disable-usage-stats")
        try:
            env = {"TRAIN_INFER_LAB_RAY_ADDRESS": "auto", "TRAIN_INFER_LAB_DATABASE_URL": url,
                   "TRAIN_INFER_LAB_PRESENTER_KEY": KEY, "RAY_AUTH_MODE": "token",
                   "RAY_AUTH_TOKEN_PATH": str(token)}   # the replicas' own homes have no ~/.ray
            for i in (1, 2):
                home = args.out / f"replica-{i}"
                home.mkdir(exist_ok=True)
                servers.append(start_server(home, env))
            for server in servers:
                wait_healthy(server, 120)
            port = free_port()
            upstreams = " ".join(s.url.removeprefix("http://") for s in servers)
            caddyfile, log = args.out / "Caddyfile", args.out / "caddy.log"
            caddyfile.write_text(local_caddyfile(port, upstreams))
            caddy = subprocess.Popen(["caddy", "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
                                     stdout=log.open("wb"), stderr=subprocess.STDOUT)
            proxy = f"http://127.0.0.1:{port}"
            wait_healthy(Server(caddy, proxy, log), 30)   # the app's health check, through the proxy
            return students(proxy, args.out, {f"replica-{i}": s.url for i, s in enumerate(servers, 1)})
        finally:
            if caddy is not None:
                caddy.terminate()
            for server in servers:
                stop_server(server)
            ray("stop")


if __name__ == "__main__":
    sys.exit(main())
