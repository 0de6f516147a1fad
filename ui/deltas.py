"""One rule for ``st.metric`` deltas: the sign first, and nothing that only looks like a change.

Streamlit draws a delta's arrow from its text (down when it starts with "-", up otherwise) and
its colour from ``delta_color``. A difference that rounds to zero at the precision shown must not
read as a gain or a loss: ``+0.000`` in green, ``-0.0%`` or ``$0.00`` in red. :func:`signed`
writes ``-$8.10`` / ``+0.012 vs big`` and, when the shown digits are all zero, a grey "same as"
without an arrow::

    st.metric("Quality", "0.750", **signed(0.0004, "{:.3f}", "big", same="same quality as big"))
"""
from __future__ import annotations

import math
from collections.abc import Callable


def signed(diff: float | None, fmt: str | Callable[[float], str], versus: str | None = None, *,
           lower_is_better: bool = False, same: str = "no change") -> dict:
    """Keyword arguments for ``st.metric``: ``delta`` (sign first), ``delta_color``, ``delta_arrow``.

    >>> signed(-8.1, "${:,.2f}", lower_is_better=True)
    {'delta': '-$8.10', 'delta_color': 'inverse', 'delta_arrow': 'auto'}
    >>> signed(0.012, "{:.3f}", "big")["delta"], signed(-0.0004, "{:.3f}", "big", same="same as big")
    ('+0.012 vs big', {'delta': 'same as big', 'delta_color': 'off', 'delta_arrow': 'off'})
    """
    if diff is None or (isinstance(diff, float) and math.isnan(diff)):
        return {}
    render = fmt.format if isinstance(fmt, str) else fmt
    text = render(abs(diff))
    if not any(ch in "123456789" for ch in text):  # every digit shown is 0
        return {"delta": same, "delta_color": "off", "delta_arrow": "off"}
    return {"delta": ("-" if diff < 0 else "+") + text + (f" vs {versus}" if versus else ""),
            "delta_color": "inverse" if lower_is_better else "normal", "delta_arrow": "auto"}
