"""Playground: one prompt to several models side by side, with tokens, cost and latency.

Every call goes to the spend ledger with ``source = 'playground'``.
"""
from __future__ import annotations

import streamlit as st

from core.errors import InputError
from core.live.playground import send_prompt
from ui.run_widgets import key_panel, model_picker, providers_of
from ui.state import workspace

st.title("Playground")
st.caption("Send one prompt to several models at once and compare the answers, their tokens, "
           "cost and latency. Each call is recorded in the spend ledger (source: playground).")
ws = workspace()

models = model_picker("playground_models")
keys, missing = key_panel(providers_of(models) if models else ["anthropic", "openai", "gemini", "local"])
system = st.text_area("System prompt (optional)", key="playground_system", height=80)
prompt = st.text_area("Prompt", key="playground_prompt", height=160)
c1, c2 = st.columns(2)
max_tokens = c1.number_input("Max output tokens", 1, 8192, 512, key="playground_max_tokens")
temperature = c2.slider("Temperature", 0.0, 2.0, 0.0, 0.1, key="playground_temperature")
if missing and models:  # before a model is chosen there is nothing to be missing
    st.error(f"No API key for {', '.join(missing)}: set the environment variable, add it to "
             "`.streamlit/secrets.toml`, or type it under API keys.")

if st.button("Send", type="primary", disabled=not models or bool(missing), key="playground_send",
             icon=":material/send:"):
    try:
        with st.spinner(f"Asking {len(models)} model(s)..."):
            st.session_state["playground_result"] = send_prompt(
                ws, prompt, models, system=system, max_tokens=int(max_tokens),
                temperature=float(temperature), keys=keys)
    except InputError as err:
        st.error(str(err))

result = st.session_state.get("playground_result")
if result is not None and len(result):
    columns = st.columns(len(result))
    for col, row in zip(columns, result.itertuples()):
        with col.container(border=True):
            st.markdown(f"**{row.model}**")
            if row.status == "ok":
                st.markdown(row.output or "_(empty answer)_")
            else:
                st.error(f"{row.status}: {row.error}")
            cost = "price unknown" if row.cost_usd is None or row.cost_usd != row.cost_usd \
                else f"${row.cost_usd:.6f}"
            st.caption(f"{int(row.input_tokens):,} in / {int(row.output_tokens):,} out tokens · "
                       f"{cost} · {row.latency_ms:,.0f} ms")
    st.dataframe(result.drop(columns=["output"]), hide_index=True, width="stretch")
