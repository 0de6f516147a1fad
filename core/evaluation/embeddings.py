"""Sentence embeddings that ship inside a wheel: ``wordllama``'s 256-d static embeddings.

The model files are part of the installed package, so they load offline (the package's own
default load tries to download and fails here). Loaded once per process, on first use.

>>> vectors = embed(["refund my order", "I want my money back", "what is the capital of France?"])
>>> vectors.shape
(3, 256)
>>> sims = cosine(vectors[:1], vectors[1:])
>>> bool(sims[0, 0] > sims[0, 1])
True

A text's vector is the mean of its tokens' vectors, scaled to unit length: what
``WordLlama.embed(texts, norm=True)`` returns, computed as one sparse product (texts x vocabulary
token counts, times the embedding table) instead of padded batches, so 7,000 prompts of a few
hundred tokens take about a second of CPU, not five.
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


def _token_ids(texts: list[str]) -> list[list[int]]:
    """Token ids of every text, unpadded (the tokenizer is shared: padding is switched off under
    the lock and restored)."""
    tokenizer = _model().tokenizer
    with _LOCK:
        padding = tokenizer.padding
        tokenizer.no_padding()
        try:
            encoded = tokenizer.encode_batch(texts, add_special_tokens=False)
        finally:
            if padding is not None:
                tokenizer.enable_padding(**padding)
    return [e.ids for e in encoded]


def embed(texts) -> np.ndarray:
    """Unit-norm float32 embeddings ``[len(texts), 256]`` (None or blank text: a zero row)."""
    import scipy.sparse as sp

    texts = ["" if t is None else str(t) for t in texts]
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    table = _model().embedding
    ids = _token_ids(texts)
    lengths = np.array([len(i) for i in ids], dtype=np.int64)
    flat = np.concatenate([np.asarray(i, dtype=np.int64) for i in ids] + [np.zeros(0, np.int64)])
    rows = np.repeat(np.arange(len(texts)), lengths)
    counts = sp.csr_matrix((np.ones(len(flat), dtype=np.float32),
                            (rows, np.clip(flat, 0, table.shape[0] - 1))),
                           shape=(len(texts), table.shape[0]))
    vectors = np.asarray(counts @ table, dtype=np.float32) / np.maximum(lengths, 1)[:, None]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = np.where(norms > 0, vectors / np.maximum(norms, 1e-12), 0.0).astype(np.float32)
    blank = np.array([not t.strip() for t in texts])
    vectors[blank] = 0.0
    return vectors


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of every row of ``a`` with every row of ``b`` (rows already unit norm)."""
    return np.asarray(a, dtype=np.float32) @ np.asarray(b, dtype=np.float32).T
