"""Retention decisions: which tags stay, which digests may be deleted, from tags, push times and indexes."""

import json

from core.retention_rules import Rule, Tag, children, decide, rule_for

NOW = 1_800_000_000.0
HOUR = 3600


def tags(*entries):
    """(name, digest, hours ago) -> Tags of repository app."""
    return [Tag("app", name, digest, NOW - hours * HOUR) for name, digest, hours in entries]


# 6 tags over 4 digests: v1 and stable share d2, latest is kept by pattern whatever its age.
APP = tags(("latest", "sha256:d1", 50), ("v1", "sha256:d2", 40), ("stable", "sha256:d2", 39),
           ("v2", "sha256:d3", 30), ("v3", "sha256:d4", 20), ("v4", "sha256:d4", 10))


def test_keep_last_three_with_a_pattern_keeps_exactly_those_and_never_a_shared_digest():
    rule = Rule("app", keep_last=3, keep_tags=("latest",))
    decision = decide("app", APP, {}, rule, NOW)
    assert sorted(decision.kept) == ["latest", "v2", "v3", "v4"]
    assert sorted(decision.deleted) == ["stable", "v1"]
    assert decision.digests == {"sha256:d2": ["stable", "v1"]}


def test_a_deleted_tag_sharing_its_digest_with_a_kept_tag_stays():
    rule = Rule("app", keep_last=2)  # v4 and v3 kept; v3's digest d4 is v4's too
    decision = decide("app", APP, {}, rule, NOW)
    assert "sha256:d4" not in decision.digests
    assert set(decision.digests) == {"sha256:d1", "sha256:d2", "sha256:d3"}
    assert sorted(decision.kept) == ["v3", "v4"]


def test_a_tag_pointing_at_a_kept_tags_digest_is_kept_with_it():
    rule = Rule("app", keep_last=1)  # only v4; v3 points at the same digest
    decision = decide("app", APP, {}, rule, NOW)
    assert decision.kept["v3"] == "shares its digest with a kept tag" and "v3" not in decision.deleted
    assert "sha256:d4" in decision.spared


def test_keep_days_keeps_what_was_pushed_recently():
    decision = decide("app", APP, {}, Rule("app", keep_days=1), NOW)
    assert sorted(decision.kept) == ["v3", "v4"]


def test_an_index_that_goes_takes_its_platform_manifests_unless_a_kept_tag_uses_them():
    repo = [Tag("multi", "old", "sha256:idx1", NOW - 90 * HOUR), Tag("multi", "new", "sha256:idx2", NOW),
            Tag("multi", "arm-only", "sha256:arm", NOW - 95 * HOUR)]
    manifests = {"sha256:idx1": ["sha256:amd", "sha256:arm"], "sha256:idx2": ["sha256:amd2", "sha256:arm2"],
                 "sha256:amd": [], "sha256:arm": [], "sha256:amd2": [], "sha256:arm2": []}
    decision = decide("multi", repo, manifests, Rule("multi", keep_last=1, keep_tags=("arm-*",)), NOW)
    assert sorted(decision.kept) == ["arm-only", "new"]
    assert decision.digests == {"sha256:idx1": ["old"], "sha256:amd": []}, "arm stays: a kept tag uses it"


def test_a_platform_manifest_a_kept_index_lists_is_never_deleted():
    repo = [Tag("multi", "all", "sha256:idx", NOW), Tag("multi", "amd-old", "sha256:amd", NOW - 99 * HOUR)]
    decision = decide("multi", repo, {"sha256:idx": ["sha256:amd"]}, Rule("multi", keep_last=1), NOW)
    assert decision.digests == {} and decision.spared == {"sha256:amd": "a kept index lists it"}


def test_the_first_matching_rule_applies_and_unmatched_repositories_are_left_alone():
    rules = [Rule("team/*", keep_last=5), Rule("*", keep_last=1)]
    assert rule_for("team/app", rules).keep_last == 5 and rule_for("hello", rules).keep_last == 1
    assert rule_for("hello", rules[:1]) is None


def test_index_children_are_read_from_the_manifest():
    index = {"mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"digest": "sha256:a"}, {"digest": "sha256:b"}]}
    assert children(json.dumps(index)) == ["sha256:a", "sha256:b"]
    assert children(json.dumps({"mediaType": "application/vnd.oci.image.manifest.v1+json", "layers": []})) == []
    assert children("not json") == []
