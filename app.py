"""Tradeoff: which LLM should answer which request. ``streamlit run app.py``."""
from pathlib import Path

import streamlit as st

from ui.state import workspace

st.set_page_config(page_title="Tradeoff", page_icon=":material/balance:", layout="wide")

PAGES = {
    "Decide": [
        ("pages/compare.py", "Compare models", ":material/leaderboard:"),
        ("pages/cascade.py", "Cascade tuner", ":material/tune:"),
        ("pages/routing.py", "Routing", ":material/alt_route:"),
        ("pages/experiments.py", "Experiments", ":material/science:"),
    ],
    "Run": [
        ("pages/run.py", "Live run", ":material/play_circle:"),
        ("pages/playground.py", "Playground", ":material/chat:"),
    ],
    "Spend": [
        ("pages/spend.py", "Spend", ":material/payments:"),
        ("pages/budgets.py", "Budgets", ":material/savings:"),
        ("pages/prices.py", "Prices", ":material/sell:"),
    ],
}
here = Path(__file__).parent
navigation = {
    section: [st.Page(path, title=title, icon=icon) for path, title, icon in pages
              if (here / path).exists()]
    for section, pages in PAGES.items()
}
page = st.navigation({k: v for k, v in navigation.items() if v})

ws = workspace()
with st.sidebar:
    st.caption(f"Workspace: `{ws.path.name}`")
    from ui import budget_banner  # 70/90/100% budget alerts on every page

    budget_banner.render(ws)
page.run()
