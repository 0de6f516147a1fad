"""Response cache for live calls: exact match, and an optional lexical "semantic" match.

Exact: the key is a SHA-256 of (provider, model, system prompt, user prompt, max tokens,
temperature, response format, schema); an entry lives for the time-to-live of its task type.
Semantic (optional): an input whose character n-gram TF-IDF cosine with a cached input of the
same (provider, model, task) reaches a threshold reuses that answer. This is *lexical*
similarity (shared character sequences), not meaning: "refund my order" and "I want my money
back" are far apart. Measure what it costs before turning it on::

    semantic_cache_error_rates(labeled_evalset, [0.8, 0.9, 0.95])
    #    threshold  hit_rate  wrong_rate  wrong_per_item  hits  wrong
    # 0       0.80     0.31       0.12          0.037     ...

Cache hits are recorded in the ledger at zero cost with ``cache_hit = true`` by the runner.
"""
from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from core.evaluation.answers import normalize_answers
from core.live.providers.base import ChatRequest
from core.workspace import Workspace

MIGRATIONS = [
    # v1, the DuckLake baseline: one row per key (put_many deletes, then inserts; two processes
    # caching one key at once may leave two rows, which hold equivalent answers)
    """
    create table llm_cache (
        key varchar not null,
        provider varchar not null,
        model varchar not null,
        task varchar,
        input varchar,                   -- the item's input, for the semantic match (never keys)
        text varchar,
        input_tokens bigint, output_tokens bigint,
        created_at timestamp not null,
        expires_at timestamp
    );
    """,
]

DEFAULT_TTL_S = 7 * 24 * 3600.0


@dataclass
class CacheConfig:
    """How the runner uses the cache. ``ttl_s`` per task type; ``"*"`` is the default."""

    enabled: bool = True
    ttl_s: dict[str, float] = field(default_factory=lambda: {"*": DEFAULT_TTL_S})
    semantic_threshold: float | None = None  # None = exact match only

    def ttl_for(self, task: str | None) -> float | None:
        return self.ttl_s.get(task or "*", self.ttl_s.get("*", DEFAULT_TTL_S))

    def to_dict(self) -> dict:
        return {"enabled": self.enabled, "ttl_s": self.ttl_s,
                "semantic_threshold": self.semantic_threshold}


@dataclass(frozen=True)
class CachedAnswer:
    text: str
    input_tokens: int
    output_tokens: int
    similarity: float = 1.0  # 1.0 for an exact hit


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def request_digest(provider: str, request: ChatRequest) -> str:
    """A hash of everything but the user text (shared by every item of a task and model)."""
    payload = json.dumps({
        "provider": provider, "model": request.model, "system": request.system,
        "max_tokens": request.max_tokens, "temperature": request.temperature,
        "response_format": request.response_format, "schema": request.schema,
        "logprobs": request.logprobs,
    }, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def cache_key(provider: str, request: ChatRequest, digest: str | None = None) -> str:
    """A stable hash of everything that changes the answer (``digest``: a precomputed
    :func:`request_digest` of the same provider and parameters).

    >>> cache_key("openai", ChatRequest(model="m", user="hi")) == cache_key("openai", ChatRequest(model="m", user="hi"))
    True
    """
    digest = digest or request_digest(provider, request)
    return hashlib.sha256(f"{digest}\x00{request.user}".encode()).hexdigest()


def _vectorizer():
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), lowercase=True, sublinear_tf=True)


class ResponseCache:
    """The workspace cache. ``get`` / ``put`` by request; semantic lookups by input text.

    An entry is served while ``now < expires_at``: read at the instant it expires, it is not.
    ``clock`` (naive UTC ``datetime``) is the real time unless a test freezes it.
    """

    def __init__(self, ws: Workspace, config: CacheConfig | None = None,
                 clock: Callable[[], datetime] | None = None):
        self.ws = ws
        self.config = config or CacheConfig()
        self.clock = clock or _now
        ws.ensure("llm_cache", MIGRATIONS)
        self._semantic: dict[tuple, tuple[list[str], list[CachedAnswer]]] = {}
        self._semantic_models: dict[tuple, object] = {}
        self._memo: dict[str, tuple[CachedAnswer, datetime | None]] = {}
        self._prefetched = False
        # put_many runs in a writer thread while lookups run on the event loop.
        self._lock = threading.Lock()

    def prefetch(self, keys: list[str]) -> int:
        """Load the live entries for ``keys`` in one query; later misses need no query.

        A run knows every request it will make, so one bulk lookup replaces one query per call.
        """
        if not self.config.enabled:
            return 0
        frame = pd.DataFrame({"key": list(dict.fromkeys(keys))})
        cur = self.ws.cursor()
        cur.register("wanted_cache_keys", frame)
        rows = cur.execute(
            "select c.key, c.text, c.input_tokens, c.output_tokens, c.expires_at from llm_cache c"
            " join wanted_cache_keys w using (key)"
            " where c.expires_at is null or c.expires_at > ?", [self.clock()]).fetchall()
        cur.unregister("wanted_cache_keys")
        for key, text, tin, tout, expires_at in rows:
            self._memo[key] = (CachedAnswer(text, int(tin or 0), int(tout or 0)), expires_at)
        self._prefetched = True
        return len(rows)

    def get(self, provider: str, request: ChatRequest, key: str | None = None) -> CachedAnswer | None:
        if not self.config.enabled:
            return None
        key = key or cache_key(provider, request)
        if key in self._memo:
            answer, expires_at = self._memo[key]
            return answer if expires_at is None or self.clock() < expires_at else None
        if self._prefetched:
            return None
        row = self.ws.cursor().execute(
            "select text, input_tokens, output_tokens from llm_cache where key = ?"
            " and (expires_at is null or expires_at > ?)",
            [key, self.clock()]).fetchall()
        row = row[0] if row else None
        return CachedAnswer(row[0], int(row[1] or 0), int(row[2] or 0)) if row else None

    def put_many(self, entries: list[tuple]) -> None:
        """Store answers in bulk: (provider, request, task, input, text, in_tokens, out_tokens[,
        key]) with the key precomputed or not."""
        if not self.config.enabled or not entries:
            return
        now = self.clock()
        rows = []
        for entry in entries:
            provider, request, task, text_in, text, tin, tout = entry[:7]
            ttl = self.config.ttl_for(task)
            key = entry[7] if len(entry) > 7 else cache_key(provider, request)
            expires_at = now + timedelta(seconds=ttl) if ttl is not None else None
            self._memo[key] = (CachedAnswer(text, tin, tout), expires_at)
            rows.append({
                "key": key, "provider": provider, "model": request.model,
                "task": task, "input": text_in, "text": text, "input_tokens": tin,
                "output_tokens": tout, "created_at": now, "expires_at": expires_at})
            self._remember(provider, request.model, task, text_in, CachedAnswer(text, tin, tout))
        frame = pd.DataFrame(rows).drop_duplicates("key", keep="last")

        def body(cur):
            cur.register("incoming_cache", frame)
            cur.execute("delete from llm_cache where key in (select key from incoming_cache)")
            cur.execute("insert into llm_cache select key, provider, model, task, input,"
                        " text, input_tokens, output_tokens, created_at, expires_at from incoming_cache")
            cur.unregister("incoming_cache")

        self.ws.write(body)

    def put(self, provider: str, request: ChatRequest, task: str | None, text_in: str | None,
            text: str, input_tokens: int = 0, output_tokens: int = 0) -> None:
        self.put_many([(provider, request, task, text_in, text, input_tokens, output_tokens)])

    # -- semantic --------------------------------------------------------------------------
    def _remember(self, provider, model, task, text_in, answer) -> None:
        if self.config.semantic_threshold is None or not text_in:
            return
        group = (provider, model, task)
        with self._lock:
            inputs, answers = self._semantic.setdefault(group, ([], []))
            inputs.append(text_in)
            answers.append(answer)
            self._semantic_models.pop(group, None)  # refit lazily on the next lookup

    def load_semantic(self) -> None:
        """Load unexpired entries of the workspace into the in-memory similarity index."""
        if self.config.semantic_threshold is None:
            return
        frame = self.ws.cursor().execute(
            "select provider, model, task, input, text, input_tokens, output_tokens from llm_cache"
            " where input is not null and (expires_at is null or expires_at > ?)", [self.clock()]).df()
        self._semantic.clear()
        self._semantic_models.clear()
        for row in frame.itertuples(index=False):
            task = None if pd.isna(row.task) else row.task
            self._remember(row.provider, row.model, task, row.input,
                           CachedAnswer(row.text, int(row.input_tokens or 0), int(row.output_tokens or 0)))

    def get_similar(self, provider: str, model: str, task: str | None,
                    text_in: str) -> CachedAnswer | None:
        """The cached answer of the most similar input, if its cosine reaches the threshold."""
        threshold = self.config.semantic_threshold
        if not self.config.enabled or threshold is None or not text_in:
            return None
        group = (provider, model, task)
        with self._lock:
            if group not in self._semantic:
                return None
            fitted = self._semantic_models.get(group)
            if fitted is None or len(fitted[2]) != len(self._semantic[group][0]):
                fitted = None  # entries arrived since the last fit
                inputs, answers = (list(x) for x in self._semantic[group])
        if fitted is None:
            vec = _vectorizer()
            fitted = (vec, vec.fit_transform(inputs), answers)
            with self._lock:
                self._semantic_models[group] = fitted
        vec, matrix, answers = fitted
        sims = (matrix @ vec.transform([text_in]).T).toarray().ravel()
        best = int(np.argmax(sims))
        if sims[best] < threshold:
            return None
        hit = answers[best]
        return CachedAnswer(hit.text, hit.input_tokens, hit.output_tokens, float(sims[best]))

    def clear(self) -> int:
        n = self.ws.write(lambda cur: cur.execute("delete from llm_cache").fetchall()[0][0])
        self._semantic.clear()
        self._semantic_models.clear()
        self._memo.clear()
        return int(n)

    def stats(self) -> dict:
        row = self.ws.cursor().execute(
            "select count(*), count(*) filter (where expires_at is null or expires_at > ?)"
            " from llm_cache", [self.clock()]).fetchall()[0]
        return {"entries": int(row[0]), "live": int(row[1])}


def nearest_previous(inputs: list[str], groups: np.ndarray | None = None,
                     chunk: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For each input i, the most similar earlier input j < i (same group) and its cosine.

    This is what a semantic cache filled in arrival order would return. Returns (j, sim) with
    j = -1 and sim = 0 where there is no earlier input.
    """
    n = len(inputs)
    nearest = np.full(n, -1, dtype=np.int64)
    best = np.zeros(n)
    if n < 2:
        return nearest, best
    # Rows per block so one dense block of similarities stays near 40 MB whatever n is.
    chunk = chunk or max(1, min(1024, 5_000_000 // n))
    matrix = _vectorizer().fit_transform(inputs)
    groups = np.zeros(n, dtype=np.int64) if groups is None else pd.factorize(groups)[0]
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        sims = (matrix[start:stop] @ matrix.T).toarray()
        rows = np.arange(start, stop)[:, None]
        cols = np.arange(n)[None, :]
        # Only earlier items of the same group are in the cache when item i arrives.
        allowed = (cols < rows) & (groups[start:stop, None] == groups[None, :])
        sims = np.where(allowed, sims, -1.0)
        arg = sims.argmax(axis=1)
        val = sims[np.arange(stop - start), arg]
        has = val >= 0
        nearest[start:stop] = np.where(has, arg, -1)
        best[start:stop] = np.where(has, val, 0.0)
    return nearest, best


def semantic_cache_error_rates(evalset, thresholds) -> pd.DataFrame:
    """How often a semantic hit would return a wrong answer, per similarity threshold.

    Items arrive in eval-set order; a hit reuses the answer of the most similar earlier item of
    the same task. A hit is wrong when that neighbour's label differs from the item's label.
    Returns one row per threshold: ``threshold, hits, hit_rate, wrong, wrong_rate`` (wrong among
    hits) and ``wrong_per_item`` (wrong hits over all items).

    >>> semantic_cache_error_rates(es, [0.9]).columns.tolist()          # doctest: +SKIP
    ['threshold', 'hits', 'hit_rate', 'wrong', 'wrong_rate', 'wrong_per_item']
    """
    from core.errors import InputError

    items = evalset.items
    if "input" not in items or "label" not in items or not items["label"].notna().any():
        raise InputError(f"{evalset.name}: measuring semantic-cache errors needs inputs and labels")
    keep = items["input"].notna().to_numpy() & items["label"].notna().to_numpy()
    inputs = items["input"][keep].astype(str).tolist()
    labels = normalize_answers(items["label"][keep].to_numpy(dtype=object))
    tasks = items["task"][keep].fillna("all").to_numpy(dtype=object) if "task" in items else None
    nearest, sim = nearest_previous(inputs, tasks)
    has = nearest >= 0
    wrong_pair = np.zeros(len(inputs), dtype=bool)
    wrong_pair[has] = labels[nearest[has]] != labels[has]
    thr = np.asarray(list(thresholds), dtype=float)
    hit = has[None, :] & (sim[None, :] >= thr[:, None])  # [n_thresholds, n_items]
    hits = hit.sum(axis=1)
    wrong = (hit & wrong_pair[None, :]).sum(axis=1)
    n = max(len(inputs), 1)
    return pd.DataFrame({
        "threshold": thr, "hits": hits, "hit_rate": hits / n, "wrong": wrong,
        "wrong_rate": np.where(hits > 0, wrong / np.maximum(hits, 1), np.nan),
        "wrong_per_item": wrong / n,
    })
