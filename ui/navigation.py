"""The page table: section -> (file, title, icon). app.py builds st.navigation from it."""

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
        ("app_pages/gateway.py", "Gateway", ":material/router:"),
    ],
    "Spend": [
        ("app_pages/spend.py", "Spend", ":material/payments:"),
        ("app_pages/budgets.py", "Budgets", ":material/savings:"),
        ("app_pages/prices.py", "Prices", ":material/sell:"),
    ],
}
