"""Retention: keep the tags the rules say, delete the rest by digest, then collect their garbage.

What the registry stores is read once from the host (`registry-maintenance tags`: each tag's digest and
push time, each manifest); the decision is made here (core/retention_rules.py), and carried out on the host under
the maintenance lock (`registry-maintenance delete-manifests`, then the same read-only GC as gc.py).
"""

from __future__ import annotations

import time

from pyinfra import host
from pyinfra.api import deploy
from pyinfra.api.exceptions import DeployError

from core.retention_rules import Rule, decide, rule_for
from ops.maintenance import StoredTags
from ops.report import log_once

from .maintenance import run_chore


def plan_retention(stored: dict, rules, now: float) -> list:
    """One decision per repository a rule covers."""
    by_repository = {}
    for tag in stored["tags"]:
        by_repository.setdefault(tag.repository, []).append(tag)
    decisions = []
    for repository, tags in sorted(by_repository.items()):
        rule = rule_for(repository, rules)
        if rule:
            decisions.append(decide(repository, tags, stored["manifests"].get(repository, {}), rule, now))
    return decisions


@deploy("Retention")
def retention():
    data = host.data
    rules = [Rule.from_data(rule) for rule in data.registry_retention_rules]
    if not rules:
        raise DeployError("No registry_retention_rules: nothing would be kept or deleted (see"
                          " docs/retention-and-backup.md)")
    if data.registry_storage == "s3":
        raise DeployError(f"{host.name}: retention does not run on S3 storage yet (it needs every replica"
                          f" read-only); nothing was done")
    stored = host.get_fact(StoredTags) or {"tags": [], "manifests": {}}
    decisions = plan_retention(stored, rules, time.time())
    for decision in decisions:
        for line in decision.lines():
            log_once(line)
    doomed = [f"{d.repository}@{digest}={','.join(tags)}" for d in decisions for digest, tags in d.digests.items()]
    if not data.registry_retention_apply:
        log_once(f"dry run: {len(doomed)} manifests would be deleted; run with --data registry_retention_apply=True")
        host.noop("retention dry run")
        return
    if not doomed:
        host.noop("retention: nothing to delete")
        return
    if not data.registry_delete_enabled:
        raise DeployError(f"{host.name}: registry_delete_enabled is False: retention cannot delete")
    run_chore(f"{len(doomed)} manifests are deleted and their garbage collected", "delete-manifests", *doomed)
