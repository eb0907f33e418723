"""The lab service's TOML config, validated with pydantic; every error names the offending key."""
from __future__ import annotations

import re
import secrets
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from controller.errors import ConfigError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
API_KEY_FILE = "api_key"


class PrinterConfig(BaseModel):
    """One printer: where it is plugged in, its camera, slicing profile and what to do when vision fails."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    port: str = Field(min_length=1)
    baud: int = Field(default=115200, gt=0)
    camera: str | None = None
    profile: str | None = None
    on_failure: Literal["pause", "cancel", "warn"] = "pause"

    @field_validator("name")
    @classmethod
    def _name_is_simple(cls, value: str) -> str:
        """Names appear in URLs and file names, so keep them to letters, digits, '.', '_' and '-'."""
        if not NAME_RE.match(value):
            raise ValueError("must be 1-64 characters of letters, digits, '.', '_' or '-'")
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
    printers: list[PrinterConfig] = Field(default_factory=list)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    mtconnect: MTConnectConfig = Field(default_factory=MTConnectConfig)

    @field_validator("printers")
    @classmethod
    def _unique_names(cls, value: list[PrinterConfig]) -> list[PrinterConfig]:
        """Two printers with one name could not be told apart in the API."""
        names = [p.name for p in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"printer names must be unique; repeated: {', '.join(dupes)}")
        return value

    @property
    def db_url(self) -> str:
        """The SQLAlchemy URL: the configured one, else a SQLite file in the data directory."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'printloop.db').resolve()}"


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
