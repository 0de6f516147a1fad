"""Response cache for live calls: exact match, and an optional semantic match.

Exact: the key is a SHA-256 of (provider, model, system prompt, user prompt, max tokens,
temperature, response format, schema); an entry lives for the time-to-live of its task type.
Semantic (optional): an input whose ``wordllama`` sentence embedding (the 256-d static model
shipped inside the wheel, :mod:`core.evaluation.embeddings`) has a cosine with a cached input of
the same (provider, model, task) that reaches a threshold reuses that answer. Paraphrases land
close ("What is the capital of France?" / "What's France's capital city?": 0.91) and different
questions with shared words far ("... of Spain?": 0.45), but a static embedding still confuses
questions that differ in one decisive word or number. Measure the false hits on a labeled set
before turning it on::

    semantic_cache_error_rates(labeled_evalset, [0.85, 0.9, 0.95])
    #    threshold  hits  hit_rate  wrong  wrong_rate  wrong_per_item  truth
    # 0       0.85   ...

Cache hits are recorded in the ledger at zero cost with ``cache_hit = true`` by the runner.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from core.evaluation.answers import normalize_answers
from core.evaluation.embeddings import DIM, cosine, embed
from core.live.providers.base import ChatRequest
from core.routing.signals.prompt_features import template_ends
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


def template_cut(head: str, tail: str, shortest: int) -> tuple[int, int]:
    """Characters cut from the start and the end of texts that all start with ``head`` and end
    with ``tail`` (reversed), the shortest being ``shortest`` long: their template
    (:func:`template_ends`), unless it would leave the shortest text nothing (identical texts
    are compared whole)."""
    pre, suf = template_ends(head, tail)
    return (pre, suf) if pre + suf < shortest else (0, 0)


class SemanticIndex:
    """One (provider, model, task)'s cached inputs, compared by their ``wordllama`` embedding
    once the template they all share is cut (:func:`template_ends`: a few-shot preamble, a fixed
    instruction). A static embedding averages its tokens, so a long shared template makes every
    question look alike: on ARC's 1,650-character preamble, 74% of hits at 0.95 were false
    before the cut. The template is what the cached inputs and the query have in common; when a
    new input or query shares less of it, every input is embedded again with the shorter cut.

    >>> index = SemanticIndex()
    >>> index.add("Reply in one word. Q: What is the capital of France?", "Paris")
    >>> index.add("Reply in one word. Q: Where is my parcel?", "shipping")
    >>> answer, sim = index.nearest("Reply in one word. Q: What's France's capital city?")
    >>> answer, round(float(sim), 2)
    ('Paris', 0.91)
    """

    def __init__(self):
        self.inputs: list[str] = []
        self.answers: list = []
        self.head: str | None = None  # the text every input starts with
        self.tail: str | None = None  # ... and ends with, reversed
        self.shortest = 0
        self.cut = (0, 0)
        self.vectors = np.zeros((0, DIM), dtype=np.float32)

    def add(self, text: str, answer) -> None:
        self.shortest = len(text) if not self.inputs else min(self.shortest, len(text))
        self.inputs.append(text)
        self.answers.append(answer)
        self.head = text if self.head is None else os.path.commonprefix([self.head, text])
        self.tail = text[::-1] if self.tail is None else os.path.commonprefix([self.tail, text[::-1]])

    def nearest(self, query: str) -> tuple[object, float] | None:
        """The answer of the most similar cached input and its cosine (None: nothing cached)."""
        if not self.inputs:
            return None
        cut = template_cut(os.path.commonprefix([self.head, query]),
                           os.path.commonprefix([self.tail, query[::-1]]), min(self.shortest, len(query)))
        if cut != self.cut:
            self.cut, self.vectors = cut, np.zeros((0, DIM), dtype=np.float32)
        if len(self.vectors) < len(self.inputs):
            self.vectors = np.vstack([self.vectors, embed(self.content(self.inputs[len(self.vectors):]))])
        sims = cosine(self.vectors, embed(self.content([query]))).ravel()
        best = int(np.argmax(sims))
        return self.answers[best], float(sims[best])

    def content(self, texts: list[str]) -> list[str]:
        pre, suf = self.cut
        return [t[pre:len(t) - suf] for t in texts]


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
        self._semantic: dict[tuple, SemanticIndex] = {}  # (provider, model, task) -> its inputs
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
        with self._lock:
            self._semantic.setdefault((provider, model, task), SemanticIndex()).add(text_in, answer)

    def load_semantic(self) -> None:
        """Load unexpired entries of the workspace into the in-memory similarity index."""
        if self.config.semantic_threshold is None:
            return
        frame = self.ws.cursor().execute(
            "select provider, model, task, input, text, input_tokens, output_tokens from llm_cache"
            " where input is not null and (expires_at is null or expires_at > ?)", [self.clock()]).df()
        self._semantic.clear()
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
        with self._lock:
            index = self._semantic.get((provider, model, task))
            found = index.nearest(text_in) if index is not None else None
        if found is None or not reaches(found[1], threshold):
            return None
        hit = found[0]
        return CachedAnswer(hit.text, hit.input_tokens, hit.output_tokens, float(found[1]))

    def clear(self) -> int:
        n = self.ws.write(lambda cur: cur.execute("delete from llm_cache").fetchall()[0][0])
        self._semantic.clear()
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

    This is what a semantic cache filled in arrival order would return (the template a group's
    inputs share cut as :class:`SemanticIndex` cuts it, here from the whole group at once).
    Returns (j, sim) with j = -1 and sim = 0 where there is no earlier input.
    """
    n = len(inputs)
    nearest = np.full(n, -1, dtype=np.int64)
    best = np.zeros(n)
    if n < 2:
        return nearest, best
    # Rows per block so one dense block of similarities stays near 20 MB whatever n is.
    chunk = chunk or max(1, min(1024, 5_000_000 // n))
    groups = np.zeros(n, dtype=np.int64) if groups is None else pd.factorize(groups)[0]
    content = list(inputs)
    for g in np.unique(groups):  # each group's shared template cut, as SemanticIndex cuts it
        rows = np.flatnonzero(groups == g)
        texts = [inputs[i] for i in rows]
        pre, suf = template_cut(os.path.commonprefix(texts), os.path.commonprefix([t[::-1] for t in texts]),
                                min(len(t) for t in texts))
        for i, text in zip(rows, texts):
            content[i] = text[pre:len(text) - suf]
    matrix = embed(content)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        sims = cosine(matrix[start:stop], matrix[:stop])
        rows = np.arange(start, stop)[:, None]
        cols = np.arange(stop)[None, :]
        # Only earlier items of the same group are in the cache when item i arrives.
        allowed = (cols < rows) & (groups[start:stop, None] == groups[None, :stop])
        sims = np.where(allowed, sims, -np.inf)
        arg = sims.argmax(axis=1)
        val = sims[np.arange(stop - start), arg]
        has = np.isfinite(val)
        nearest[start:stop] = np.where(has, arg, -1)
        best[start:stop] = np.where(has, val, 0.0)
    return nearest, best


TRUTHS = ("label", "answers", "question")
TOLERANCE = 1e-6  # float32 cosines of the same text can fall a hair below 1.0


def reaches(similarity, threshold: float):
    """Whether a cosine counts as a hit at ``threshold`` (the live cache's rule and the
    measurement's)."""
    return np.asarray(similarity) >= threshold - TOLERANCE


def item_truth(evalset, truth: str | None = None) -> tuple[np.ndarray, str]:
    """What a cached answer must match to be right, per item (None: unknown), and which rule:

    * ``label``: the item's label;
    * ``answers``: what the models that scored it right concluded (``EvalSet.conclusions``: the
      chosen option, the final number, the normalised text), the first such model's;
    * ``question``: the normalised input itself: any hit on another question is counted false
      (an upper bound, for sets that carry neither labels nor answers).

    ``truth=None`` takes the first the eval set can give, in that order.
    """
    from core.errors import InputError

    items = evalset.items
    has_label = "label" in items and items["label"].notna().any()
    keys = evalset.conclusions() if truth in (None, "answers") else None
    right = (evalset.score >= 1.0) & ~pd.isna(keys) if keys is not None else None
    has_answers = right is not None and right.any()
    if truth is None:
        truth = "label" if has_label else "answers" if has_answers else None
        if truth is None:
            raise InputError(f"{evalset.name}: measuring semantic-cache errors needs labels, or "
                             "scored answers (prediction or output with score) to tell a right "
                             "cached answer from a wrong one")
    if truth not in TRUTHS:
        raise InputError(f"truth must be one of {', '.join(TRUTHS)}; got {truth!r}")
    if truth == "label":
        if not has_label:
            raise InputError(f"{evalset.name}: measuring semantic-cache errors by label needs labels")
        return normalize_answers(items["label"].to_numpy(dtype=object)), truth
    if truth == "answers":
        if not has_answers:
            raise InputError(f"{evalset.name}: no model answered an item right, so the right answers "
                             "are not known")
        first = np.argmax(right, axis=1)
        out = keys[np.arange(evalset.n_items), first].astype(object)
        out[~right.any(axis=1)] = None
        return out, truth
    if "input" not in items:
        raise InputError(f"{evalset.name}: measuring semantic-cache errors needs inputs")
    return normalize_answers(items["input"].to_numpy(dtype=object)), truth


def semantic_cache_error_rates(evalset, thresholds, truth: str | None = None) -> pd.DataFrame:
    """How often a semantic hit would serve a wrong answer (a false hit), per similarity threshold.

    Items arrive in eval-set order; a hit reuses the answer of the most similar earlier item of
    the same task (``wordllama`` cosine, as the live cache). A hit is false when that
    neighbour's right answer differs from the item's (:func:`item_truth`). Items whose right
    answer is unknown are left out. Returns one row per threshold: ``threshold, hits,
    hit_rate, wrong, wrong_rate`` (false hits among hits), ``wrong_per_item`` (false hits over
    all items), ``items`` (those with a known right answer) and ``truth`` (the rule used).

    >>> semantic_cache_error_rates(es, [0.9]).columns.tolist()          # doctest: +SKIP
    ['threshold', 'hits', 'hit_rate', 'wrong', 'wrong_rate', 'wrong_per_item', 'items', 'truth']
    """
    from core.errors import InputError

    items = evalset.items
    if "input" not in items:
        raise InputError(f"{evalset.name}: measuring semantic-cache errors needs inputs and labels")
    right, rule = item_truth(evalset, truth)
    keep = items["input"].notna().to_numpy() & ~pd.isna(right)
    inputs = items["input"][keep].astype(str).tolist()
    labels = right[keep]
    tasks = items["task"][keep].fillna("all").to_numpy(dtype=object) if "task" in items else None
    nearest, sim = nearest_previous(inputs, tasks)
    has = nearest >= 0
    wrong_pair = np.zeros(len(inputs), dtype=bool)
    wrong_pair[has] = labels[nearest[has]] != labels[has]
    thr = np.asarray(list(thresholds), dtype=float)
    hit = has[None, :] & reaches(sim[None, :], thr[:, None])  # [n_thresholds, n_items]
    hits = hit.sum(axis=1)
    wrong = (hit & wrong_pair[None, :]).sum(axis=1)
    n = max(len(inputs), 1)
    return pd.DataFrame({
        "threshold": thr, "hits": hits, "hit_rate": hits / n, "wrong": wrong,
        "wrong_rate": np.where(hits > 0, wrong / np.maximum(hits, 1), np.nan),
        "wrong_per_item": wrong / n, "items": len(inputs), "truth": rule,
    })
