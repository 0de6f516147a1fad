"""Prices: the catalog every cost in Tradeoff comes from, edits to it, and a cost calculator."""
from __future__ import annotations

import streamlit as st

from core.errors import InputError
from core.pricing.catalog import search_catalog
from core.pricing.edits import delete_override, load_edits, set_override
from ui.prices_view import price_table
from ui.state import catalog, workspace

MAIN_PROVIDERS = ["anthropic", "openai", "google", "local"]

st.title("Prices")
ws = workspace()
cat = catalog()
st.caption(f"Sources: {cat.snapshot_label()}. USD per million tokens. Precedence: your edits "
           "(stored in the workspace) > `data/price_overrides.json` > genai-prices.")

frame = cat.frame()
left, middle, right = st.columns([2, 3, 1])
query = left.text_input("Search models", key="price_search")
all_providers = sorted(frame["provider"].dropna().unique())
own = frame.loc[frame["layer"] != "genai-prices", "provider"].dropna().tolist()
default = [p for p in all_providers if p in MAIN_PROVIDERS or p in own]
providers = middle.multiselect("Providers", all_providers, default=default, key="price_providers")
show_hidden = right.toggle("Show replaced prices", key="price_hidden",
                           help="Rows replaced by an edit or by the override file")
shown = search_catalog(frame, query, providers, include_hidden=show_hidden)
price_table(shown, "price_table")
st.caption(f"{len(shown):,} of {len(frame):,} prices shown. Rows marked *Estimate* are self-hosting "
           "costs we estimated, not list prices: edit them with your own numbers.")

edit_col, calc_col = st.columns(2)
with edit_col:
    st.subheader("Edit or add a price")
    model = st.text_input("Model", key="price_edit_model",
                          help="Bare (gpt-4o-mini) or with a provider (openai:gpt-4o-mini, local:my-model)")
    current = cat.price_for(model) if model.strip() else None
    suffix = model.strip().lower()  # new widgets (prefilled) whenever the model changes
    c1, c2 = st.columns(2)
    new_input = c1.number_input("Input $/MTok", min_value=0.0, step=0.01, format="%.4f",
                                value=current.input_per_mtok if current else 0.0, key=f"pe_in_{suffix}")
    new_output = c2.number_input("Output $/MTok", min_value=0.0, step=0.01, format="%.4f",
                                 value=current.output_per_mtok if current else 0.0, key=f"pe_out_{suffix}")
    new_read = c1.number_input("Cached read $/MTok (empty = input price)", min_value=0.0, step=0.01,
                               format="%.4f", value=current.cached_read_per_mtok if current else None,
                               key=f"pe_read_{suffix}")
    new_write = c2.number_input("Cache write $/MTok (empty = input price)", min_value=0.0, step=0.01,
                                format="%.4f", value=current.cached_write_per_mtok if current else None,
                                key=f"pe_write_{suffix}")
    tiers = st.text_input("Tiers (optional JSON)", key=f"pe_tiers_{suffix}",
                          help='e.g. [{"start": 200000, "input_per_mtok": 6, "output_per_mtok": 22.5}]: '
                               "the tier's prices apply to every token of a call whose input exceeds start")
    note = st.text_input("Note", key=f"pe_note_{suffix}", help="Where the numbers come from")
    if current is not None:
        st.caption(f"Now: {current.layer} ({current.source}, {current.snapshot_date or 'undated'}).")
    if st.button("Save price", key="price_save", type="primary"):
        try:
            saved = set_override(ws, model, new_input, new_output, new_read, new_write,
                                 tiers=tiers or None, note=note)
        except InputError as err:
            st.error(str(err))
        else:
            st.session_state["price_flash"] = (
                f"Saved: {saved.model} at ${saved.input_per_mtok:g} in / ${saved.output_per_mtok:g} "
                "out per MTok. Eval sets loaded from now on use it.")
            st.rerun()
    if "price_flash" in st.session_state:
        st.success(st.session_state.pop("price_flash"))

    edits = load_edits(ws)
    if edits:
        gone = st.selectbox("Your edits", [p.model for p in edits], key="price_delete_model")
        if st.button("Delete edit", key="price_delete"):
            delete_override(ws, gone)
            st.session_state["price_flash"] = f"Deleted your price for {gone}."
            st.rerun()

with calc_col:
    st.subheader("Cost calculator")
    calc_model = st.text_input("Model", value="claude-haiku-4-5", key="calc_model")
    a, b = st.columns(2)
    in_tokens = a.number_input("Input tokens (cached included)", min_value=0, value=1500, step=100,
                               key="calc_in")
    out_tokens = b.number_input("Output tokens", min_value=0, value=200, step=50, key="calc_out")
    read_tokens = a.number_input("Cached read tokens", min_value=0, value=0, step=100, key="calc_read")
    write_tokens = b.number_input("Cache write tokens", min_value=0, value=0, step=100, key="calc_write")
    calls = st.number_input("Calls", min_value=1, value=1000, step=100, key="calc_calls")
    cost = cat.call_cost(calc_model, in_tokens, out_tokens, read_tokens, write_tokens)
    if cost is None:
        st.warning(f"No price for '{calc_model}': add one on the left.")
    else:
        m1, m2 = st.columns(2)
        m1.metric("Cost per call", f"${cost:,.6f}")
        m2.metric(f"Cost of {calls:,} calls", f"${cost * calls:,.2f}")
        used = cat.price_for(calc_model)
        st.caption(f"Priced as {used.qualified_name} from {used.layer}"
                   + (" (estimate)" if used.estimate else "") + ".")
