"""Turn a cost per request into spend per day, month and year at a traffic volume.

A month is 365/12 days (30.42), so twelve months make the year exactly.

>>> project_spend(0.002, 10_000)
{'day': 20.0, 'month': 608.3333333333334, 'year': 7300.0}
>>> project_by_task({"billing": 0.001, "legal": 0.01}, {"billing": 1000, "legal": 100})["day"].tolist()  # + total
[1.0, 1.0, 2.0]
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from core.errors import InputError

DAYS_PER_YEAR = 365.0
DAYS_PER_MONTH = DAYS_PER_YEAR / 12


def _volume(value, what: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a number of requests per day; got {value!r}") from None
    if math.isnan(v) or v < 0:
        raise InputError(f"{what} must be zero or more requests per day; got {value!r}")
    return v


def project_spend(cost_per_item: float, requests_per_day: float) -> dict[str, float]:
    """Spend in USD per day, month and year (NaN when the cost per item is unknown)."""
    per_day = float(cost_per_item) * _volume(requests_per_day, "Volume")
    return {"day": per_day, "month": per_day * DAYS_PER_MONTH, "year": per_day * DAYS_PER_YEAR}


def project_by_task(cost_per_item: dict[str, float], requests_per_day: dict[str, float]) -> pd.DataFrame:
    """Per task: requests/day, cost per item and spend per day/month/year, plus a ``total`` row.

    Tasks with traffic but no known cost per item raise InputError (spend cannot be guessed);
    tasks with a cost but no traffic get 0 requests.
    """
    volume = {str(t): _volume(v, f"Requests per day for '{t}'") for t, v in requests_per_day.items()}
    unknown = [t for t, v in volume.items() if v > 0 and t not in cost_per_item]
    if unknown:
        raise InputError(f"No cost per item is known for task(s) {', '.join(unknown)}: "
                         "they are not in this eval set")
    tasks = list(dict.fromkeys([*cost_per_item, *volume]))
    frame = pd.DataFrame({
        "task": tasks,
        "requests_per_day": [volume.get(t, 0.0) for t in tasks],
        "cost_per_item": [float(cost_per_item.get(t, np.nan)) for t in tasks],
    })
    frame["day"] = np.where(frame["requests_per_day"] > 0,
                            frame["requests_per_day"] * frame["cost_per_item"], 0.0)
    frame["month"] = frame["day"] * DAYS_PER_MONTH
    frame["year"] = frame["day"] * DAYS_PER_YEAR
    total_req = frame["requests_per_day"].sum()
    total = {"task": "total", "requests_per_day": total_req,
             "cost_per_item": frame["day"].sum() / total_req if total_req else np.nan,
             "day": frame["day"].sum(), "month": frame["month"].sum(), "year": frame["year"].sum()}
    return pd.concat([frame, pd.DataFrame([total])], ignore_index=True)


def cost_by_task(outcome, tasks) -> dict[str, float]:
    """Mean cost per item of an Outcome within each task (items with unknown cost skipped)."""
    frame = pd.DataFrame({"task": pd.Series(tasks, dtype="object").astype(str), "cost": outcome.cost})
    return frame.groupby("task", sort=False)["cost"].mean().to_dict()
