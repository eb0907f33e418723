"""The MQTT publisher: a subscriber of the event bus that mirrors every printer onto a broker with paho-mqtt.

Events arrive on the bus subscriber's own thread (a printer never waits on it); paho's network thread owns the
socket, reconnects with backoff (1 s doubling to 8 s) and, on each (re)connect, announces `<base>/status`
`online` (the connection's last will says `offline`), subscribes to the command topics and republishes the
Home Assistant discovery and every retained state. While the broker is away nothing is queued: messages are
dropped and counted, and the retained state is what the broker gets back. A ticker thread samples progress and
printer states; a worker thread carries out commands, so a command waiting on the fleet never holds the
network loop. Topics and payloads are in `mqtt_topics`, discovery in `mqtt_discovery`, commands in
`mqtt_commands`.
"""
from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from controller.config import MqttConfig
from controller.errors import ControllerError
from controller.events import LAYER_CHECKED, LOGGED, PRINTER_KINDS, Event, EventBus, Subscription
from controller.farm.fleet import Fleet
from controller.publish import mqtt_commands as commands
from controller.publish.mqtt_discovery import discovery_messages
from controller.publish.mqtt_topics import (
    OCTOPRINT_EVENTS,
    OFFLINE,
    ONLINE,
    STATE_CHANGED,
    Message,
    Mirror,
    Topics,
    encode,
    event_payload,
    layer_payload,
    photo_url,
    progress_payload,
    state_payload,
)
from controller.store import Store, jobs, printers
from controller.store.records import LayerCheck

_log = logging.getLogger(__name__)
RECONNECT_MIN_S, RECONNECT_MAX_S = 1, 8
MAX_PHOTO_BYTES = 8 * 1024 * 1024
QUEUE_LISTED = 100
JOB_KINDS = frozenset({"queued", "sliced", "slicing", "started", "completed", "failed", "cancelled", "cancel",
                       "vision_failure", "interrupted", "pause", "resume"})
"""History kinds that change a job or the queue."""


class MqttPublisher:
    """Mirrors the service onto an MQTT broker and takes commands from it (see module docstring)."""

    def __init__(self, config: MqttConfig, bus: EventBus, store: Store, fleet: Fleet, api_keys: Sequence[str],
                 clock: Callable[[], float] = time.time) -> None:
        """Wire the config, the bus, the store and the fleet; nothing connects before `start`."""
        self.config, self.bus, self.store, self.fleet = config, bus, store, fleet
        self.api_keys = list(api_keys)
        self.clock = clock
        self.topics = Topics(config.base_topic, config.discovery_prefix)
        self.mirror = Mirror(self.topics, config.temperature_interval_s)
        self.dropped = 0
        self.connects = 0
        self._connected = threading.Event()
        self._known: dict[str, str] = {}          # printer name -> last state published
        self._job_names: dict[int, str] = {}
        self._run_printers: dict[int, str | None] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._commands: queue.Queue[tuple[str, bytes] | None] = queue.Queue(maxsize=32)
        self._threads: list[threading.Thread] = []
        self._sub: Subscription | None = None
        self.client = self._make_client()

    # ---- life cycle ------------------------------------------------------------------------------------------
    def _make_client(self) -> paho.Client:
        """A paho client with the last will, credentials, TLS and the reconnect backoff set."""
        cfg = self.config
        client_id = cfg.client_id or f"printloop-{socket.gethostname()}-{os.getpid()}"
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311)
        client.will_set(self.topics.status, OFFLINE, qos=1, retain=True)
        if cfg.username is not None:
            client.username_pw_set(cfg.username, cfg.password)
        if cfg.tls:
            client.tls_set(ca_certs=str(cfg.ca_file) if cfg.ca_file else None)
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        client.max_queued_messages_set(1000)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def start(self) -> None:
        """Connect in the background (a broker that is down now is retried), then follow the bus."""
        for p in printers.list_printers(self.store):
            self._printer_state(p.name, p.state, p.message)
        self.client.connect_async(self.config.host, self.config.port, keepalive=30)
        self.client.loop_start()
        self._sub = self.bus.subscribe(self.handle, PRINTER_KINDS | {LOGGED, LAYER_CHECKED}, name="mqtt",
                                       capacity=5000)
        for target, name in ((self._tick_loop, "mqtt ticker"), (self._command_loop, "mqtt commands")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 3.0) -> None:
        """Send what the bus still holds, say `offline`, disconnect."""
        if self._sub is not None:
            self.bus.unsubscribe(self._sub)
            self._sub = None
        self._stop.set()
        try:
            self._commands.put_nowait(None)
        except queue.Full:
            pass
        for thread in self._threads:
            thread.join(timeout)
        if self._connected.is_set():
            info = self.client.publish(self.topics.status, OFFLINE, qos=1, retain=True)
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError):
                pass
        self.client.disconnect()
        self.client.loop_stop()

    @property
    def connected(self) -> bool:
        """Is the broker connection up?"""
        return self._connected.is_set()

    # ---- paho callbacks (network thread) -------------------------------------------------------------------
    def _on_connect(self, client: paho.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        """Connected (again): online, commands, discovery and the retained state."""
        if reason.is_failure:
            _log.warning("MQTT broker %s refused the connection: %s", self.config.broker, reason)
            return
        self.connects += 1
        self._connected.set()
        client.publish(self.topics.status, ONLINE, qos=1, retain=True)
        client.subscribe(self.topics.commands, qos=1)
        with self._lock:
            names = list(self._known)
        for name in names:
            self._send(discovery_messages(self.topics, name))
        self._send(self.mirror.retained())
        if self.dropped:
            _log.info("MQTT: %d messages dropped while the broker was away", self.dropped)

    def _on_disconnect(self, _client: paho.Client, _userdata: Any, _flags: Any, reason: Any,
                       _props: Any) -> None:
        """Lost the broker: drop messages until paho reconnects."""
        self._connected.clear()
        if not self._stop.is_set():
            _log.warning("MQTT broker %s went away (%s); reconnecting", self.config.broker, reason)

    def _on_message(self, _client: paho.Client, _userdata: Any, msg: paho.MQTTMessage) -> None:
        """A command arrived: hand it to the command worker (never run on the network thread)."""
        printer = self.topics.command_printer(msg.topic)
        if printer is None:
            return
        if msg.retain:  # a command the broker kept: it ran when sent and must not run again on each reconnect
            ident = getattr(commands.parse_command(bytes(msg.payload)), "id", None)
            self._reply(printer, commands.Reply(ident, False, "a retained command is not run again: publish "
                                                              "commands without the retain flag"))
            return
        try:
            self._commands.put_nowait((printer, bytes(msg.payload)))
        except queue.Full:
            parsed = commands.parse_command(bytes(msg.payload))
            self._reply(printer, commands.Reply(getattr(parsed, "id", None), False, "too many commands at once"))

    # ---- sending ---------------------------------------------------------------------------------------------
    def _send(self, messages: list[Message]) -> None:
        """Publish now, or drop (counted) while the broker is away; paho never queues for us."""
        for m in messages:
            if self._connected.is_set():
                info = self.client.publish(m.topic, m.payload, qos=m.qos, retain=m.retain)
                if info.rc == paho.MQTT_ERR_SUCCESS:
                    continue
            with self._lock:
                self.dropped += 1

    def _reply(self, printer: str, reply: commands.Reply) -> None:
        """Answer a command on `<base>/<printer>/command/response`."""
        self._send([Message(self.topics.printer(printer, "command", "response"), encode(reply.to_dict()),
                            qos=1)])

    # ---- bus events (subscriber thread) ----------------------------------------------------------------------
    def handle(self, event: Event) -> None:
        """One bus event: temperatures, OctoPrint events, history (states, jobs, queue), layer verdicts."""
        if event.kind == "temperature" and event.printer:
            self._send(self.mirror.temperatures(event.printer, event.data, self.clock()))
        elif event.kind in OCTOPRINT_EVENTS and event.printer:
            name = OCTOPRINT_EVENTS[event.kind]
            # printers stamp events with their monotonic clock; the payload's _timestamp is wall time
            body = event_payload(event.kind, name, event.printer, event.message, self.clock(), event.data)
            self._send([Message(self.topics.event(event.printer, name), encode(body))])
            if event.kind != "error":
                self._progress(event.printer)
        elif event.kind == LOGGED:
            self._logged(event.data["event"])
        elif event.kind == LAYER_CHECKED:
            self._layer(event.data["check"])

    def _logged(self, record: Any) -> None:
        """A committed history event: a printer's state, its job, the queue."""
        if record.kind == "printer" and record.printer:
            try:
                p = printers.get_printer(self.store, record.printer)
            except ControllerError:
                return
            self._printer_state(p.name, p.state, p.message, record.t)
        if record.kind in JOB_KINDS:
            if record.printer and record.run_id is not None:
                self._job(record.printer, record.run_id)
            self._queue()

    def _printer_state(self, name: str, state: str, message: str, t: float | None = None) -> None:
        """Publish a printer's retained state (and its discovery the first time), and PrinterStateChanged."""
        with self._lock:
            new, changed = name not in self._known, self._known.get(name) != state
            self._known[name] = state
        if new:
            self._send(discovery_messages(self.topics, name))
        self._send(self.mirror.retain(self.topics.printer(name, "state"), state_payload(state, message)))
        if changed and t is not None:
            body = state_payload(state, message) | {"_event": STATE_CHANGED, "_timestamp": int(t),
                                                     "printer": name, "state_id": state.upper(),
                                                     "state_string": state_payload(state, message)["text"]}
            self._send([Message(self.topics.event(name, STATE_CHANGED), encode(body))])

    def _progress(self, name: str) -> None:
        """Publish the retained progress of the copy a printer runs (kept as it was once the copy ends)."""
        prog = self.fleet.planned(name)
        if prog is None:
            return
        _, run, _ = self.fleet.live(name)
        path = self._job_name(run.job_id) if run is not None else None
        payload = progress_payload(prog.state, prog.percent, prog.layer, prog.layer_count, path, prog.elapsed_s,
                                   prog.time_left_s)
        self._send(self.mirror.retain(self.topics.progress(name), payload))

    def _job_name(self, job_id: int) -> str | None:
        """A job's name (cached: names do not change)."""
        if job_id not in self._job_names:
            try:
                self._job_names[job_id] = jobs.get_job(self.store, job_id).name
            except ControllerError:
                return None
        return self._job_names[job_id]

    def _job(self, printer: str, run_id: int) -> None:
        """Publish the retained job of a printer: the copy it prints or printed last, and its job's counts."""
        try:
            run = jobs.get_run(self.store, run_id)
            job = jobs.get_job(self.store, run.job_id)
        except ControllerError:
            return
        payload = {"job_id": job.id, "name": job.name, "copies": job.copies, "job_state": job.state,
                   "counts": job.counts, "run_id": run.id, "copy": run.copy_index + 1, "state": run.state,
                   "layer": run.layer, "layer_count": run.layer_count, "percent": round(run.percent, 1),
                   "message": run.message}
        self._send(self.mirror.retain(self.topics.printer(printer, "job"), payload))

    def _queue(self) -> None:
        """Publish the retained queue: copies printing, then waiting, in the order they will be taken."""
        active = jobs.list_runs(self.store, states=("printing", "paused"))
        waiting = jobs.list_runs(self.store, states=("queued",))
        runs = [{"run_id": r.id, "job_id": r.job_id, "job": self._job_name(r.job_id), "copy": r.copy_index + 1,
                 "state": r.state, "printer": r.printer, "layer": r.layer, "layer_count": r.layer_count,
                 "percent": round(r.percent, 1)} for r in (active + waiting)[:QUEUE_LISTED]]
        payload = {"printing": len(active), "queued": len(waiting), "runs": runs}
        self._send(self.mirror.retain(self.topics.queue, payload))

    def _layer(self, check: LayerCheck) -> None:
        """Publish a layer's verdict with its photo's URL, and the photo itself for the camera entity."""
        if check.run_id not in self._run_printers:
            try:
                self._run_printers[check.run_id] = jobs.get_run(self.store, check.run_id).printer
            except ControllerError:
                self._run_printers[check.run_id] = None
        printer = self._run_printers[check.run_id]
        if printer is None:
            return
        url = photo_url(self.config.public_url, check.id) if check.image_path else None
        annotated = photo_url(self.config.public_url, check.id, "annotated") if check.annotated_path else None
        payload = layer_payload(check.layer, check.ok, check.verdict, url, annotated_url=annotated,
                                check_id=check.id, run_id=check.run_id)
        self._send(self.mirror.retain(self.topics.printer(printer, "layer"), payload))
        photo = Path(check.annotated_path or check.image_path or "")
        try:
            if photo.is_file() and photo.stat().st_size <= MAX_PHOTO_BYTES:
                self._send(self.mirror.retain(self.topics.printer(printer, "layer", "photo"), photo.read_bytes()))
        except OSError:
            _log.warning("could not read the photo of layer check %s", check.id)

    # ---- ticker and command worker (their own threads) -------------------------------------------------------
    def _tick_loop(self) -> None:
        """Every progress interval: temperatures the rate limit held back, states of every printer (new ones get
        discovery, removed ones lose it) and running progress."""
        while not self._stop.wait(self.config.progress_interval_s):
            try:
                self._send(self.mirror.flush_temperatures(self.clock()))
                present = printers.list_printers(self.store)
                for p in present:
                    self._printer_state(p.name, p.state, p.message)
                    if p.state in ("printing", "paused"):
                        self._progress(p.name)
                self._forget_removed({p.name for p in present})
            except Exception:  # noqa: BLE001 - a failed sample must not end the ticker
                _log.exception("MQTT ticker failed")

    def _forget_removed(self, present: set[str]) -> None:
        """A printer removed from the service: delete its discovery configs (Home Assistant drops the device)
        and its retained state."""
        with self._lock:
            gone = [n for n in self._known if n not in present]
            for name in gone:
                del self._known[name]
        for name in gone:
            self._send([Message(m.topic, b"", retain=True, qos=1) for m in discovery_messages(self.topics, name)])
            self._send(self.mirror.forget(self.topics.printer(name) + "/"))

    def _command_loop(self) -> None:
        """Carry out commands one at a time and answer each."""
        while True:
            item = self._commands.get()
            if item is None:
                return
            printer, payload = item
            parsed = commands.parse_command(payload)
            try:
                reply = parsed if isinstance(parsed, commands.Reply) else \
                    commands.execute(parsed, printer, self.fleet, self.store, self.api_keys)
            except Exception as exc:  # noqa: BLE001 - answer instead of dying
                _log.exception("MQTT command on %s failed", printer)
                reply = commands.Reply(getattr(parsed, "id", None), False, f"internal error: {exc}")
            self._reply(printer, reply)
