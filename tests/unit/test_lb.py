"""The load balancer's HAProxy configuration as the deploy renders it."""

from core.haproxy_files import CONNECT_TIMEOUT, haproxy_config

SERVERS = [{"id": "r0", "address": "reg-a", "port": 5000}, {"id": "r1", "address": "reg-b", "port": 5000}]


def test_every_replica_is_a_checked_server_verified_by_its_name(defaults):
    config = haproxy_config(defaults, SERVERS)
    assert "http-check expect rstatus ^(200|401)$" in config
    assert "retry-on conn-failure empty-response response-timeout 502 503 504" in config
    assert "http-request disable-l7-retry unless METH_GET" in config, "a sent upload is never sent twice"
    for server in SERVERS:
        name = server["address"]
        assert f"server {server['id']} {name}:5000 sni str({name}) check-sni {name} verifyhost {name}\n" in config
    assert "bind :5000 ssl crt /etc/haproxy/registry.pem" in config
    assert "http-request set-header X-Forwarded-Proto https" in config


def test_the_stats_page_is_on_loopback_only_and_plain_http_has_no_tls(defaults):
    defaults.update(registry_tls="off", registry_auth="none", registry_lb_stats_port=9000)
    config = haproxy_config(defaults, SERVERS[:1])
    assert "bind 127.0.0.1:9000" in config and "ssl" not in config.replace("ssl-server-verify", "")
    assert "X-Forwarded-Proto http\n" in config and config.count("    server ") == 1


def test_a_vanished_replica_delays_a_request_by_one_connect_timeout_and_is_followed_to_a_new_address(defaults):
    """A host that vanished never refuses a connection: each try gives up after CONNECT_TIMEOUT and goes to
    another replica (not only the last retry), the checks give up as soon, and the names are looked up
    again while running."""
    config = haproxy_config(defaults, SERVERS)
    assert f"timeout connect {CONNECT_TIMEOUT}\n" in config and f"timeout check {CONNECT_TIMEOUT}\n" in config
    assert "option redispatch 1\n" in config
    assert "resolvers system\n    parse-resolv-conf\n" in config
    assert "default-server check inter 1s fall 2 rise 2 resolvers system init-addr last,libc,none" in config
