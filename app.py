"""Tradeoff: which LLM should answer which request. ``streamlit run app.py``."""
from core.workspace import engine, location

# DuckLake's extension files take 0.4-1 s to load: start now, while the pages' imports run
engine.preload(location.resolve().scanner)

import streamlit as st  # noqa: E402

from core.settings import debug  # noqa: E402
from ui import budget_banner  # noqa: E402
from ui.errors import boundary  # noqa: E402
from ui.navigation import PAGES  # noqa: E402
from ui.state import workspace  # noqa: E402

st.set_page_config(page_title="Tradeoff", page_icon=":material/balance:", layout="wide")

page = st.navigation({
    section: [st.Page(path, title=title, icon=icon) for path, title, icon in pages]
    for section, pages in PAGES.items()
})

if debug():
    st.set_option("client.showErrorDetails", "full")  # developers and tests see tracebacks
with boundary():  # no error reaches the browser as a traceback (ui.errors)
    ws = workspace()  # every page needs it: when it cannot be opened, that is said once, here
    with st.sidebar, boundary():
        st.caption(f"Workspace: `{ws.path.name if ws.path else ws.label}`")
        budget_banner.render(ws)  # 70/90/100% budget alerts on every page
    page.run()
