"""Helpers for the monitoring tests: `printloop serve` and a real Prometheus server as child processes."""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import REPO


def promtool_check(text: str) -> subprocess.CompletedProcess[str]:
    """`promtool check metrics` (Prometheus' own linter) on an exposition text."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing (Debian package `prometheus`; make system installs it)"
    return subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30,
                          check=False)


def free_port() -> int:
    """A TCP port nobody listens on at the moment, on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes], what: str, timeout: float = 30.0) -> None:
    """Poll a URL until it answers 200; fail naming `what` (and its log) if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{what} did not answer {url} within {timeout:.0f} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after a few seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextmanager
def serving(config: Path, log: Path) -> Iterator[str]:
    """`printloop serve --config CONFIG` on a free loopback port; yields its base URL."""
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "controller", "serve", "--config", str(config),
                                 "--port", str(port)], cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{base}/health", proc, f"printloop serve (log in {log})")
        yield base
    finally:
        _stop(proc)


@contextmanager
def prometheus(target: str, folder: Path, jobs: dict[str, dict[str, str]], interval_ms: int = 500) -> Iterator[str]:
    """A real Prometheus server scraping `target` (host:port) every `interval_ms`, once per job (name -> URL
    parameters of its scrapes); yields its base URL."""
    binary = shutil.which("prometheus")
    assert binary, "the prometheus server is missing (Debian package `prometheus`; make system installs it)"
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["global:", f"  scrape_interval: {interval_ms}ms", f"  scrape_timeout: {interval_ms}ms",
             "scrape_configs:"]
    for name, params in jobs.items():
        lines += [f"  - job_name: {name}", "    static_configs:", f"      - targets: ['{target}']"]
        if params:
            lines.append("    params:")
            lines += [f"      {k}: ['{v}']" for k, v in params.items()]
    (folder / "prometheus.yml").write_text("\n".join(lines) + "\n")
    port = free_port()
    with open(folder / "prometheus.log", "wb") as out:
        proc = subprocess.Popen([binary, f"--config.file={folder / 'prometheus.yml'}",
                                 f"--storage.tsdb.path={folder / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                                 "--log.level=warn"], stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{base}/-/ready", proc, f"prometheus (log in {folder / 'prometheus.log'})")
        yield base
    finally:
        _stop(proc)


def targets(base: str) -> dict[str, dict]:
    """Prometheus' active scrape targets by job name (health up|down|unknown, lastError)."""
    r = httpx.get(f"{base}/api/v1/targets", timeout=5.0)
    r.raise_for_status()
    return {t["labels"]["job"]: t for t in r.json()["data"]["activeTargets"]}


def query(base: str, promql: str) -> list[dict]:
    """Run an instant PromQL query through Prometheus' HTTP API; returns the result vector."""
    r = httpx.get(f"{base}/api/v1/query", params={"query": promql}, timeout=5.0)
    r.raise_for_status()
    body = r.json()
    assert body["status"] == "success", body
    return list(body["data"]["result"])
