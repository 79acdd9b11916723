"""Who may do what on a registry: the roles of `registry_access`, as the access proxy in front of each
registry enforces them (files/auth-proxy.cfg.j2). Pure: no pyinfra, no host.

A role covers what the ones before it do: "pull" reads manifests, blobs and tags; "push" also uploads
and tags; "admin" also deletes. A rule grants a role to users on the repositories a glob matches (`*` any
characters, "/" too, as in registry_retention_rules); a user has whatever any rule gives them. The deploy's own
user is admin everywhere (its chores need it); the built-in pull user may pull everything.
"""

from __future__ import annotations

import re

from .secrets import DEPLOY_USER, PULL_USER

ROLES = ("pull", "push", "admin")
# The HTTP methods each role may use on a repository's paths (/v2/<name>/manifests|blobs|tags|referrers/).
METHODS = {"pull": ("GET", "HEAD"), "push": ("GET", "HEAD", "POST", "PUT", "PATCH"),
           "admin": ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")}
# A repository glob: the distribution spec's name characters, and * and ?.
GLOB = re.compile(r"[a-z0-9*?][a-z0-9._/*?-]{0,254}")


def glob_regex(glob: str) -> str:
    """The regular expression (PCRE, unanchored) of a repository glob: `team-a/*` -> `team\\-a/.*`."""
    return "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in glob)


def rules(data) -> list[dict]:
    """Every grant, the built-in ones first: [{"users": [...], "repositories": glob, "role": role}]. Without
    registry_access, every user of registry_users is admin of every repository."""
    given = data.get("registry_access")
    if given is None:
        given = [{"users": list(data.get("registry_users") or []), "repositories": "*", "role": "admin"}]
    return [{"users": [DEPLOY_USER], "repositories": "*", "role": "admin"},
            {"users": [PULL_USER], "repositories": "*", "role": "pull"},
            *({"users": list(rule["users"]), "repositories": rule["repositories"], "role": rule["role"]}
              for rule in given)]


def catalog_users(data) -> list[str]:
    """Who may list every repository: registry_catalog_users, else every user a rule names; the deploy's
    own user always (its chores walk the catalog)."""
    named = data.get("registry_catalog_users")
    if named is None:
        named = [user for rule in rules(data) for user in rule["users"]]
    return sorted({DEPLOY_USER, *named})


def problems(data) -> list[str]:
    """What is wrong with registry_access and registry_catalog_users, each naming the key and the value."""
    found = []
    users = set(data.get("registry_users") or []) | {PULL_USER}
    given = data.get("registry_access")
    if given is not None and not isinstance(given, (list, tuple)):
        return [f"registry_access={given!r}: must be None or a list of rules like"
                ' {"users": ["ci"], "repositories": "team-a/*", "role": "push"}']
    for number, rule in enumerate(given or [], 1):
        where = f" (rule {number}: {rule!r})"
        if not isinstance(rule, dict) or set(rule) != {"users", "repositories", "role"}:
            found.append(f"registry_access={given!r}: each rule must have exactly the keys users, repositories"
                         f" and role{where}")
            continue
        if rule["role"] not in ROLES:
            found.append(f"registry_access={given!r}: role must be one of {', '.join(ROLES)}{where}")
        if not isinstance(rule["repositories"], str) or not GLOB.fullmatch(rule["repositories"]):
            found.append(f"registry_access={given!r}: repositories must be a glob of repository names like"
                         f" team-a/* (lowercase letters, digits, '.', '_', '/', '-', '*', '?'){where}")
        if not isinstance(rule["users"], (list, tuple)) or not rule["users"] \
                or not set(rule["users"]) <= users:
            found.append(f"registry_access={given!r}: users must be a non-empty list of registry_users"
                         f" (or {PULL_USER!r}){where}")
    catalog = data.get("registry_catalog_users")
    if catalog is not None and (not isinstance(catalog, (list, tuple)) or not set(catalog) <= users):
        found.append(f"registry_catalog_users={catalog!r}: must be None or a list of registry_users")
    return found
