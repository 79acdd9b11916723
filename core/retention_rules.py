"""Retention: which tags to keep and which manifests may go, decided on the control machine from what the
registry stores (each tag's digest and push time, each manifest's children).

A manifest is deleted through the registry's API by digest, which removes every tag pointing at it (the
Joxit FAQ warns of this). So a digest goes only when no kept tag points at it, and no kept index lists it
among its platform manifests; the platform manifests of an index that goes, go too unless something kept
still uses them.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field

INDEX_TYPES = {"application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.oci.image.index.v1+json"}
DAY = 86400


@dataclass(frozen=True)
class Rule:
    """Keep, in repositories matching `repositories` (a glob), the `keep_last` most recently pushed tags
    and/or the tags pushed within `keep_days` days, and always the tags matching one of `keep_tags`."""

    repositories: str
    keep_last: int | None = None
    keep_days: int | None = None
    keep_tags: tuple = ()

    @classmethod
    def from_data(cls, value: dict) -> Rule:
        return cls(value["repositories"], value.get("keep_last"), value.get("keep_days"),
                   tuple(value.get("keep_tags") or ()))


@dataclass(frozen=True)
class Tag:
    repository: str
    name: str
    digest: str
    pushed: float  # seconds since the epoch


@dataclass
class Decision:
    """What retention does to one repository."""

    repository: str
    rule: Rule
    kept: dict = field(default_factory=dict)  # tag -> why
    deleted: list = field(default_factory=list)  # tags
    digests: dict = field(default_factory=dict)  # digest to delete -> the tags pointing at it now
    spared: dict = field(default_factory=dict)  # digest of a deleted tag that stays -> why

    def lines(self) -> list[str]:
        said = [f"{self.repository} (rule {self.rule.repositories}): keep "
                + (", ".join(f"{tag} ({why})" for tag, why in sorted(self.kept.items())) or "nothing")]
        said.append(f"{self.repository}: delete " + (", ".join(sorted(self.deleted)) or "nothing"))
        for digest, why in sorted(self.spared.items()):
            said.append(f"{self.repository}: {digest[:19]} stays: {why}")
        return said


def children(manifest_json: bytes | str) -> list[str]:
    """The platform manifests an index lists; [] for an image manifest."""
    try:
        document = json.loads(manifest_json)
    except ValueError:
        return []
    if document.get("mediaType") in INDEX_TYPES or "manifests" in document:
        return [entry["digest"] for entry in document.get("manifests") or [] if "digest" in entry]
    return []


def rule_for(repository: str, rules) -> Rule | None:
    """The first rule whose glob matches the repository; None: retention leaves it alone."""
    return next((rule for rule in rules if fnmatch.fnmatchcase(repository, rule.repositories)), None)


def decide(repository: str, tags: list[Tag], manifests: dict[str, list[str]], rule: Rule, now: float) -> Decision:
    """Which tags of one repository stay and which digests may be deleted. `manifests`: every manifest
    digest the repository stores -> the platform manifests it lists."""
    decision = Decision(repository, rule)
    newest_first = sorted(tags, key=lambda t: (t.pushed, t.name), reverse=True)
    for rank, tag in enumerate(newest_first):
        if any(fnmatch.fnmatchcase(tag.name, pattern) for pattern in rule.keep_tags):
            decision.kept[tag.name] = "kept by pattern"
        elif rule.keep_last is not None and rank < rule.keep_last:
            decision.kept[tag.name] = f"among the last {rule.keep_last}"
        elif rule.keep_days is not None and now - tag.pushed <= rule.keep_days * DAY:
            decision.kept[tag.name] = f"pushed within {rule.keep_days} days"
        else:
            decision.deleted.append(tag.name)

    kept_digests = {t.digest for t in tags if t.name in decision.kept}
    in_use = set(kept_digests)
    for digest in kept_digests:
        in_use |= set(manifests.get(digest, []))
    pointing = {}
    for tag in tags:
        pointing.setdefault(tag.digest, []).append(tag.name)
    for tag in tags:
        if tag.name not in decision.deleted:
            continue
        if tag.digest in kept_digests:
            others = sorted(t for t in pointing[tag.digest] if t in decision.kept)
            decision.spared[tag.digest] = (f"kept tag {', '.join(others)} points at it too"
                                           f" (tag {tag.name} stays with it)")
        elif tag.digest in in_use:
            decision.spared[tag.digest] = "a kept index lists it"
        else:
            decision.digests[tag.digest] = sorted(pointing[tag.digest])
    # Platform manifests of an index that goes, unless something kept uses them.
    for digest in list(decision.digests):
        for child in manifests.get(digest, []):
            if child not in in_use and child not in decision.digests:
                decision.digests[child] = []
    # A tag whose digest stays for another kept tag is not deleted after all: deleting it would delete both.
    decision.deleted = [name for name in decision.deleted
                        if next(t.digest for t in tags if t.name == name) in decision.digests]
    for name in (t.name for t in tags if t.digest in decision.spared and t.name not in decision.kept):
        decision.kept[name] = "shares its digest with a kept tag"
    return decision
