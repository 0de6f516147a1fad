"""Widgets shared by the Live run and Playground pages: models, keys, progress.

Keys typed here live in ``st.session_state`` only (this browser session), are handed to the
provider adapters in memory, and are never written anywhere.
"""
from __future__ import annotations

import streamlit as st

from core.errors import InputError
from core.live.keys import key_status
from core.settings import PROVIDERS
from ui.state import catalog

PRESETS = [
    "anthropic:claude-haiku-4-5", "anthropic:claude-sonnet-4-5", "openai:gpt-4.1-mini",
    "openai:gpt-4o-mini", "openai:gpt-4.1", "gemini:gemini-2.5-flash-lite",
    "gemini:gemini-2.5-flash", "gemini:gemini-2.5-pro", "local:llama-3.1-8b",
]
SOURCE_TEXT = {"session": "typed for this session", "env": "from the environment",
               "secrets": "from .streamlit/secrets.toml", None: "missing"}


def _price_label(model_id: str) -> str:
    price = catalog().price_for(model_id)
    if price is None:
        return f"{model_id} · price unknown"
    return f"{model_id} · ${price.input_per_mtok:g} in / ${price.output_per_mtok:g} out per Mtok"


def model_picker(key: str, default: list[str] | None = None) -> list[str]:
    """Presets from the price catalog plus any ``provider:model`` typed in; validated."""
    from core.live.providers import parse_model_id

    chosen = st.multiselect("Models", PRESETS, default=default or [], key=f"{key}_presets",
                            format_func=_price_label)
    extra = st.text_input("Other models (provider:model, comma-separated)", key=f"{key}_extra",
                          help="Providers: anthropic, openai, gemini, local (any OpenAI-compatible "
                               "server at LOCAL_BASE_URL).")
    models = list(dict.fromkeys(chosen + [m.strip() for m in extra.split(",") if m.strip()]))
    bad = []
    for model in models:
        try:
            parse_model_id(model)
        except InputError as err:
            bad.append(str(err))
    for message in bad:
        st.error(message)
    return [] if bad else models


def session_keys() -> dict[str, str]:
    """Keys typed into this session (provider -> key); never stored elsewhere."""
    return {p: st.session_state[f"api_key_{p}"].strip() for p in PROVIDERS
            if st.session_state.get(f"api_key_{p}", "").strip()}


def key_panel(providers: list[str]) -> tuple[dict[str, str], list[str]]:
    """Per provider: where its key comes from, and a password box to type one for this session.

    Returns (session keys, providers still missing a key).
    """
    missing = []
    with st.expander("API keys", expanded=False):
        st.caption("Keys come from environment variables, `.streamlit/secrets.toml`, or are typed "
                   "here for this browser session only. They are never written to the workspace, "
                   "the ledger, logs or exports.")
        status = key_status(session_keys())
        for provider in providers:
            source = status.get(provider)
            if provider == "local" and source is None:
                st.markdown(f"**{provider}**: no key needed for most local servers")
            else:
                colour = "green" if source else "red"
                st.markdown(f"**{provider}**: :{colour}[{SOURCE_TEXT[source]}]")
            st.text_input(f"{provider} API key (this session only)", type="password",
                          key=f"api_key_{provider}")
        status = key_status(session_keys())
    for provider in providers:
        if provider != "local" and status.get(provider) is None:
            missing.append(provider)
    return session_keys(), missing


def providers_of(models: list[str]) -> list[str]:
    from core.live.providers import parse_model_id

    return sorted({parse_model_id(m)[0] for m in models})


def progress_view(progress, key: str = "run") -> None:
    """A progress bar with counts, spend so far and an ETA."""
    st.progress(min(1.0, progress.fraction),
                text=f"{progress.done:,} / {progress.total:,} calls · {progress.status}")
    cols = st.columns(5)
    cols[0].metric("Answered", f"{progress.ok:,}")
    cols[1].metric("From cache", f"{progress.cached:,}")
    cols[2].metric("Failed", f"{progress.failed:,}")
    cols[3].metric("Spend so far", f"${progress.spend_usd:,.4f}")
    eta = "-" if progress.eta_s is None or progress.status != "running" else f"{progress.eta_s:,.0f} s"
    cols[4].metric("ETA", eta)
    if progress.resumed:
        st.caption(f"{progress.resumed:,} calls were answered by an earlier attempt of this run "
                   "and were not asked again.")
