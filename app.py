"""Tradeoff: which LLM should answer which request. ``streamlit run app.py``."""
import streamlit as st

from core.settings import debug
from ui import budget_banner
from ui.errors import boundary
from ui.navigation import PAGES
from ui.state import workspace

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
        st.caption(f"Workspace: `{ws.path.name}`")
        budget_banner.render(ws)  # 70/90/100% budget alerts on every page
    page.run()
