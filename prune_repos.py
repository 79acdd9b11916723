"""Collect garbage, then remove repositories with no tag left (what UI deletes leave behind):
`pyinfra inventory/<env>.py prune_repos.py`."""

from pyinfra import host

from ops.data import validate
from tasks.maintenance import maintenance_tools, prune_repositories

validate(host)

maintenance_tools()
prune_repositories()
