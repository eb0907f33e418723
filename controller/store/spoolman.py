"""Spoolman as the spool store: its REST API (`/api/v1/spool`, `/api/v1/filament`, `/api/v1/vendor`) behind the
same `SpoolStore` interface as printloop's own spools.

A Spoolman spool is a filament type (material, density, diameter, colour as `color_hex`, vendor) with a weight
used; printloop reads its remaining and initial weight, lot (`lot_nr`) and price, and reports use with
`PUT /api/v1/spool/{id}/use {"use_weight": g}`. A colour that is a hex code (`#1a2b3c`) is the filament's
`color_hex`; a colour name is the filament's name (Spoolman keeps colours as hex codes).
"""
from __future__ import annotations

import re
from typing import Any

import httpx

from controller.errors import ControllerError, NotFoundError
from controller.store.records import Spool
from controller.store.spools import NewSpool

_HEX = re.compile(r"^#?([0-9A-Fa-f]{6}|[0-9A-Fa-f]{8})$")


class SpoolmanError(ControllerError):
    """Spoolman did not answer, or refused what was asked."""


def spool_from(body: dict[str, Any]) -> Spool:
    """A Spoolman spool (its JSON) as printloop's record."""
    fil = body.get("filament") or {}
    initial = body.get("initial_weight") or fil.get("weight") or 0.0
    remaining = body.get("remaining_weight")
    if remaining is None:
        remaining = max(float(initial) - float(body.get("used_weight") or 0.0), 0.0)
    price = body.get("price") if body.get("price") is not None else fil.get("price")
    cost = float(price) / (float(initial) / 1000.0) if price is not None and initial else 0.0
    colour = f"#{fil['color_hex'].lower()}" if fil.get("color_hex") else (fil.get("name") or "")
    vendor = fil.get("vendor") or {}
    return Spool(int(body["id"]), fil.get("material") or "", vendor.get("name") or "", colour,
                 float(fil.get("diameter") or 0.0), float(fil.get("density") or 0.0), body.get("lot_nr") or "",
                 float(initial), float(remaining), round(cost, 4))


class SpoolmanSpools:
    """The spools of a Spoolman server at `url` (e.g. http://spoolman.lab:7912)."""

    def __init__(self, url: str, timeout_s: float = 5.0, transport: httpx.BaseTransport | None = None) -> None:
        """Talk to Spoolman's API under `url`/api/v1."""
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=f"{self.url}/api/v1", timeout=timeout_s, transport=transport)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None,
              params: dict[str, Any] | None = None) -> Any:
        """One request; a 404 is NotFoundError, anything else not 2xx (or no answer) SpoolmanError."""
        try:
            resp = self._http.request(method, path, json=body, params=params)
        except httpx.HTTPError as exc:
            raise SpoolmanError(f"Spoolman at {self.url} did not answer {method} {path}: {exc}") from None
        if resp.status_code == 404:
            raise NotFoundError(f"Spoolman at {self.url} has no {path.strip('/').replace('/', ' ')}")
        if resp.status_code >= 300:
            raise SpoolmanError(f"Spoolman at {self.url} refused {method} {path}: {resp.status_code} {resp.text[:200]}")
        return resp.json()

    def get(self, spool_id: int) -> Spool:
        """`GET /spool/{id}`."""
        return spool_from(self._call("GET", f"/spool/{spool_id}"))

    def list(self) -> list[Spool]:
        """`GET /spool` (archived spools are left out, as Spoolman does by default)."""
        return [spool_from(b) for b in self._call("GET", "/spool")]

    def use(self, spool_id: int, grams: float) -> Spool:
        """`PUT /spool/{id}/use {"use_weight": grams}`."""
        return spool_from(self._call("PUT", f"/spool/{spool_id}/use", {"use_weight": grams}))

    def add(self, new: NewSpool, t: float) -> Spool:
        """Add a spool: its vendor and filament type are found by their fields, or added, then the spool."""
        vendor_id = self._vendor(new.brand) if new.brand else None
        hex_code = _HEX.match(new.colour)
        fil: dict[str, Any] = {"material": new.material, "density": new.density, "diameter": new.diameter,
                               "weight": new.weight_g, "vendor_id": vendor_id,
                               "name": None if hex_code else (new.colour or None),
                               "color_hex": hex_code.group(1).upper() if hex_code else None}
        spool = {"filament_id": self._filament(fil), "lot_nr": new.lot or None,
                 "price": round(new.cost_per_kg * new.weight_g / 1000.0, 4)}
        return spool_from(self._call("POST", "/spool", {k: v for k, v in spool.items() if v is not None}))

    def _vendor(self, name: str) -> int:
        """The id of the vendor named `name` (added when Spoolman has none)."""
        for v in self._call("GET", "/vendor", params={"name": name}):
            if v.get("name") == name:
                return int(v["id"])
        return int(self._call("POST", "/vendor", {"name": name})["id"])

    def _filament(self, fields: dict[str, Any]) -> int:
        """The id of a filament type with exactly these fields (added when Spoolman has none)."""
        for f in self._call("GET", "/filament", params={"material": fields["material"]}):
            vendor_id = (f.get("vendor") or {}).get("id")
            same = all(f.get(k) == v for k, v in fields.items() if k != "vendor_id")
            if same and vendor_id == fields["vendor_id"]:
                return int(f["id"])
        return int(self._call("POST", "/filament", {k: v for k, v in fields.items() if v is not None})["id"])

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()
