"""`printloop serve`: the lab service (queue, API, dashboard) on one host and port."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from controller.config import ServiceConfig, ensure_api_key, load_config

# The serial pump threads wait for the GIL behind API work; a 1 ms switch interval (default 5 ms) keeps the link
# streaming at full rate under status-poll load (see bench/api_load.py).
SWITCH_INTERVAL_S = 0.001


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `serve` subcommand."""
    p = sub.add_parser("serve", help="run the web API, dashboard and job queue over the configured printers")
    p.add_argument("--config", type=Path, default=None, help="TOML config (printers, data_dir, api_keys)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    p.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the config, make a key on first start, then serve until interrupted."""
    import uvicorn

    from controller.api.app import create_app
    from controller.farm.service import LabService
    from controller.store.users import bootstrap_admin

    cfg = load_config(args.config) if args.config else ServiceConfig()
    cfg, created = ensure_api_key(cfg)
    if created:
        print(f"printloop serve: generated API key {created} (kept in {cfg.data_dir / 'api_key'})", flush=True)
    logging.basicConfig(level=args.log_level.upper())
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    service = LabService(cfg)
    first_admin = bootstrap_admin(service.store, service.clock())
    if first_admin is not None:
        print(f"printloop serve: first start: user admin created with password {first_admin[0]} and API key "
              f"{first_admin[1]} (shown this once; sign in at /)", flush=True)
    app = create_app(service)
    print(f"printloop serve: http://{args.host}:{args.port}/  ({len(cfg.printers)} printers, data in "
          f"{service.data_dir})", flush=True)
    if cfg.mqtt is not None:
        print(f"printloop serve: MQTT to {cfg.mqtt.broker} under {cfg.mqtt.base_topic}/, Home Assistant "
              f"discovery under {cfg.mqtt.discovery_prefix}/", flush=True)
    if cfg.opcua is not None:
        print(f"printloop serve: OPC UA on {cfg.opcua.endpoint} (machines under Objects/Machines; anonymous "
              f"{cfg.opcua.anonymous}, {len(cfg.opcua.users)} users may call Pause/Resume/Cancel)", flush=True)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, timeout_graceful_shutdown=5)
    finally:
        service.stop()
    return 0
