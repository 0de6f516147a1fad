"""Tradeoff: which LLM should answer which request. ``streamlit run app.py``."""
import streamlit as st

from ui import budget_banner
from ui.state import workspace

st.set_page_config(page_title="Tradeoff", page_icon=":material/balance:", layout="wide")

PAGES = {
    "Decide": [
        ("app_pages/compare.py", "Compare models", ":material/leaderboard:"),
        ("app_pages/cascade.py", "Cascade tuner", ":material/tune:"),
        ("app_pages/routing.py", "Routing", ":material/alt_route:"),
        ("app_pages/experiments.py", "Experiments", ":material/science:"),
    ],
    "Run": [
        ("app_pages/run.py", "Live run", ":material/play_circle:"),
        ("app_pages/playground.py", "Playground", ":material/chat:"),
    ],
    "Spend": [
        ("app_pages/spend.py", "Spend", ":material/payments:"),
        ("app_pages/budgets.py", "Budgets", ":material/savings:"),
        ("app_pages/prices.py", "Prices", ":material/sell:"),
    ],
}
page = st.navigation({
    section: [st.Page(path, title=title, icon=icon) for path, title, icon in pages]
    for section, pages in PAGES.items()
})

ws = workspace()
with st.sidebar:
    st.caption(f"Workspace: `{ws.path.name}`")
    budget_banner.render(ws)  # 70/90/100% budget alerts on every page
page.run()
