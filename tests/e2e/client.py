"""How the tests reach the sandbox's registries as clients: over HTTP from this machine, and with curl on a
sandbox host as the deploy's own probes do."""

import requests

from sandbox.settings import SECRETS_DIR


def session(user: str | None = "admin") -> requests.Session:
    """HTTP as a client of the sandbox's registries: their CA trusted, logged in as `user` (None: anonymous)."""
    client = requests.Session()
    client.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would replace the CA given here
    client.verify = str(SECRETS_DIR / "ca.crt")
    if user:
        client.auth = (user, (SECRETS_DIR / "passwords" / user).read_text())
    return client


# On a sandbox host: curl as the deploy's own probes are, with "$REGISTRY_URL" and "$UI_URL" set.
# $CLIENT_URL is where clients reach the registry: the access proxy when users are on, else the registry.
HOST_CURL = ('. /usr/local/lib/registry-deploy/common.sh; CLIENT_URL=${PROXY_URL:-$REGISTRY_URL};'
             ' curl -s -K "$CURL_CONFIG"')
# The manifest type every image the tests push has.
ACCEPT = "application/vnd.docker.distribution.manifest.v2+json"
