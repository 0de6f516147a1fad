"""Prompt caching: the providers' rules, the hit rate a request rate gives, what a call costs.

A provider caches the shared start of a prompt (its prefix: the system prompt, the instructions,
the few-shot examples). A request whose prefix is still in the cache pays the cache-read rate on
it; a request that misses writes it (Anthropic charges a premium for the write, OpenAI and Gemini
do not). The rates come from the price catalog (``cached_read_per_mtok``,
``cached_write_per_mtok``: genai-prices, the override file, a workspace edit); the rules below
(shortest cacheable prefix, how long an entry lives) are the providers' documented ones, each
with its source.

Hit rate: with requests arriving at random (Poisson) at ``rate`` per second, a request finds the
prefix cached when the previous one came less than ``ttl`` seconds before it (every provider
here keeps an entry alive for ``ttl`` after its last use), so ``P(hit) = 1 - exp(-rate * ttl)``.

>>> from core.pricing.catalog import default_catalog
>>> haiku = default_catalog().price_for("claude-haiku-4-5")   # $1 in, $0.10 read, $1.25 write
>>> rule = cache_rule("claude-haiku-4-5", haiku)
>>> rule.min_tokens, rule.ttl_s
(4096, 300.0)
>>> round(float(hit_rate(1 / 60, 300.0)), 4)                  # one request a minute, 5-minute TTL
0.9933
>>> read, write = cache_split(5000.0, 0.5, rule, input_tokens=6000.0)
>>> float(read), float(write)                                  # half the calls read, half write
(2500.0, 2500.0)
>>> float(haiku.cost(6000, 100, read, write))                  # (1000 + 250 + 3125 + 500) / 1e6
0.004875
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from core.pricing.sources import ModelPrice, split_name

__all__ = ["CHARS_PER_TOKEN", "CacheRule", "cache_rule", "hit_rate", "cache_split", "estimate_tokens"]

# Offline token estimate (tiktoken cannot download its tables here): OpenAI's rule of thumb of
# about four characters of English per token. Every figure built on it says it is an estimate.
CHARS_PER_TOKEN = 4.0

ANTHROPIC_SOURCE = ("Anthropic prompt caching docs (docs.anthropic.com, build-with-claude/prompt-"
                    "caching): prefixes of at least 1,024 tokens (2,048 for Haiku 3 and 3.5, 4,096 "
                    "for Haiku 4.5 and Opus 4.5), 5-minute lifetime refreshed by every hit; writes "
                    "1.25x and reads 0.1x the input price")
OPENAI_SOURCE = ("OpenAI prompt caching guide (platform.openai.com/docs/guides/prompt-caching): "
                 "automatic for prompts of 1,024 tokens or more, no charge for writes, entries "
                 "cleared after 5-10 minutes without use (5 taken)")
GOOGLE_SOURCE = ("Gemini API context caching docs (ai.google.dev/gemini-api/docs/caching): implicit "
                 "caching from 1,024 tokens (Flash) or 4,096 (Pro), no charge for writes; its "
                 "lifetime is not published (5 minutes assumed)")
LOCAL_SOURCE = ("vLLM automatic prefix caching (docs.vllm.ai, automatic_prefix_caching): blocks of "
                "16 tokens, kept until memory is needed (5 minutes assumed)")


@dataclass(frozen=True)
class CacheRule:
    """A provider's prompt-cache rule: the shortest prefix it caches and how long an entry lives."""

    provider: str
    min_tokens: int
    ttl_s: float
    source: str


def cache_rule(model: str, price: ModelPrice | None) -> CacheRule | None:
    """The documented cache rule of ``model``'s provider (None: no rule known, no what-if)."""
    provider = (price.provider if price is not None and price.provider else split_name(model)[0]) or ""
    name = split_name(model)[1].lower()
    if provider == "anthropic":
        if re.search(r"haiku-4|opus-4-5|opus-4\.5", name):
            minimum = 4096
        elif re.search(r"haiku", name):
            minimum = 2048
        else:
            minimum = 1024
        return CacheRule("anthropic", minimum, 300.0, ANTHROPIC_SOURCE)
    if provider == "openai":
        return CacheRule("openai", 1024, 300.0, OPENAI_SOURCE)
    if provider == "google":
        return CacheRule("google", 4096 if "pro" in name else 1024, 300.0, GOOGLE_SOURCE)
    if provider == "local":
        return CacheRule("local", 16, 300.0, LOCAL_SOURCE)
    return None


def hit_rate(requests_per_s, ttl_s) -> np.ndarray:
    """P(the previous request came within ``ttl_s``) under Poisson arrivals: ``1 - exp(-rate*ttl)``.

    >>> hit_rate(np.array([0.0, 0.01, 1.0]), 300.0).round(4).tolist()
    [0.0, 0.9502, 1.0]
    """
    rate = np.clip(np.asarray(requests_per_s, dtype=float), 0.0, None)
    return -np.expm1(-rate * float(ttl_s))


def cache_split(prefix_tokens, hit, rule: CacheRule | None, input_tokens) -> tuple[np.ndarray, np.ndarray]:
    """Expected cache-read and cache-write tokens per call: ``hit * P`` read, ``(1 - hit) * P``
    written, where P is the prefix (never more than the call's input); a prefix shorter than the
    rule's minimum (or no rule) is not cached at all.

    >>> rule = CacheRule("openai", 1024, 300.0, "")
    >>> [a.tolist() for a in cache_split(np.array([1000.0, 2000.0]), 0.75, rule, np.array([3000.0, 1500.0]))]
    [[0.0, 1125.0], [0.0, 375.0]]
    """
    prefix = np.asarray(prefix_tokens, dtype=float)
    inp = np.asarray(input_tokens, dtype=float)
    if rule is None:
        zero = np.zeros(np.broadcast(prefix, inp).shape)
        return zero, zero
    cached = np.where(np.nan_to_num(prefix) >= rule.min_tokens, np.fmin(np.nan_to_num(prefix), inp), 0.0)
    cached = np.nan_to_num(cached)
    h = np.asarray(hit, dtype=float)
    return h * cached, (1.0 - h) * cached


def estimate_tokens(chars) -> np.ndarray:
    """Tokens of a text of ``chars`` characters, estimated offline (:data:`CHARS_PER_TOKEN`).

    >>> estimate_tokens(np.array([0, 9, 4000])).tolist()
    [0.0, 3.0, 1000.0]
    """
    return np.ceil(np.asarray(chars, dtype=float) / CHARS_PER_TOKEN)
