"""Sentence embeddings that ship inside a wheel: ``wordllama``'s 256-d static embeddings.

The model files are part of the installed package, so they load offline (the package's own
default load tries to download and fails here). Loaded once per process, on first use.

>>> vectors = embed(["refund my order", "I want my money back", "what is the capital of France?"])
>>> vectors.shape
(3, 256)
>>> sims = cosine(vectors[:1], vectors[1:])
>>> bool(sims[0, 0] > sims[0, 1])
True
"""
from __future__ import annotations

import os
import threading
from functools import lru_cache

import numpy as np

DIM = 256
_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _model():
    import wordllama
    from wordllama import WordLlama

    with _LOCK:
        return WordLlama.load(dim=DIM, cache_dir=os.path.dirname(wordllama.__file__),
                              disable_download=True)


def embed(texts) -> np.ndarray:
    """Unit-norm float32 embeddings ``[len(texts), 256]`` (None or blank text: a zero row)."""
    texts = ["" if t is None else str(t) for t in texts]
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    vectors = np.asarray(_model().embed(texts, norm=True), dtype=np.float32)
    blank = np.array([not t.strip() for t in texts])
    vectors[blank] = 0.0
    return vectors


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of every row of ``a`` with every row of ``b`` (rows already unit norm)."""
    return np.asarray(a, dtype=np.float32) @ np.asarray(b, dtype=np.float32).T
