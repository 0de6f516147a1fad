"""Webhooks: events the gateway announces (budget thresholds, rollout steps...) posted to URLs.

An event is a ``kind`` (``budget.threshold``, ``webhook.test``, any dotted name) and a payload of
structured fields. It is delivered to every active webhook whose ``events`` filter matches its
kind (``*`` = all; else comma-separated kinds or prefixes such as ``budget.``) as
Slack-compatible JSON: ``{"text": "<one line for people>", "kind": ..., "event_id": ...,
"created_at": ..., <payload fields>}``. A delivery is retried with exponential backoff
(tenacity) on connection errors, timeouts, 429 and 5xx; every attempt is recorded
(``gateway_deliveries``) and shown on the Gateway page and by ``core webhooks deliveries``.

Any part of the product sends an event with one call (synchronous: it returns once every webhook
answered or gave up)::

    sent = send_event(ws, "rollout.step", {"experiment": "support-v2", "share": 0.25},
                      text="Rollout support-v2 moved to 25%")
    sent.attempts          # [Attempt(webhook_id, attempt=1, ok=True, status_code=200, ...)]

``dedup_key`` makes an event happen once: a second ``send_event`` (or :func:`record_event`) with
the same key, from any process, records and sends nothing (``None``). The store agent uses it for
"one alert per threshold per budget period" and delivers in a background :class:`Notifier` so a
slow receiver never holds up the ledger.

A webhook URL is a secret for many receivers (Slack's carry a token in the path): it is stored
(it must be, to post to it) but only ever shown and logged masked (:func:`mask_url`).

Tables use only the SQL every store of the product supports: application-made ids (uuid), no
keys, sequences or upserts; every write goes through ``Workspace.write``, and the checks that
must hold across processes (a webhook name taken, an event's dedup key seen) bump a lock row
first, so two racing writers are serialised.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from core.errors import InputError
from core.exports import json_safe
from core.live.keys import redact
from core.workspace import Workspace
from core.workspace.retire import active_name_taken, retire

log = logging.getLogger("tradeoff.gateway")

MIGRATIONS = [
    """
    create table gateway_webhooks (
        webhook_id varchar not null,        -- uuid made by the application
        name varchar not null,
        url varchar not null,               -- shown masked only
        events varchar not null,            -- '*' or comma-separated kinds / prefixes
        created_at timestamp not null,
        removed_at timestamp                -- NULL: active
    );
    create table gateway_events (
        event_id varchar not null,
        kind varchar not null,
        dedup_key varchar,                  -- an event with a key happens once
        text varchar not null,
        payload_json varchar not null,
        created_at timestamp not null
    );
    create table gateway_deliveries (
        event_id varchar not null,
        webhook_id varchar not null,
        attempt integer not null,           -- 1, 2, ... per (event, webhook)
        attempted_at timestamp not null,
        status_code integer,                -- NULL: no HTTP answer (connection error, timeout)
        ok boolean not null,
        final boolean not null,             -- the last attempt of this delivery
        error varchar
    );
    insert into store_locks values ('gateway_webhooks', 0);
    insert into store_locks values ('gateway_events', 0);
    """,
]


def ensure_webhooks(ws: Workspace) -> None:
    ws.ensure("gateway_webhooks", MIGRATIONS)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def mask_url(url: str) -> str:
    """A URL as people may see it: scheme, host and port, the path hidden.

    >>> mask_url("https://hooks.slack.com/services/T000/B000/token123")
    'https://hooks.slack.com/…'
    """
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}/…"


def check_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"Webhook URL: expected http:// or https:// and a host, got '{mask_url(url) if parts.netloc else url[:40]}'")
    return url


# -- webhooks -------------------------------------------------------------------------------
def add_webhook(ws: Workspace, name: str, url: str, events: str = "*") -> dict[str, Any]:
    """Add a webhook (names are unique among active ones); returns ``{webhook_id, name, url}``
    with the URL masked."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise InputError("Webhook name: expected 1 to 80 characters")
    url = check_url(url)
    events = ",".join(e.strip() for e in (events or "*").split(",") if e.strip()) or "*"
    ensure_webhooks(ws)
    webhook_id = uuid.uuid4().hex[:12]

    def body(cur):
        ws.bump(cur, "gateway_webhooks")
        if active_name_taken(cur, "gateway_webhooks", "removed_at", name):
            raise InputError(f"Webhook name '{name}' is taken: remove that webhook first or choose another name")
        cur.execute("insert into gateway_webhooks values (?, ?, ?, ?, ?, NULL)",
                    [webhook_id, name, url, events, _now()])

    ws.write(body)
    return {"webhook_id": webhook_id, "name": name, "url": mask_url(url), "events": events}


def remove_webhook(ws: Workspace, ref: str) -> bool:
    """Remove the active webhook with this id or name (kept, marked removed); False if none."""
    ensure_webhooks(ws)
    return retire(ws, "gateway_webhooks", id_column="webhook_id", end_column="removed_at", ref=ref)


def list_webhooks(ws: Workspace, include_removed: bool = False) -> pd.DataFrame:
    """webhook_id, name, url (masked), events, created_at, removed_at; newest first."""
    ensure_webhooks(ws)
    where = "" if include_removed else "where removed_at is null"
    frame = ws.cursor().execute(f"select webhook_id, name, url, events, created_at, removed_at "
                                f"from gateway_webhooks {where} order by created_at desc").df()
    frame["url"] = frame["url"].map(mask_url)
    return frame


@dataclass(frozen=True)
class Webhook:
    webhook_id: str
    name: str
    url: str
    events: str

    def wants(self, kind: str) -> bool:
        """Whether this webhook's filter takes events of ``kind``.

        >>> Webhook("w", "n", "http://x", "budget.,rollout.step").wants("budget.threshold")
        True
        """
        return any(p == "*" or kind == p or (p.endswith(".") and kind.startswith(p))
                   for p in self.events.split(","))


def active_webhooks(ws: Workspace, kind: str | None = None, only: str | None = None) -> list[Webhook]:
    """Active webhooks (with their URLs: for delivering, never for showing)."""
    ensure_webhooks(ws)
    rows = ws.cursor().execute("select webhook_id, name, url, events from gateway_webhooks "
                               "where removed_at is null order by created_at").fetchall()
    hooks = [Webhook(*r) for r in rows]
    if only is not None:
        hooks = [h for h in hooks if only in (h.webhook_id, h.name)]
    return [h for h in hooks if kind is None or only is not None or h.wants(kind)]


# -- events ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Event:
    event_id: str
    kind: str
    text: str
    payload: dict[str, Any]
    created_at: datetime

    def body(self) -> dict[str, Any]:
        """The JSON posted: Slack's ``text`` plus the structured fields."""
        return {**self.payload, "text": self.text, "kind": self.kind, "event_id": self.event_id,
                "created_at": self.created_at.isoformat(timespec="seconds") + "Z"}


def record_event(ws: Workspace, kind: str, payload: dict[str, Any], text: str | None = None,
                 dedup_key: str | None = None) -> Event | None:
    """Store an event; None when ``dedup_key`` was already recorded (by any process)."""
    if not kind or not isinstance(kind, str):
        raise InputError("Event kind: expected a name such as budget.threshold")
    payload = json_safe(dict(payload or {}))
    event = Event(uuid.uuid4().hex, kind, text or f"Tradeoff: {kind}", payload, _now())
    ensure_webhooks(ws)

    def body(cur) -> Event | None:
        if dedup_key is not None:
            ws.bump(cur, "gateway_events")  # two processes racing on one key: one re-runs, sees it
            if cur.execute("select count(*) from gateway_events where dedup_key = ?", [dedup_key]).fetchone()[0]:
                return None
        cur.execute("insert into gateway_events values (?, ?, ?, ?, ?, ?)",
                    [event.event_id, kind, dedup_key, event.text, json.dumps(payload), event.created_at])
        return event

    return ws.write(body)


def seen_dedup_keys(ws: Workspace, prefix: str) -> set[str]:
    ensure_webhooks(ws)
    return {r[0] for r in ws.cursor().execute(
        "select dedup_key from gateway_events where starts_with(dedup_key, ?)", [prefix]).fetchall()}


def event_by_dedup_key(ws: Workspace, dedup_key: str, unsent_for_s: float = 0.0) -> Event | None:
    """The event recorded under ``dedup_key`` if no delivery of it has finished and it is at least
    ``unsent_for_s`` old (a process that recorded it and died before delivering), else None."""
    ensure_webhooks(ws)
    row = ws.cursor().execute(
        "select event_id, kind, text, payload_json, created_at from gateway_events e "
        "where dedup_key = ? and created_at <= ? and not exists (select 1 from gateway_deliveries d "
        "where d.event_id = e.event_id and d.final) order by created_at limit 1",
        [dedup_key, _now() - timedelta(seconds=unsent_for_s)]).fetchone()
    if row is None:
        return None
    return Event(row[0], row[1], row[2], json.loads(row[3]), row[4])


def events(ws: Workspace, limit: int = 50) -> pd.DataFrame:
    """The newest events: event_id, kind, text, created_at."""
    ensure_webhooks(ws)
    return ws.cursor().execute("select event_id, kind, text, created_at from gateway_events "
                               "order by created_at desc limit ?", [int(limit)]).df()


# -- delivering -----------------------------------------------------------------------------
@dataclass(frozen=True)
class DeliverySettings:
    attempts: int = 4  # per webhook and event
    backoff_s: float = 0.5  # first wait; doubles each retry
    backoff_cap_s: float = 8.0
    timeout_s: float = 5.0


@dataclass(frozen=True)
class Attempt:
    event_id: str
    webhook_id: str
    attempt: int
    at: datetime
    status_code: int | None
    ok: bool
    final: bool
    error: str | None = None


def _post(client, hook: Webhook, event: Event, n: int) -> tuple[Attempt, bool]:
    """One POST: (the attempt, whether to retry)."""
    import httpx

    at = _now()
    try:
        r = client.post(hook.url, json=event.body())
    except httpx.HTTPError as exc:
        error = redact(f"{type(exc).__name__}: {exc}".replace(hook.url, mask_url(hook.url)))[:300]
        return Attempt(event.event_id, hook.webhook_id, n, at, None, False, False, error), True
    ok = 200 <= r.status_code < 300
    error = None if ok else redact(f"HTTP {r.status_code}: {r.text[:200]}")
    retry = not ok and (r.status_code in (408, 425, 429) or r.status_code >= 500)
    return Attempt(event.event_id, hook.webhook_id, n, at, r.status_code, ok, False, error), retry


def deliver(event: Event, hooks: Iterable[Webhook],
            settings: DeliverySettings = DeliverySettings()) -> list[Attempt]:
    """Post ``event`` to each webhook, retrying; every attempt (the last one ``final``)."""
    import dataclasses

    import httpx
    from tenacity import Retrying, retry_if_result, stop_after_attempt, wait_exponential

    out: list[Attempt] = []
    with httpx.Client(timeout=settings.timeout_s, follow_redirects=False) as client:
        for hook in hooks:
            tries: list[Attempt] = []

            def once(hook=hook, tries=tries) -> bool:
                attempt, retry = _post(client, hook, event, len(tries) + 1)
                tries.append(attempt)
                return retry

            Retrying(stop=stop_after_attempt(max(1, settings.attempts)),
                     wait=wait_exponential(multiplier=settings.backoff_s, max=settings.backoff_cap_s),
                     retry=retry_if_result(bool), retry_error_callback=lambda state: True)(once)
            tries[-1] = dataclasses.replace(tries[-1], final=True)
            if not tries[-1].ok:
                log.warning("webhook %s gave up on event %s after %d attempt(s): %s", hook.name,
                            event.kind, len(tries), tries[-1].error)
            out.extend(tries)
    return out


def record_attempts(ws: Workspace, attempts: list[Attempt]) -> None:
    if not attempts:
        return
    ensure_webhooks(ws)
    rows = [[a.event_id, a.webhook_id, a.attempt, a.at, a.status_code, a.ok, a.final, a.error]
            for a in attempts]
    ws.write(lambda cur: cur.executemany("insert into gateway_deliveries values (?, ?, ?, ?, ?, ?, ?, ?)", rows))


@dataclass
class Sent:
    event: Event | None  # None: the dedup key had been sent already
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def delivered(self) -> int:
        """Webhooks that answered 2xx."""
        return sum(1 for a in self.attempts if a.ok)


def send_event(ws: Workspace, kind: str, payload: dict[str, Any], text: str | None = None, *,
               dedup_key: str | None = None, webhook: str | None = None,
               settings: DeliverySettings = DeliverySettings()) -> Sent:
    """Record an event and deliver it now to every matching webhook (or only ``webhook``, an id
    or name), recording each attempt. The one call other parts of the product use."""
    event = record_event(ws, kind, payload, text, dedup_key)
    if event is None:
        return Sent(None)
    hooks = active_webhooks(ws, kind, only=webhook)
    if webhook is not None and not hooks:
        raise InputError(f"No active webhook '{webhook}': see `python -m core webhooks list`")
    attempts = deliver(event, hooks, settings)
    record_attempts(ws, attempts)
    return Sent(event, attempts)


def ping_webhook(ws: Workspace, ref: str, settings: DeliverySettings = DeliverySettings()) -> Sent:
    """Send a ``webhook.test`` event to one webhook."""
    return send_event(ws, "webhook.test", {"webhook": ref},
                      text=f"Tradeoff: test message for webhook '{ref}'", webhook=ref, settings=settings)


def deliveries(ws: Workspace, limit: int = 100) -> pd.DataFrame:
    """Every delivery attempt, newest first: at, kind, webhook, attempt, status_code, ok, final,
    error, text."""
    ensure_webhooks(ws)
    return ws.cursor().execute(
        "select d.attempted_at as at, e.kind, coalesce(w.name, d.webhook_id) as webhook, d.attempt, d.status_code, d.ok, d.final, d.error, "
        "e.text, d.event_id from gateway_deliveries d join gateway_events e using (event_id) "
        "left join gateway_webhooks w using (webhook_id) order by d.attempted_at desc, d.attempt desc limit ?",
        [int(limit)]).df()


class Notifier:
    """Delivers events in a background thread; the store agent records the attempts it collects."""

    def __init__(self, settings: DeliverySettings = DeliverySettings()):
        self.settings = settings
        self._queue: queue.Queue = queue.Queue()
        self._done: list[Attempt] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="tradeoff-webhooks", daemon=True)
        self._thread.start()

    def submit(self, event: Event, hooks: list[Webhook]) -> None:
        if hooks:
            self._queue.put((event, hooks))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                attempts = deliver(*item, self.settings)
            except Exception:
                log.exception("webhook delivery failed")
                attempts = []
            with self._lock:
                self._done.extend(attempts)
            self._queue.task_done()

    def take(self) -> list[Attempt]:
        """The attempts made since the last call (to record in the store)."""
        with self._lock:
            done, self._done = self._done, []
        return done

    def close(self, timeout_s: float = 10.0) -> None:
        """Finish what was submitted (up to ``timeout_s``), then stop."""
        self._queue.put(None)
        self._thread.join(timeout=timeout_s)
