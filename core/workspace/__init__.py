"""The store every component writes to: see :mod:`core.workspace.store` (the Workspace),
:mod:`core.workspace.location` (embedded directory or PostgreSQL team mode),
:mod:`core.workspace.writes` (the one write path), :mod:`core.workspace.legacy` (single-file
workspaces of earlier releases), :mod:`core.workspace.maintenance` (compaction),
:mod:`core.workspace.versions` (which tables changed, from the catalog) and
:mod:`core.workspace.readcache` (small reads repeated only after a change)."""
from core.workspace.store import DEFAULT_PATH, Workspace, default_label, default_path, open_workspace

__all__ = ["DEFAULT_PATH", "Workspace", "default_label", "default_path", "open_workspace"]
