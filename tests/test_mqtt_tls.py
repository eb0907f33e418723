"""`mqtts://` with a username and password: printloop reaches a Mosquitto broker that takes only TLS clients
with a password (certificates made here with openssl, the password file with mosquitto_passwd)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from controller.config import parse_config
from controller.farm.service import LabService
from controller.publish.wiring import attach_publishers
from tests.mqtt_rig import Broker, need_mosquitto
from tests.sim_rig import wait_for


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for localhost signed by it (openssl, a few hundred milliseconds)."""
    ca_key, ca, key, csr, cert = (folder / n for n in ("ca.key", "ca.pem", "server.key", "server.csr",
                                                       "server.pem"))
    ext = folder / "san.cnf"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for args in (["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2",
                  "-subj", "/CN=printloop test CA"],
                 ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=localhost"],
                 ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
                  "-days", "2", "-extfile", ext]):
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=30)
    return ca, cert, key


@pytest.fixture
def tls_broker(tmp_path: Path):  # type: ignore[no-untyped-def]
    need_mosquitto()
    ca, cert, key = _certificates(tmp_path)
    passwords = tmp_path / "passwords"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), "lab", "s3cret"], check=True, timeout=10)
    broker = Broker(tmp_path)
    broker.conf.write_text(f"listener {broker.port} 127.0.0.1\ncafile {ca}\ncertfile {cert}\nkeyfile {key}\n"
                           f"allow_anonymous false\npassword_file {passwords}\n{broker.common}")
    broker.start()
    yield broker, ca
    broker.stop()


def _sub(port: int, ca: Path, *auth: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mosquitto_sub", "-h", "localhost", "-p", str(port), "--cafile", str(ca), *auth,
                           "-t", "lab/status", "-C", "1", "-W", "5"], check=False, capture_output=True, text=True,
                          timeout=15)


def test_mqtts_with_a_password_reaches_a_broker_that_takes_nothing_else_and_a_stop_says_offline(tls_broker, tmp_path: Path) -> None:
    broker, ca = tls_broker
    cfg = parse_config({"data_dir": str(tmp_path / "data"), "api_keys": ["k"],
                        "mqtt": {"broker": f"mqtts://localhost:{broker.port}", "username": "lab",
                                 "password": "s3cret", "ca_file": str(ca), "base_topic": "lab"}})
    svc = attach_publishers(LabService(cfg))
    svc.start(0.2)
    try:
        wait_for(lambda: svc.publishers["mqtt"].connected, 15, "printloop connected over TLS")
        seen = _sub(broker.port, ca, "-u", "lab", "-P", "s3cret")
        assert seen.stdout.strip() == "online", seen.stderr
        refused = _sub(broker.port, ca)
        assert refused.returncode != 0 and refused.stdout == "", "anonymous clients are refused"
    finally:
        svc.stop()
    assert _sub(broker.port, ca, "-u", "lab", "-P", "s3cret").stdout.strip() == "offline", "said on a clean stop"
