"""Generate ``data/sample_evalset.csv``: SYNTHETIC demo data for Tradeoff's first run.

    python data/make_sample.py                 # writes data/sample_evalset.csv (seed 7)
    python data/make_sample.py --out x.csv --seed 3

Nothing here was measured on a real model. The file exists so a new user sees every view of the
app working before they upload their own eval set; the app labels it "synthetic demo data".

How it is made (all draws come from one seeded numpy generator, so a seed gives the same bytes):

* **Items.** Six tasks from customer-support and lead workflows (ticket intent, urgency,
  sentiment, lead qualification, routing to a team, spam). Each item gets a label and a short
  English message built from templates with random slots, openers and sign-offs.
* **Difficulty** is a latent variable per item (standard normal). Hard items (the top ~25%) get
  a distractor sentence that points at a confusable label, so the text itself is ambiguous.
* **Models.** Seven models across Claude, GPT, Gemini and a self-hosted llama tier. The chance
  a model answers an item correctly is ``sigmoid(skill + task_skill - slope * difficulty)``:
  cheap models fall off faster on hard items, which is what makes cascades worth tuning.
  Wrong answers prefer a confusable label.
* **Confidence** is self-reported: it tracks the model's true chance of being right, plus some
  knowledge of the actual outcome, plus noise and overconfidence. Stronger models are better
  calibrated; the local model reports coarse values (multiples of 0.05).
* **Tokens** follow the message length (plus each task's prompt with few-shot examples, whose
  prefix is usually served from the provider's prompt cache); Gemini 2.5 models also bill their
  thinking tokens as output. **Latency** is log-normal per model with a heavy tail.
* **Cost is not in the file**: the app prices tokens with its catalog (genai-prices plus
  ``data/price_overrides.json`` for the local tier), so the pricing path is exercised.
* **Missing results**: a few calls timed out (no prediction, tokens or confidence; latency =
  the 30 s timeout), so missing-score handling shows.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtri

SEED = 7
OUT = Path(__file__).resolve().parent / "sample_evalset.csv"
ITEMS_PER_TASK = 320
TIMEOUT_MS = 30_000

# ------------------------------------------------------------------------------------------------
# Message templates: {slots} are filled from SLOTS. Each task: label -> phrasings.
# ------------------------------------------------------------------------------------------------
SLOTS = {
    "amount": ["$49", "$129", "$18.99", "$1,200", "$349", "$75", "$2,400"],
    "plan": ["Starter", "Team", "Business", "Pro", "Enterprise"],
    "feature": ["reports", "dashboard", "invoices", "calendar sync", "user management", "search",
                "the inbox", "analytics", "file uploads", "the mobile app"],
    "code": ["500", "403", "E-1042", "timeout", "502", "429"],
    "integration": ["Salesforce", "HubSpot", "Slack", "Google Drive", "Zendesk", "QuickBooks"],
    "browser": ["Safari", "Firefox", "Chrome", "Edge"],
    "order": ["#48213", "#50977", "#41120", "#61834", "#73302", "#55519"],
    "days": ["4", "6", "9", "12"],
    "seats": ["12", "25", "40", "150", "300"],
    "name": ["Priya", "Marcus", "Elena", "Tom", "Aisha", "Kenji", "Sofia", "Dan"],
    "competitor": ["a competitor", "another vendor", "an in-house tool", "a cheaper plan elsewhere"],
    "company": ["Northwind", "Acme Logistics", "Brightpath Health", "Kestrel Labs", "Orbit Retail",
                "Blue Harbor Bank", "Tandem Schools", "Vela Foods"],
    "role": ["Head of Operations", "VP Sales", "IT manager", "CFO", "founder", "procurement lead",
             "support director"],
    "employees": ["8", "35", "120", "600", "2,500", "10,000"],
    "use": ["support ticket routing", "lead scoring", "customer onboarding", "sales forecasting",
            "contract review"],
    "weeks": ["2", "4", "6", "8"],
    "url": ["best-deals-now.biz", "seo-rank-fast.net", "win-prize.click", "crypto10x.io"],
    "prize": ["iPhone 17", "$500 gift card", "free cruise", "lifetime membership"],
    "day": ["Friday", "Monday", "end of day", "tomorrow morning"],
    "thing": ["custom fields", "recurring exports", "multi-currency", "audit logs", "webhooks"],
}
OPENERS = ["", "", "Hi, ", "Hello team, ", "Hey there - ", "Good morning, ", "Hi support, ", "Quick one: "]
CLOSERS = ["", "", " Thanks!", " Thanks, {name}.", " Appreciate the help.", " Please advise.",
           " Regards, {name}", " Cheers."]

TASKS: dict[str, dict[str, list[str]]] = {
    "ticket_intent": {
        "billing": ["I was charged {amount} twice for the {plan} plan this month.",
                    "Why is this month's invoice {amount} higher than usual?",
                    "Can you send a receipt for the {amount} payment?",
                    "We were billed for {seats} seats but only use a few of them.",
                    "Please update the card on file, the old one expired."],
        "technical_issue": ["The {feature} page shows error {code} since this morning.",
                            "Sync with {integration} fails with 'token expired'.",
                            "Charts on the dashboard are blank in {browser}.",
                            "{feature} is extremely slow today, pages take a minute to load.",
                            "Our webhook stopped firing after the last update."],
        "account_access": ["I can't log in, the reset link says it expired.",
                           "Locked out after too many attempts, please unlock my account.",
                           "Two-factor codes are not arriving on my new phone.",
                           "SSO keeps sending me back to the sign-in page.",
                           "How do I make {name} an admin on our workspace?"],
        "cancellation": ["Please cancel our subscription at the end of this cycle.",
                         "How do I close my account and delete our data?",
                         "We're moving to {competitor}; what is the notice period?",
                         "Cancel the {plan} plan, we no longer need it.",
                         "Turn off auto-renewal, we will not continue next year."],
        "feature_request": ["It would be great if {feature} supported {thing}.",
                            "Any plans to add {thing} to the API?",
                            "We'd love bulk editing in {feature}.",
                            "Could reports be scheduled weekly by email?",
                            "Please add {thing}, our auditors keep asking."],
    },
    "urgency": {
        "urgent": ["Production is down for all {seats} users, error {code} everywhere.",
                   "Checkout is failing right now and we are losing orders.",
                   "Someone logged into our admin account from an unknown country.",
                   "Payroll export is broken and payroll runs in two hours."],
        "high": ["{feature} has been failing for our team since yesterday, need a fix by {day}.",
                 "Half of our agents cannot open {feature}.",
                 "Invoices went out with the wrong totals, customers are calling.",
                 "The {integration} sync is stuck and our pipeline is out of date."],
        "normal": ["The {feature} export is missing one column.",
                   "How do I change the currency on invoices?",
                   "A user sees an old version of {feature} after refreshing.",
                   "Can you explain the {amount} line on our last invoice?"],
        "low": ["Small typo on the settings page.",
                "Just curious whether {thing} is on the roadmap.",
                "No rush: can you share the brand assets for a blog post?",
                "When you have time, could you tidy up our unused tags?"],
    },
    "sentiment": {
        "positive": ["Love the new {feature}, it saves us hours every week.",
                     "{name} on your team was fantastic, problem solved in minutes.",
                     "Great release, the {integration} integration finally just works.",
                     "Honestly the best support we've had from any vendor."],
        "neutral": ["Can you confirm the renewal date for our {plan} plan?",
                    "We updated our billing address last week.",
                    "Please share the documentation for {thing}.",
                    "Noting that {name} will be our new account contact."],
        "negative": ["Third time this month {feature} is broken. Very frustrating.",
                     "Your latest update made {feature} unusable for us.",
                     "Still waiting for an answer after {days} days, this is unacceptable.",
                     "We pay {amount} a month and the product keeps failing."],
    },
    "lead_qualification": {
        "qualified": ["I'm the {role} at {company} ({employees} employees). We're evaluating tools "
                      "for {use} and have budget approved; we'd like to start in {weeks} weeks.",
                      "{company} here, {employees} staff. Need {use} for {seats} seats this quarter, "
                      "can we get a quote and a demo?",
                      "Our contract with {competitor} ends next month. I'm the {role} at {company}, "
                      "looking for a {plan} plan for {seats} users.",
                      "Procurement asked me to shortlist vendors for {use}; decision in {weeks} weeks, "
                      "budget is set."],
        "not_qualified": ["I'm a student doing a class project on {use}, is there a free plan?",
                          "Just browsing, no plans to buy anything right now.",
                          "We're a two-person side project with no budget until next year.",
                          "Do you have job openings in sales?",
                          "Researching {use} for a blog post, could I interview someone?"],
    },
    "routing": {
        "billing_team": ["Our invoice shows {amount} extra for add-ons we never enabled.",
                         "Need a refund for the duplicate charge on our card.",
                         "Please switch us from monthly to annual billing."],
        "tech_support": ["Error {code} when uploading files larger than a few MB.",
                         "The {integration} connector stopped syncing contacts.",
                         "{feature} won't load in {browser}."],
        "sales": ["We'd like pricing for {seats} seats on the {plan} plan.",
                  "Can we get a demo for our {use} team?",
                  "Interested in upgrading to {plan}, what's included?"],
        "customer_success": ["Could we schedule a training session for new hires?",
                             "We want to roll {feature} out to more teams, any best practices?",
                             "Our renewal is coming up and we'd like a usage review."],
        "trust_safety": ["A user in our workspace is sending abusive messages.",
                         "We found a phishing page that copies your login screen.",
                         "Please remove content posted from a compromised account."],
    },
    "spam": {
        "spam": ["Boost your SEO ranking today! Visit {url}",
                 "Congratulations, you've won a {prize}. Claim now at {url}",
                 "We sell cheap backlinks and guest posts, reply for price list.",
                 "Crypto opportunity: 10x returns guaranteed, see {url}",
                 "Dear sir, kindly confirm your bank details to receive funds."],
        "not_spam": ["I was charged {amount} twice for the {plan} plan.",
                     "The {feature} page shows error {code}.",
                     "Could we schedule a demo for {seats} seats?",
                     "Partnership idea: we integrate with {integration}, worth a call?",
                     "Please cancel our subscription at the end of this cycle."],
    },
}
# Wrong answers (and distractor sentences on hard items) favour these neighbours.
CONFUSABLE = {
    "billing": "cancellation", "cancellation": "billing", "technical_issue": "account_access",
    "account_access": "technical_issue", "feature_request": "technical_issue",
    "urgent": "high", "high": "urgent", "normal": "high", "low": "normal",
    "positive": "neutral", "neutral": "negative", "negative": "neutral",
    "qualified": "not_qualified", "not_qualified": "qualified",
    "billing_team": "sales", "tech_support": "customer_success", "sales": "customer_success",
    "customer_success": "sales", "trust_safety": "tech_support",
    "spam": "not_spam", "not_spam": "spam",
}
# Instruction + few-shot prompt per task, in tokens (the shared, cacheable prefix).
PROMPT_TOKENS = {"ticket_intent": 1240, "urgency": 1105, "sentiment": 1060,
                 "lead_qualification": 1380, "routing": 1290, "spam": 1030}

# ------------------------------------------------------------------------------------------------
# Models: skill (logit at average difficulty), slope (how fast it falls off on hard items),
# per-task skill, calibration (how much its confidence knows), latency and token habits.
# ------------------------------------------------------------------------------------------------
MODELS = {
    # name:                     skill slope  calib overconf noise  tok   ms_base ms/tok sigma think cache
    "local:llama-3.1-8b":       (1.45, 1.25, 0.35, 1.20, 0.90, 1.02, 110, 9.0, 0.45, 0, 0.80),
    "gpt-4o-mini":              (1.55, 1.05, 0.55, 0.90, 0.75, 1.00, 380, 11.0, 0.40, 0, 0.85),
    "gemini-2.5-flash":         (2.05, 0.90, 0.70, 0.70, 0.60, 0.96, 520, 4.5, 0.45, 160, 0.70),
    "claude-haiku-4-5":         (2.20, 0.90, 0.75, 0.55, 0.55, 1.10, 450, 9.0, 0.35, 0, 0.00),
    "gpt-4.1":                  (2.60, 0.80, 0.80, 0.50, 0.50, 1.00, 650, 14.0, 0.40, 0, 0.85),
    "gemini-2.5-pro":           (3.10, 0.70, 0.90, 0.35, 0.45, 0.96, 1400, 6.0, 0.50, 420, 0.70),
    "claude-sonnet-4-5":        (3.30, 0.65, 0.95, 0.30, 0.40, 1.10, 900, 16.0, 0.40, 0, 0.00),
}
FIELDS = ("skill", "slope", "calib", "overconf", "noise", "tok_factor", "ms_base", "ms_per_tok",
          "lat_sigma", "think_tokens", "cache_rate")
# Extra skill per (model, task): small models struggle most with judgement-heavy tasks.
TASK_SKILL = {
    "local:llama-3.1-8b": {"lead_qualification": -0.9, "urgency": -0.5, "spam": 0.7, "sentiment": 0.4},
    "gpt-4o-mini": {"lead_qualification": -0.5, "spam": 0.6, "sentiment": 0.3},
    "gemini-2.5-flash": {"routing": 0.2, "urgency": -0.2},
    "claude-haiku-4-5": {"sentiment": 0.3, "lead_qualification": -0.2},
    "gpt-4.1": {"routing": 0.3},
    "gemini-2.5-pro": {"lead_qualification": 0.3},
    "claude-sonnet-4-5": {"urgency": 0.2},
}
TIMEOUT_RATE = 0.003
ITEM_CORRELATION = 0.55  # how much models' errors coincide on the same items
AMBIGUOUS_RATE = 0.02  # items whose gold label is debatable: most models disagree with it
SEGMENT_VALUE = {"smb": (7.5, 0.6), "mid": (9.9, 0.5), "enterprise": (11.9, 0.5)}  # log-normal $/yr


def _fill(template: str, rng: np.random.Generator) -> str:
    """Fill {slots} in a template with random choices."""
    out = template
    for key, options in SLOTS.items():
        token = "{" + key + "}"
        while token in out:
            out = out.replace(token, options[rng.integers(len(options))], 1)
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def make_items(rng: np.random.Generator) -> pd.DataFrame:
    """One row per item: id, message, task, label, difficulty and metadata."""
    rows = []
    for task, by_label in TASKS.items():
        labels = list(by_label)
        # Realistic label balance: the first label of a task is the common case.
        weights = np.linspace(1.6, 0.8, len(labels))
        weights /= weights.sum()
        for k in range(ITEMS_PER_TASK):
            label = labels[rng.choice(len(labels), p=weights)]
            difficulty = rng.normal()
            text = _fill(by_label[label][rng.integers(len(by_label[label]))], rng)
            if difficulty > 0.7:  # hard item: a sentence that points at a confusable label
                pool = by_label[CONFUSABLE[label]]
                distractor = _fill(pool[rng.integers(len(pool))], rng)
                text = f"{text} {('P.S. ', 'Also: ', 'Separately: ')[rng.integers(3)]}{distractor}"
            message = _fill(OPENERS[rng.integers(len(OPENERS))], rng) + text + _fill(
                CLOSERS[rng.integers(len(CLOSERS))], rng)
            segment = ("smb", "mid", "enterprise")[rng.choice(3, p=[0.55, 0.3, 0.15])]
            mu, sd = SEGMENT_VALUE[segment]
            urgent = label in ("urgent", "high") or ("down" in text) or (rng.random() < 0.06)
            rows.append({"item_id": f"{task[:4]}-{k + 1:04d}", "input": message, "task": task,
                         "label": label, "segment": segment,
                         "value_usd": int(round(float(np.exp(rng.normal(mu, sd))), -1)),
                         "urgent": bool(urgent), "_difficulty": difficulty})
    return pd.DataFrame(rows)


def make_results(items: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """One row per (item, model): prediction, confidence, tokens, latency (vectorized per model)."""
    n = len(items)
    d = items["_difficulty"].to_numpy()
    tasks = items["task"].to_numpy()
    labels = items["label"].to_numpy(dtype=object)
    words = items["input"].str.split().str.len().to_numpy()
    prompt = np.array([PROMPT_TOKENS[t] for t in tasks])
    confusable = np.array([CONFUSABLE[x] for x in labels], dtype=object)
    task_labels = {t: list(v) for t, v in TASKS.items()}
    shared = rng.normal(size=n)
    ambiguous = rng.random(n) < AMBIGUOUS_RATE
    frames = []
    for model, values in MODELS.items():
        p = dict(zip(FIELDS, values))
        task_skill = np.array([TASK_SKILL.get(model, {}).get(t, 0.0) for t in tasks])
        logit = p["skill"] + task_skill - p["slope"] * d
        p_correct = _sigmoid(logit)
        # Models fail on the same items more often than chance: a shared per-item draw
        # (Gaussian copula) correlates their errors; ambiguous gold labels trip everyone.
        p_correct = np.where(ambiguous, p_correct * 0.2, p_correct)
        draw = ITEM_CORRELATION * shared + np.sqrt(1 - ITEM_CORRELATION**2) * rng.normal(size=n)
        correct = draw < ndtri(np.clip(p_correct, 1e-9, 1 - 1e-9))
        # Wrong answers: the confusable label 60% of the time, otherwise any other label.
        random_other = np.array([_other(task_labels[t], y, rng) for t, y in zip(tasks, labels)], dtype=object)
        wrong = np.where(rng.random(n) < 0.6, confusable, random_other)
        prediction = np.where(correct, labels, wrong).astype(object)
        # Self-reported confidence: the model's belief (shrunk), a hint of the real outcome,
        # overconfidence and noise. Stronger models: higher calib, lower overconf and noise.
        belief = p["calib"] * logit + (1 - p["calib"]) * 1.5
        hint = np.where(correct, 1.0, -1.0) * p["calib"] * 0.5
        conf = _sigmoid(belief + hint + p["overconf"] + rng.normal(0, p["noise"], n))
        step = 0.05 if model.startswith("local:") else 0.01
        conf = np.clip(np.round(conf / step) * step, 0.05, 0.99).round(2)
        # Tokens: cached prompt prefix + the message; answers are a short JSON object.
        msg_tokens = np.ceil(words * 1.35 * p["tok_factor"]).astype(int)
        input_tokens = np.round(prompt * p["tok_factor"]).astype(int) + msg_tokens + 12
        cached = np.where(rng.random(n) < p["cache_rate"],
                          (np.round(prompt * p["tok_factor"]) // 128 * 128).astype(int), 0)
        think = (np.round(rng.gamma(2.0, p["think_tokens"] / 2.0, n)).astype(int)
                 if p["think_tokens"] else np.zeros(n, dtype=int))
        output_tokens = 14 + rng.integers(0, 9, n) + think
        # Latency: time to first token + per-token time, log-normal noise, and a heavy tail.
        base = p["ms_base"] + p["ms_per_tok"] * output_tokens + 0.02 * input_tokens
        latency = base * np.exp(rng.normal(0, p["lat_sigma"], n))
        tail = rng.random(n) < 0.03
        latency = np.where(tail, latency * rng.uniform(2.5, 8.0, n), latency)
        latency = np.minimum(latency, TIMEOUT_MS - 1).round().astype(int)
        frame = pd.DataFrame({"item_id": items["item_id"], "model": model, "prediction": prediction,
                              "confidence": conf, "input_tokens": input_tokens,
                              "cached_input_tokens": cached, "output_tokens": output_tokens,
                              "latency_ms": latency})
        timed_out = rng.random(n) < TIMEOUT_RATE
        frame = frame.astype({c: "object" for c in ("prediction", "confidence", "input_tokens",
                                                    "cached_input_tokens", "output_tokens")})
        frame.loc[timed_out, ["prediction", "confidence", "input_tokens", "cached_input_tokens",
                              "output_tokens"]] = None
        frame.loc[timed_out, "latency_ms"] = TIMEOUT_MS
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _other(options: list[str], label: str, rng: np.random.Generator) -> str:
    rest = [o for o in options if o != label]
    return rest[rng.integers(len(rest))]


def build(seed: int = SEED) -> pd.DataFrame:
    """The whole long-format eval set for ``seed`` (rows sorted by item, then model)."""
    rng = np.random.default_rng(seed)
    items = make_items(rng)
    results = make_results(items, rng)
    item_cols = ["item_id", "input", "task", "label", "segment", "value_usd", "urgent"]
    long = items[item_cols].merge(results, on="item_id", how="left")
    order = {m: i for i, m in enumerate(MODELS)}
    long = long.sort_values(["item_id", "model"], key=lambda s: s.map(order) if s.name == "model" else s,
                            kind="stable")
    return long.reset_index(drop=True)


def write(path: str | Path = OUT, seed: int = SEED) -> Path:
    path = Path(path)
    build(seed).to_csv(path, index=False, lineterminator="\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    path = write(args.out, args.seed)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
