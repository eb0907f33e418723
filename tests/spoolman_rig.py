"""A small Spoolman server for tests: the vendor, filament and spool endpoints of Spoolman's REST API (v1) over real
HTTP, with its JSON shapes and rules (remaining = initial − used, `use` adds to used_weight and never below 0, 404
for a missing id, 400 for both or neither of use_weight/use_length, fields that are None left out)."""
from __future__ import annotations

import json
import math
import re
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlparse


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class SpoolmanState:
    """What the server holds: vendors, filaments and spools by id."""

    def __init__(self) -> None:
        self.vendors: dict[int, dict[str, Any]] = {}
        self.filaments: dict[int, dict[str, Any]] = {}
        self.spools: dict[int, dict[str, Any]] = {}
        self.uses: list[tuple[int, float]] = []
        self.lock = threading.Lock()

    def filament_json(self, fid: int) -> dict[str, Any]:
        f = dict(self.filaments[fid])
        vid = f.pop("vendor_id", None)
        if vid is not None:
            f["vendor"] = self.vendors[vid]
        return {k: v for k, v in f.items() if v is not None}

    def spool_json(self, sid: int) -> dict[str, Any]:
        s = dict(self.spools[sid])
        fil = self.filaments[s["filament_id"]]
        initial = s.get("initial_weight") or fil.get("weight")
        area_mm2 = math.pi * (fil["diameter"] / 2) ** 2
        per_mm = fil["density"] / 1000.0 * area_mm2          # g per mm of filament
        s["filament"] = self.filament_json(s.pop("filament_id"))
        s["initial_weight"] = initial
        s["used_length"] = s["used_weight"] / per_mm
        if initial is not None:
            s["remaining_weight"] = max(initial - s["used_weight"], 0.0)
            s["remaining_length"] = s["remaining_weight"] / per_mm
        return {k: v for k, v in s.items() if v is not None}


class _Handler(BaseHTTPRequestHandler):
    state: SpoolmanState

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"{}")

    def _route(self, method: str) -> None:
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        st = self.state
        with st.lock:
            m = re.fullmatch(r"/api/v1/(vendor|filament|spool)(?:/(\d+))?(/use)?", url.path)
            if m is None:
                return self._send(404, {"detail": "Not Found"})
            kind, key, use = m.group(1), int(m.group(2)) if m.group(2) else None, bool(m.group(3))
            table = {"vendor": st.vendors, "filament": st.filaments, "spool": st.spools}[kind]
            if key is not None and key not in table:
                return self._send(404, {"message": f"No {kind} with ID {key} found."})
            if method == "GET" and key is None:
                return self._send(200, self._find(kind, q))
            if method == "GET":
                return self._send(200, self._one(kind, key))
            if method == "POST" and key is None:
                return self._create(kind, self._body())
            if method == "PUT" and kind == "spool" and use and key is not None:
                return self._use(key, self._body())
            return self._send(405, {"detail": "Method Not Allowed"})

    def _one(self, kind: str, key: int) -> dict[str, Any]:
        st = self.state
        if kind == "spool":
            return st.spool_json(key)
        return st.filament_json(key) if kind == "filament" else st.vendors[key]

    def _find(self, kind: str, q: dict[str, str]) -> list[dict[str, Any]]:
        st = self.state
        if kind == "vendor":
            term = q.get("name", "").lower()
            return [v for v in st.vendors.values() if term in v["name"].lower()]
        if kind == "filament":
            term = q.get("material", "").lower()
            return [st.filament_json(i) for i, f in st.filaments.items() if term in (f.get("material") or "").lower()]
        return [st.spool_json(i) for i, s in st.spools.items() if not s["archived"]]

    def _create(self, kind: str, body: dict[str, Any]) -> None:
        st = self.state
        if kind == "vendor":
            if not body.get("name"):
                return self._send(422, {"detail": [{"loc": ["body", "name"], "msg": "field required"}]})
            vid = len(st.vendors) + 1
            st.vendors[vid] = {"id": vid, "registered": _now(), "name": body["name"], "extra": {}}
            return self._send(200, st.vendors[vid])
        if kind == "filament":
            missing = [k for k in ("density", "diameter") if not body.get(k)]
            if missing:
                return self._send(422, {"detail": [{"loc": ["body", k], "msg": "field required"} for k in missing]})
            fid = len(st.filaments) + 1
            st.filaments[fid] = {"id": fid, "registered": _now(), "extra": {}, **{k: body.get(k) for k in (
                "name", "vendor_id", "material", "price", "density", "diameter", "weight", "color_hex")}}
            return self._send(200, st.filament_json(fid))
        if body.get("filament_id") not in st.filaments:
            return self._send(422, {"detail": [{"loc": ["body", "filament_id"], "msg": "field required"}]})
        if body.get("remaining_weight") is not None and body.get("used_weight") is not None:
            return self._send(400, {"message": "Only specify either remaining_weight or used_weight."})
        sid = len(st.spools) + 1
        st.spools[sid] = {"id": sid, "registered": _now(), "filament_id": body["filament_id"],
                          "price": body.get("price"), "lot_nr": body.get("lot_nr"), "used_weight": 0.0,
                          "archived": bool(body.get("archived", False)), "extra": {}}
        return self._send(200, st.spool_json(sid))

    def _use(self, sid: int, body: dict[str, Any]) -> None:
        weight, length = body.get("use_weight"), body.get("use_length")
        if weight is not None and length is not None:
            return self._send(400, {"message": "Only specify either use_weight or use_length."})
        if weight is None and length is None:
            return self._send(400, {"message": "Either use_weight or use_length must be specified."})
        st = self.state
        if weight is None:
            fil = st.filaments[st.spools[sid]["filament_id"]]
            weight = length * fil["density"] / 1000.0 * math.pi * (fil["diameter"] / 2) ** 2
        spool = st.spools[sid]
        spool["used_weight"] = max(spool["used_weight"] + float(weight), 0.0)
        st.uses.append((sid, float(weight)))
        return self._send(200, st.spool_json(sid))

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PUT(self) -> None:
        self._route("PUT")


class SpoolmanServer:
    """The server on a loopback port, in a thread; `url` is what printloop's `spoolman_url` takes."""

    def __init__(self) -> None:
        self.state = SpoolmanState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
