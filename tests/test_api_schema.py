"""schemathesis drives every operation of the app's own /openapi.json with generated input, with a config key and
with each role's own key: no server errors."""
from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from controller.api.app import create_app
from controller.config import parse_config
from controller.farm.service import LabService
from controller.store import jobs, printers, users

KEY = "schema-key"
_DATA = Path(tempfile.mkdtemp(prefix="printloop-schema-"))
_SVC = LabService(parse_config({"data_dir": str(_DATA), "api_keys": [KEY], "max_upload_mb": 1.0,
                                "printers": [{"name": "mk3-a", "port": "/dev/null-a"}]}))
_f = jobs.add_file(_SVC.store, "seed.gcode", str(_DATA / "seed.gcode"), "gcode", 6, "0" * 64, 0.0)
jobs.create_job(_SVC.store, _f.id, "seed.gcode", 2, 0, 0.0, gcode_path=str(_DATA / "seed.gcode"), layer_count=1)
printers.add_temperature(_SVC.store, "mk3-a", 1.0, 200, 200, 60, 60)
_ROLE_KEYS = {role: users.create_user(_SVC.store, f"u-{role}", role, "schema password", 0.0)[1]
              for role in users.ROLES}
APP = create_app(_SVC, run_fleet=False)

schema = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(path="/api/v1/stream")


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case) -> None:
    case.call_and_validate(headers={"X-Api-Key": KEY}, checks=[not_a_server_error])



@schema.parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_with_each_roles_key(case: schemathesis.Case) -> None:
    for key in _ROLE_KEYS.values():
        case.call_and_validate(headers={"X-Api-Key": key}, checks=[not_a_server_error])
