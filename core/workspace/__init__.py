"""The store every component writes to: see :mod:`core.workspace.store` (the Workspace),
:mod:`core.workspace.location` (embedded directory or PostgreSQL team mode),
:mod:`core.workspace.writes` (the one write path), :mod:`core.workspace.legacy` (single-file
workspaces of earlier releases) and :mod:`core.workspace.maintenance` (compaction)."""
from core.workspace.store import DEFAULT_PATH, Workspace, default_label, default_path, open_workspace

__all__ = ["DEFAULT_PATH", "Workspace", "default_label", "default_path", "open_workspace"]
