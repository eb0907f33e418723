"""The lab service's TOML config, validated with pydantic; every error names the offending key."""
from __future__ import annotations

import re
import secrets
import socket
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from controller.errors import ConfigError
from controller.store.records import Capabilities

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
API_KEY_FILE = "api_key"


def _simple_name(value: str) -> str:
    """Printer and host names appear in URLs and file names, so keep them to letters, digits, '.', '_' and '-'."""
    if not NAME_RE.match(value):
        raise ValueError("must be 1-64 characters of letters, digits, '.', '_' or '-'")
    return value


SimpleName = Annotated[str, AfterValidator(_simple_name)]


def _refuse_repeats(names: list[str], rule: str) -> None:
    """ValueError stating `rule` and the names given more than once, if any."""
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"{rule}; repeated: {', '.join(dupes)}")


class MaintenanceTaskConfig(BaseModel):
    """`[[printers.maintenance]]`: a task (e.g. "nozzle") due every so many print hours, filament metres, copies
    printed or failed copies since it was last done, whichever comes first."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: SimpleName
    every_hours: float | None = Field(default=None, gt=0, le=1e6)
    every_metres: float | None = Field(default=None, gt=0, le=1e9)
    every_jobs: int | None = Field(default=None, gt=0, le=10**9)
    every_failures: int | None = Field(default=None, gt=0, le=10**9)

    @model_validator(mode="after")
    def _some_interval(self) -> MaintenanceTaskConfig:
        """A task without an interval would never be due."""
        if self.limits() == {}:
            raise ValueError(f"task {self.task!r} needs at least one of every_hours, every_metres, every_jobs, "
                             "every_failures")
        return self

    def limits(self) -> dict[str, float]:
        """The intervals set, by counter name (hours, metres, jobs, failures)."""
        given = {"hours": self.every_hours, "metres": self.every_metres, "jobs": self.every_jobs,
                 "failures": self.every_failures}
        return {k: float(v) for k, v in given.items() if v is not None}


class PrinterConfig(BaseModel):
    """One printer: where it is plugged in, its camera, slicing profile, what to do when vision fails, and its
    maintenance tasks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: SimpleName
    port: str = Field(min_length=1)
    baud: int = Field(default=115200, gt=0)
    camera: str | None = None
    profile: str | None = None
    on_failure: Literal["pause", "cancel", "warn"] = "pause"
    # what it can make: the queue gives it only jobs whose requirements these meet (controller/farm/matching.py)
    nozzle: float | None = Field(default=None, gt=0, le=3)   # mm; default: the profile's nozzle_diameter, or 0.4
    materials: list[Annotated[str, Field(min_length=1, max_length=32)]] = Field(default_factory=list)  # [] = any
    tags: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list)
    bed: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]] | None \
        = None   # [x, y, z] mm of the print volume; default: the profile's bed_x, bed_y, bed_z
    maintenance: list[MaintenanceTaskConfig] = Field(default_factory=list)

    @property
    def capabilities(self) -> Capabilities:
        """The printer's capabilities as the store keeps them; nozzle and bed not given are its slicing profile's
        (nozzle_diameter; bed_x, bed_y, bed_z) when it has one that loads, else a 0.4 mm nozzle and no bed size."""
        nozzle, bed = self.nozzle, self.bed
        if (nozzle is None or bed is None) and self.profile:
            from slicing.errors import SlicingError
            from slicing.profile import load_profile
            try:
                prof = load_profile(self.profile)
                nozzle = nozzle if nozzle is not None else prof.nozzle_diameter
                bed = bed if bed is not None else (prof.bed_x, prof.bed_y, prof.bed_z)
            except (SlicingError, OSError):
                pass   # a profile that does not load is reported when a job is sliced with it
        return Capabilities(nozzle if nozzle is not None else 0.4, tuple(self.materials), tuple(self.tags), bed)

    @field_validator("maintenance")
    @classmethod
    def _unique_tasks(cls, value: list[MaintenanceTaskConfig]) -> list[MaintenanceTaskConfig]:
        """A service is logged by task name, so two tasks of a printer cannot share one."""
        _refuse_repeats([t.task for t in value], "maintenance task names must be unique per printer")
        return value


class MqttConfig(BaseModel):
    """`[mqtt]`: the broker printloop publishes to (mqtts:// for TLS), its credentials and the topic roots."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    broker: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password: str | None = None
    base_topic: str = Field(default="printloop", min_length=1)
    discovery_prefix: str = Field(default="homeassistant", min_length=1)
    public_url: str = "http://127.0.0.1:8000"
    client_id: str | None = None
    ca_file: Path | None = None
    temperature_interval_s: float = Field(default=1.0, ge=0)
    progress_interval_s: float = Field(default=2.0, gt=0)

    @field_validator("broker")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        """The broker is `mqtt://host[:port]` or `mqtts://host[:port]`; anything else is refused at start-up."""
        m = re.match(r"^mqtts?://[^\s/:]+(?::(\d{1,5}))?/?$", value)
        if not m or not 0 < int(m.group(1) or 1883) < 65536:
            raise ValueError("must look like mqtt://host:1883 or mqtts://host:8883")
        return value

    @field_validator("base_topic", "discovery_prefix")
    @classmethod
    def _topic_root(cls, value: str) -> str:
        """A topic root holds no wildcards and no leading or trailing '/'."""
        if any(c in value for c in "+#\0") or value.startswith("/") or value.endswith("/"):
            raise ValueError("must be a topic without '+', '#' or a leading or trailing '/'")
        return value

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        """Photo URLs are built on it, so it is an http(s) address without a trailing '/'."""
        if not re.match(r"^https?://\S+$", value):
            raise ValueError("must be the service's address as others reach it, like http://lab.local:8000")
        return value.rstrip("/")

    @property
    def tls(self) -> bool:
        """mqtts:// means TLS."""
        return self.broker.startswith("mqtts://")

    @property
    def host(self) -> str:
        """The broker's host name."""
        return self._address()[0]

    @property
    def port(self) -> int:
        """The broker's port (1883, or 8883 for TLS, unless given)."""
        return self._address()[1]

    def _address(self) -> tuple[str, int]:
        """Host and port out of the broker URL."""
        host, _, port = self.broker.split("://", 1)[1].rstrip("/").partition(":")
        return host, int(port) if port else (8883 if self.tls else 1883)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


class OpcUaConfig(BaseModel):
    """`[opcua]`: the OPC UA server's endpoint, who may call its methods, and where the companion NodeSets are."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: str = "opc.tcp://127.0.0.1:4840"
    users: dict[str, str] = Field(default_factory=dict)
    anonymous: Literal["read", "off"] = "read"
    nodesets: Path | None = None  # default: ../shared/standards/opcua beside the project

    @field_validator("endpoint")
    @classmethod
    def _loopback_only(cls, value: str) -> str:
        """Without certificates the server offers SecurityPolicy None, which is only safe on loopback."""
        if not value.startswith("opc.tcp://"):
            raise ValueError("must be an opc.tcp:// URL, e.g. opc.tcp://127.0.0.1:4840")
        host = value.removeprefix("opc.tcp://").split("/", 1)[0].rsplit(":", 1)[0]
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"SecurityPolicy None is only served on loopback ({', '.join(LOOPBACK_HOSTS[:3])}); "
                             f"got host {host!r}")
        return value

    @field_validator("users")
    @classmethod
    def _real_passwords(cls, value: dict[str, str]) -> dict[str, str]:
        """An empty password would let anyone with the name call the methods."""
        empty = sorted(name for name, password in value.items() if not password)
        if empty:
            raise ValueError(f"every user needs a password; empty for: {', '.join(empty)}")
        return value
class MetricsConfig(BaseModel):
    """`[metrics]`: Prometheus' /metrics on the API's port; public = readable without an API key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    public: bool = False


class MTConnectConfig(BaseModel):
    """`[mtconnect]`: the MTConnect agent at /mtconnect/*; public = readable without an API key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    public: bool = False
    buffer_size: int = Field(default=131072, ge=16, le=16_777_216)


NOTICE_KINDS = ("layer_failed", "paused", "job_done", "bed_waiting", "printer_offline", "printer_error", "runout",
                "awaiting_approval", "maintenance_due", "test")


class NotifyConfig(BaseModel):
    """One notification target: an Apprise URL (mailto://, ntfys://, slack://, tgram://, json://, ...), the event
    kinds it wants ("*" for all) and, if any, the only printers it cares about."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    url: str = Field(min_length=3, max_length=2048)
    events: list[str] = Field(default_factory=lambda: ["*"])
    printers: list[str] = Field(default_factory=list)

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: list[str]) -> list[str]:
        """A misspelt event name would silently never notify."""
        bad = [e for e in value if e != "*" and e not in NOTICE_KINDS]
        if bad:
            raise ValueError(f"unknown event {bad[0]!r}; use one of {', '.join(NOTICE_KINDS)} or \"*\"")
        return value


class WebhookConfig(NotifyConfig):
    """A webhook: the JSON body is POSTed to `url` and signed with HMAC-SHA256 of `secret` in
    X-Printloop-Signature."""

    secret: str = Field(min_length=8, max_length=512)


MATERIAL_DENSITY = {"PLA": 1.24, "PETG": 1.27, "ABS": 1.04, "ASA": 1.07, "TPU": 1.21, "PC": 1.20, "PA": 1.14}
"""g/cm³ of the common filaments, for a material whose density the config does not state."""


class CostsConfig(BaseModel):
    """What a part costs: the default filament (material, diameter, density, price per kg) and machine time."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    hourly_rate: float = Field(default=0.0, ge=0)              # per printer-hour, printing or failing
    filament_cost_per_kg: float = Field(default=0.0, ge=0)
    material: str = Field(default="PLA", min_length=1, max_length=32)
    diameter: float = Field(default=1.75, gt=0, le=5)          # mm
    density: float | None = Field(default=None, gt=0, le=5)    # g/cm³; None: MATERIAL_DENSITY[material]
    currency: str = Field(default="", max_length=8)

    @model_validator(mode="after")
    def _density_known(self) -> CostsConfig:
        """A material of unknown density would make every gram figure wrong without a word."""
        if self.density is None and self.material.upper() not in MATERIAL_DENSITY:
            raise ValueError(f"no density known for material {self.material!r}: set density (g/cm³) or use one "
                             f"of {', '.join(MATERIAL_DENSITY)}")
        return self

    @property
    def material_density(self) -> float:
        """The stated density, else the material's usual one."""
        return self.density or MATERIAL_DENSITY[self.material.upper()]


class ServiceConfig(BaseModel):
    """The whole service: data directory, database, API keys, upload limit and printers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: Path = Path("data")
    database_url: str | None = None
    api_keys: list[str] = Field(default_factory=list)
    max_upload_mb: float = Field(default=200.0, gt=0)
    default_profile: str | None = None
    temperature_interval_s: float = Field(default=5.0, gt=0)
    camera_clears_bed: bool = False
    require_approval: bool = False      # a submitter's job waits as awaiting_approval for an operator
    printers: list[PrinterConfig] = Field(default_factory=list)
    mqtt: MqttConfig | None = None
    opcua: OpcUaConfig | None = None
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    mtconnect: MTConnectConfig = Field(default_factory=MTConnectConfig)
    notify: list[NotifyConfig] = Field(default_factory=list)
    webhooks: list[WebhookConfig] = Field(default_factory=list)
    costs: CostsConfig = Field(default_factory=CostsConfig)
    # A farm of hosts on one database (PostgreSQL): this host's name, and how long a silent host keeps its runs.
    host_name: SimpleName = Field(default_factory=lambda: socket.gethostname().split(".")[0] or "printloop")
    host_timeout_s: float = Field(default=30.0, ge=1.0, le=3600.0)
    # Where a lab runs Spoolman, it is the spool store (http://host:7912); otherwise printloop keeps its own.
    spoolman_url: str | None = Field(default=None, pattern=r"^https?://\S+$")

    @field_validator("printers")
    @classmethod
    def _unique_names(cls, value: list[PrinterConfig]) -> list[PrinterConfig]:
        """Two printers with one name could not be told apart in the API."""
        _refuse_repeats([p.name for p in value], "printer names must be unique")
        return value

    @property
    def db_url(self) -> str:
        """The SQLAlchemy URL: the configured one, else a SQLite file in the data directory."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'printloop.db').resolve()}"

    def maintenance_of(self, printer: str) -> list[MaintenanceTaskConfig]:
        """The maintenance tasks configured for a printer ([] for one added through the API)."""
        return next((list(p.maintenance) for p in self.printers if p.name == printer), [])


def _describe(exc: ValidationError) -> str:
    """Turn pydantic's errors into one line per key, e.g. `printers[0].baud: must be > 0`."""
    parts = []
    for err in exc.errors():
        loc = ""
        for item in err["loc"]:
            loc += f"[{item}]" if isinstance(item, int) else (f".{item}" if loc else str(item))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling)"
        parts.append(f"{loc or 'config'}: {msg}")
    return "; ".join(parts)


def parse_config(data: dict, base_dir: Path | None = None) -> ServiceConfig:
    """Validate a config mapping; relative data_dir and profile paths are taken from base_dir."""
    try:
        cfg = ServiceConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    if base_dir is not None:
        printers = [
            p.model_copy(update={"profile": str(base_dir / p.profile)})
            if p.profile and not Path(p.profile).is_absolute() else p
            for p in cfg.printers
        ]
        update: dict = {"printers": printers}
        if not cfg.data_dir.is_absolute():
            update["data_dir"] = base_dir / cfg.data_dir
        if cfg.default_profile and not Path(cfg.default_profile).is_absolute():
            update["default_profile"] = str(base_dir / cfg.default_profile)
        if cfg.mqtt is not None and cfg.mqtt.ca_file is not None and not cfg.mqtt.ca_file.is_absolute():
            update["mqtt"] = cfg.mqtt.model_copy(update={"ca_file": base_dir / cfg.mqtt.ca_file})
        if cfg.opcua is not None and cfg.opcua.nodesets is not None and not cfg.opcua.nodesets.is_absolute():
            update["opcua"] = cfg.opcua.model_copy(update={"nodesets": base_dir / cfg.opcua.nodesets})
        cfg = cfg.model_copy(update=update)
    return cfg


def load_config(path: Path) -> ServiceConfig:
    """Read and validate a TOML config file."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    return parse_config(data, base_dir=Path(path).resolve().parent)


def ensure_api_key(cfg: ServiceConfig) -> tuple[ServiceConfig, str | None]:
    """Give a config without keys one generated key, kept in data_dir/api_key; return it if newly made."""
    if cfg.api_keys:
        return cfg, None
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    key_file = cfg.data_dir / API_KEY_FILE
    created = None
    if key_file.exists():
        key = key_file.read_text().strip()
    else:
        key = created = secrets.token_urlsafe(24)
        key_file.write_text(key + "\n")
        key_file.chmod(0o600)
    return cfg.model_copy(update={"api_keys": [key]}), created
