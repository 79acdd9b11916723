"""Retention: keep the tags the rules say, delete the rest by digest, then collect their garbage.

What the registry stores is read once from the host (`registry-maintenance tags`: each tag's digest and
push time, each manifest; on S3 from the bucket, a tag's push time being its link object's time); the decision
is made here (core/retention_rules.py), and carried out on the host under the maintenance lock
(`registry-maintenance delete-manifests`, then the same read-only GC as gc.py; across replicas, both inside
the window in which every replica is read-only).
"""

from __future__ import annotations

import time

from pyinfra import host, inventory
from pyinfra.api import deploy
from pyinfra.api.exceptions import DeployError

from core import topology
from core.retention_rules import Rule, decide, rule_for
from ops.maintenance import StoredTags
from ops.report import log_once

from .maintenance import across_replicas, run_chore

EMPTY = {"tags": [], "manifests": {}}


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


# The decision across replicas, made once per run from the first replica's listing of the shared store
# (this module is imported once per run), so that every replica and load balancer runs the same chore.
_shared: dict = {}


def _decisions(rules, stored_on) -> list:
    if not topology.shared_store(inventory):
        return plan_retention(host.get_fact(StoredTags) or EMPTY, rules, time.time())
    if "decisions" not in _shared:
        _shared["decisions"] = plan_retention(stored_on.get_fact(StoredTags) or EMPTY, rules, time.time())
    return _shared["decisions"]


@deploy("Retention")
def retention():
    """On each registry host of its own; on replicas of one S3 store, once across all of them (the load
    balancers draining each replica in turn, as gc.py does), deciding from the store itself."""
    data = host.data
    rules = [Rule.from_data(rule) for rule in data.registry_retention_rules]
    if not rules:
        raise DeployError("No registry_retention_rules: nothing would be kept or deleted (see"
                          " docs/retention-and-backup.md)")
    shared = topology.shared_store(inventory)
    if not shared and not topology.is_registry(host):
        return
    decisions = _decisions(rules, topology.replicas(inventory)[0]["host"] if shared else host)
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
    name = f"{len(doomed)} manifests are deleted and their garbage collected"
    if shared:
        across_replicas(name, "delete-manifests", *doomed)
    else:
        run_chore(name, "delete-manifests", *doomed)
