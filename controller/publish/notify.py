"""Notifications: history events that people asked to hear about are sent to Apprise targets (e-mail, ntfy,
Slack, Telegram, Discord, Matrix, json://, ...) and to signed webhooks, off the printer's path: a bus subscriber
hands each delivery to a small pool, which retries with backoff and records every attempt. A target that hangs or
refuses costs a pool thread, never a printer."""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from controller.config import NotifyConfig, ServiceConfig, WebhookConfig
from controller.events import LOGGED, EventBus, Subscription
from controller.events import Event as BusEvent
from controller.publish.notify_rules import notice_of, wants
from controller.store import Store, history, jobs
from controller.store.notifications import record_attempt
from controller.store.records import Event

_log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Printloop-Signature"
BACKOFF_S = (1.0, 4.0, 15.0)      # waits before the 2nd, 3rd and 4th attempt
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Notice:
    """What is told: the notice name, where, which job and copy, the words, and the layer photo if there is one."""

    event: str
    printer: str | None
    job_id: int | None
    run_id: int | None
    message: str
    photo_path: str | None = None
    photo_url: str | None = None
    event_id: int | None = None

    def body(self) -> bytes:
        """The webhook's JSON body."""
        return json.dumps({"event": self.event, "printer": self.printer, "job_id": self.job_id,
                           "run_id": self.run_id, "message": self.message, "photo_url": self.photo_url},
                          separators=(",", ":")).encode()


def sign(secret: str, body: bytes) -> str:
    """The X-Printloop-Signature value: sha256=<hex HMAC-SHA256 of the raw body>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def shown_url(url: str) -> str:
    """A target's URL without user, password, token query or fragment, for the attempt log."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _send_webhook(target: WebhookConfig, notice: Notice) -> tuple[bool, str]:
    """POST the signed body; a 2xx answer is a delivery."""
    body = notice.body()
    r = httpx.post(target.url, content=body, timeout=TIMEOUT_S, headers={
        "Content-Type": "application/json", SIGNATURE_HEADER: sign(target.secret, body)})
    return r.is_success, f"HTTP {r.status_code}"


def _send_apprise(target: NotifyConfig, notice: Notice) -> tuple[bool, str]:
    """Send through Apprise, with the layer photo attached when there is one."""
    import apprise

    sender = apprise.Apprise()
    if not sender.add(target.url):
        return False, "Apprise does not understand this URL"
    attach = apprise.AppriseAttachment(notice.photo_path) if notice.photo_path else None
    where = f" on {notice.printer}" if notice.printer else ""
    ok = sender.notify(body=notice.message, title=f"printloop: {notice.event}{where}", attach=attach)
    return bool(ok), "sent" if ok else "Apprise reported a failure (see the service log)"


class Notifier:
    """The `[[notify]]` and `[[webhooks]]` targets of a config, fed by the bus; start/stop with the service."""

    def __init__(self, config: ServiceConfig, bus: EventBus, store: Store, clock: Callable[[], float] = time.time,
                 backoff_s: Sequence[float] = BACKOFF_S, sleep: Callable[[float], None] = time.sleep) -> None:
        """Wire the targets; nothing is sent before `start`."""
        self.targets: list[NotifyConfig] = [*config.notify, *config.webhooks]
        self.bus, self.store, self.clock = bus, store, clock
        self.backoff_s, self.sleep = tuple(backoff_s), sleep
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="notify")
        self._sub: Subscription | None = None

    def start(self) -> None:
        """Listen to the history as it is committed."""
        self._sub = self.bus.subscribe(self._on_event, [LOGGED], name="notify")

    def stop(self) -> None:
        """Stop listening; deliveries still retrying are abandoned."""
        if self._sub is not None:
            self.bus.unsubscribe(self._sub)
            self._sub = None
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _on_event(self, bus_event: BusEvent) -> None:
        """Turn a committed history event into a notice, if it is one anybody wants."""
        record: Event = bus_event.data["event"]
        done = record.kind == "completed" and record.job_id is not None and \
            jobs.get_job(self.store, record.job_id).state == "done"
        name = notice_of(record, job_done=done)
        if name is not None:
            self.send(self._notice(name, record))

    def _notice(self, name: str, record: Event) -> Notice:
        """The notice of a history event, with the failed layer's annotated photo for layer_failed."""
        path = url = None
        if name == "layer_failed" and record.run_id is not None:
            bad = [c for c in history.list_layer_checks(self.store, run_id=record.run_id) if not c.ok]
            if bad and (bad[-1].annotated_path or bad[-1].image_path):
                path = bad[-1].annotated_path or bad[-1].image_path
                url = f"/api/v1/layer-checks/{bad[-1].id}/image?kind=annotated"
        return Notice(name, record.printer, record.job_id, record.run_id, record.message, path, url, record.id)

    def send(self, notice: Notice) -> int:
        """Hand the notice to every target that wants it; returns how many (delivery happens in the pool)."""
        chosen = [t for t in self.targets if wants(t.events, t.printers, notice.event, notice.printer)]
        for target in chosen:
            self._pool.submit(self._deliver, target, notice)
        return len(chosen)

    def _deliver(self, target: NotifyConfig, notice: Notice) -> None:
        """Try, and try again after each backoff; record every attempt and its outcome."""
        send = _send_webhook if isinstance(target, WebhookConfig) else _send_apprise
        for attempt in range(1, len(self.backoff_s) + 2):
            start = time.monotonic()
            try:
                ok, detail = send(target, notice)  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001 - any failure of a target is recorded and retried
                ok, detail = False, f"{type(exc).__name__}: {exc}"
            record_attempt(self.store, self.clock(), notice.event, shown_url(target.url), notice.event_id, attempt,
                           ok, detail.replace(target.url, shown_url(target.url))[:500], time.monotonic() - start)
            if ok or attempt > len(self.backoff_s):
                return
            self.sleep(self.backoff_s[attempt - 1])
