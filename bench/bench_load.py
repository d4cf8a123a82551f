"""Load a real web server with a bounded number of requests: req/s, p50 and p95 per page.

    .venv/bin/python -m bench.bench_load [--requests 400] [--concurrency 4] [--port 8765]
                                         [--tool auto|ab|python]

Starts gunicorn on 127.0.0.1 (2 sync workers, `va_agency.wsgi`, `DEBUG=false`, persistent
database connections as in production, the database of DATABASE_URL) and sends each page
`--requests` requests, `--concurrency` at a time, signed in with a session cookie made
here: the page floor (bench/urls.py: sign-in, agency, scope, 204), the assistant's queue
dashboard, the client list and the task API list, on the "bench" agency. The load tool is
ApacheBench (`ab`, Debian's apache2-utils) when installed, otherwise a small keep-alive
client in this script with the same fixed concurrency and request count. Each page's
req/s is printed beside the floor's (x floor: how many floor answers one page costs).
Run `python -m bench.generate` first.
"""

import argparse
import http.client
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.bench_pages import cast_of, start_django
from bench.generate import BIG_SLUG

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Target:
    label: str
    url_name: str
    who: str  # a key of bench.bench_pages.cast_of()


TARGETS = [
    Target("floor: page (204)", "bench_floor", "admin"),
    Target("queue dashboard", "assistant_queue", "busy_assistant"),
    Target("client list", "client_list", "admin"),
    Target("API task list", "api:task-list", "admin"),
]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_load", description=__doc__)
    parser.add_argument("--requests", type=int, default=400, help="per page")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tool", choices=["auto", "ab", "python"], default="auto")
    args = parser.parse_args(argv)
    tool = args.tool
    if tool == "auto":
        tool = "ab" if shutil.which("ab") else "python"
    if tool == "ab" and not shutil.which("ab"):
        sys.exit("ab is missing: apt-get install apache2-utils (or --tool python)")

    start_django()
    from django.conf import settings
    from django.db import connection
    from django.urls import NoReverseMatch, reverse

    from accounts.models import Agency

    agency = Agency.objects.filter(slug=BIG_SLUG).first()
    if agency is None:
        sys.exit(f'No "{BIG_SLUG}" agency: run `python -m bench.generate` first.')
    cast = cast_of(agency)
    role = connection.settings_dict["USER"] or "(default)"
    print(
        f"database: {connection.vendor} {connection.settings_dict['NAME']} as {role}; "
        f"gunicorn, {args.workers} sync workers; {tool}: {args.requests} requests per page, "
        f"{args.concurrency} at a time\n",
        flush=True,
    )
    cookie_name = settings.SESSION_COOKIE_NAME
    plans = []
    for target in TARGETS:
        try:
            path = reverse(target.url_name, kwargs={"agency_slug": agency.slug})
        except NoReverseMatch:
            plans.append((target, None, "not available"))
            continue
        membership = cast.get(target.who)
        if membership is None:
            plans.append((target, None, "nobody to sign in as"))
            continue
        cookie = f"{cookie_name}={session_for(membership.user, agency)}"
        plans.append((target, (path, cookie), None))
    connection.close()  # the server's workers do the work from here on

    server = start_server(args.port, args.workers)
    try:
        results = []
        for target, request, note in plans:
            if request is None:
                results.append((target, {"note": note}))
                continue
            path, cookie = request
            try:
                check(args.port, path, cookie)
                run = run_ab if tool == "ab" else run_python
                results.append((target, run(args, path, cookie)))
            except Exception as error:  # one failing page must not stop the others
                results.append((target, {"note": f"error: {str(error)[:70]}"}))
            print(f"  {target.label}: done", flush=True)
        print_table(results)
    finally:
        stop_server(server)


def session_for(user, agency) -> str:
    """A session signed in as `user` that has been in `agency` before (so no request
    writes to it), stored where the server's workers find it."""
    from django.test import Client

    http = Client()
    http.force_login(user)
    session = http.session
    session["agency_slug"] = agency.slug
    session.save()
    return session.session_key


def start_server(port: int, workers: int) -> subprocess.Popen:
    env = os.environ | {"DEBUG": "false", "CONN_MAX_AGE": os.environ.get("CONN_MAX_AGE", "60")}
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "va_agency.wsgi:application",
        "--config",
        "python:bench.gunicorn_conf",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn stopped with status {server.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    stop_server(server)
    sys.exit("gunicorn did not answer /healthz within 60 s")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def check(port: int, path: str, cookie: str) -> None:
    """One request first: a page that refuses (a redirect to sign in, a 500) would
    otherwise be timed as a fast one."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request("GET", path, headers={"Cookie": cookie})
    response = connection.getresponse()
    response.read()
    if response.status not in (200, 204):
        raise RuntimeError(f"{path} answered {response.status}")


def run_ab(args, path: str, cookie: str) -> dict:
    command = [
        "ab",
        "-q",
        "-k",
        "-n",
        str(args.requests),
        "-c",
        str(args.concurrency),
        "-s",
        "120",
        "-H",
        f"Cookie: {cookie}",
        f"http://127.0.0.1:{args.port}{path}",
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    failed = int(re.search(r"Failed requests:\s+(\d+)", output)[1])
    non_2xx = re.search(r"Non-2xx responses:\s+(\d+)", output)
    return {
        "rps": float(re.search(r"Requests per second:\s+([\d.]+)", output)[1]),
        "p50": float(re.search(r"^\s+50%\s+(\d+)", output, re.M)[1]),
        "p95": float(re.search(r"^\s+95%\s+(\d+)", output, re.M)[1]),
        "failed": failed + (int(non_2xx[1]) if non_2xx else 0),
    }


def run_python(args, path: str, cookie: str) -> dict:
    """`--concurrency` threads, each on one kept-alive connection (opened again when the
    server closes it, as gunicorn's sync workers do after each answer), sharing
    `--requests` requests."""
    left = [args.requests]
    lock = threading.Lock()
    timings, failures = [], [0]

    def worker():
        connection = None
        while True:
            with lock:
                if left[0] == 0:
                    break
                left[0] -= 1
            started = time.perf_counter()
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=120)
                connection.request("GET", path, headers={"Cookie": cookie})
                response = connection.getresponse()
                response.read()
                ok = response.status in (200, 204)
                if response.will_close:
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException):
                ok = False
                connection = None
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                timings.append(elapsed)
                failures[0] += not ok

    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    timings.sort()
    return {
        "rps": len(timings) / wall,
        "p50": statistics.median(timings),
        "p95": timings[max(0, round(0.95 * len(timings)) - 1)],
        "failed": failures[0],
    }


def print_table(results) -> None:
    floor = next((r for t, r in results if t.url_name == "bench_floor" and "rps" in r), None)
    header = f"{'page':<20} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'failed':>7} {'x floor':>8}"
    print("\n" + header)
    print("-" * len(header))
    for target, result in results:
        if "note" in result:
            print(f"{target.label:<20} {result['note']:>42}")
            continue
        ratio = f"{floor['rps'] / result['rps']:>8.1f}" if floor else f"{'-':>8}"
        print(
            f"{target.label:<20} {result['rps']:>8.1f} {result['p50']:>8.0f} "
            f"{result['p95']:>8.0f} {result['failed']:>7} {ratio}"
        )
    print(
        "\nreq/s over the whole run; p50 and p95: milliseconds per request as the client saw"
        "\nit (queueing for a worker included); x floor: the floor's req/s over the page's"
    )


if __name__ == "__main__":
    main()
