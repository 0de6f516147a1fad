"""The "Save this policy" panel shared by the Cascade tuner and Routing pages."""
from __future__ import annotations

import streamlit as st

from core.errors import InputError
from core.routing.policies.base import Policy
from core.routing.optimize.store import policy_json, save_policy
from ui.state import workspace


def save_policy_panel(policy: Policy, meta: dict, default_name: str, key: str,
                      name_key: str | None = None) -> None:
    """Download the policy as JSON (the file `python -m core score` reads) or save it.

    ``name_key`` lets a page reset the suggested name when the kind of policy changes.
    """
    with st.expander("Save this policy", expanded=False):
        name = st.text_input("Policy name", value=default_name, key=name_key or f"{key}_policy_name")
        st.download_button("Download as JSON", policy_json(policy, meta),
                           file_name=f"{key}_policy.json", mime="application/json",
                           key=f"{key}_download")
        if st.button("Save to workspace", key=f"{key}_save"):
            try:
                save_policy(workspace(), name, policy, meta)
            except InputError as err:
                st.error(str(err))
            else:
                st.success(f"Saved '{name}' to the workspace.")
