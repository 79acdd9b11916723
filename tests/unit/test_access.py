"""Who may do what: registry_access's rules as the access proxy gets them, and the proxy's configuration
checked by HAProxy itself where it is installed (the end-to-end tests run it for real)."""

import re

import pytest

from core.access import catalog_users, glob_regex, rules
from core.haproxy_files import proxy_config
from core.secrets import DEPLOY_USER, PULL_USER


@pytest.mark.parametrize("glob,name,matches", [
    ("team-a/*", "team-a/app", True), ("team-a/*", "team-a/x/y", True), ("team-a/*", "team-b/app", False),
    ("team-a/*", "team-ab/app", False), ("*", "anything/at/all", True), ("app?", "app1", True),
    ("a.b", "axb", False),
])
def test_a_glob_matches_repository_names_as_retention_rules_do(glob, name, matches):
    assert bool(re.fullmatch(glob_regex(glob), name)) == matches


def test_without_registry_access_every_user_is_admin_and_the_built_in_users_keep_their_roles(defaults):
    defaults.update(registry_users=["admin", "ci"])
    assert rules(defaults) == [
        {"users": [DEPLOY_USER], "repositories": "*", "role": "admin"},
        {"users": [PULL_USER], "repositories": "*", "role": "pull"},
        {"users": ["admin", "ci"], "repositories": "*", "role": "admin"}]


def test_the_catalog_is_for_whom_the_operator_names_and_the_deploy_always(defaults):
    defaults.update(registry_users=["admin", "ci"],
                    registry_access=[{"users": ["ci"], "repositories": "team/*", "role": "push"}])
    assert catalog_users(defaults) == sorted({"ci", DEPLOY_USER, PULL_USER})
    defaults.update(registry_catalog_users=["admin"])
    assert catalog_users(defaults) == ["admin", DEPLOY_USER]


def test_the_proxy_remembers_no_password_only_an_hmac_and_lets_each_rule_do_its_roles_methods(defaults):
    defaults.update(registry_users=["admin", "ci"],
                    registry_access=[{"users": ["ci"], "repositories": "team/*", "role": "push"}])
    config = proxy_config("r1", defaults)
    assert "hmac(sha256," in config and "insecure-password" not in config
    assert "path_reg ^/v2/team/.*/(manifests|blobs|tags|referrers)/" in config
    assert "http-request allow if user3 repository3 push_methods" in config
    assert "http-request del-header Authorization" in config
