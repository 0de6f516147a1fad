"""Confidence from token log-probabilities.

``label_token_probability`` returns the probability the model gave to the first token of the
label it chose: for ``{"label": "B", ...}`` the token that starts ``B``; for ``<label>B</label>``
likewise; for a bare answer, the first non-blank token. A model that hesitated between labels
spreads its probability over their first tokens, so this number falls when it is unsure. It is
only defined where the provider returns log-probabilities (OpenAI and most OpenAI-compatible
servers); elsewhere the verbalized confidence is used.

>>> toks = [('{"', -0.01), ('label', -0.01), ('":', -0.01), (' "', -0.01), ('B', -0.2231), ('"}', -0.01)]
>>> round(label_token_probability(toks), 3)
0.8
"""
from __future__ import annotations

import math
import re

_VALUE_START = re.compile(r'"label"\s*:\s*"?|<label>\s*')


def label_token_probability(tokens: list[tuple[str, float]]) -> float | None:
    """Probability of the token where the label's value starts, or None if it cannot be found."""
    if not tokens:
        return None
    text = "".join(tok for tok, _ in tokens)
    match = _VALUE_START.search(text)
    if match:
        offset = match.end()
    else:
        stripped = len(text) - len(text.lstrip())
        offset = stripped if stripped < len(text) else None
    if offset is None or offset >= len(text):
        return None
    position = 0
    for tok, logprob in tokens:
        end = position + len(tok)
        if position <= offset < end:
            if logprob is None or not math.isfinite(logprob):
                return None
            return float(math.exp(logprob))
        position = end
    return None
