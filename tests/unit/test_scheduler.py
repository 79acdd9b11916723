"""core/scheduler.py: what the scheduler host is given (its copy of the project, its inventory, its units, the
secrets' copy), and the checks that make a schedule need it."""

import io
import json
import tarfile

import pytest

from core import scheduler as sched
from core import topology
from core.data import DataError, validate
from core.secrets import COPY_MARKER, SecretMissing, SecretStore
from dev.operator import Data
from tests.unit.inventories import host_of, inventory_of

S3 = dict(registry_storage="s3", registry_s3_endpoint="http://10.0.0.5:7480", registry_s3_bucket="registry",
          registry_s3_access_key="AKIA0123")


def test_the_projects_copy_is_the_same_bytes_every_time_and_holds_no_inventory_but_the_schedulers():
    archive = sched.project_archive()
    assert archive == sched.project_archive()
    names = tarfile.open(fileobj=io.BytesIO(archive)).getnames()
    assert {"gc.py", "retention.py", "config.py", "requirements.txt", "inventory/_scheduled.py",
            "files/registry-maintenance.sh", "core/scheduler.py"} <= set(names)
    assert not [name for name in names if name.startswith("inventory/") and name != "inventory/_scheduled.py"]
    assert not [name for name in names if "__pycache__" in name or name.startswith(("tests/", "dev/", "sandbox/"))]


def test_a_hosts_data_reaches_the_scheduler_with_its_connection_secrets_and_node_exporter_decided(defaults):
    data = Data(defaults, ssh_user="deployer", ssh_port=22701, ssh_key="/home/me/.ssh/id", _sudo=True,
                gc_schedule="daily", registry_scheduler_ssh_hostname="10.0.0.7")
    carried = sched.host_data(host_of("r1", data), dict(data), "deployer", True, (False, "admin"))
    assert (carried["ssh_hostname"], carried["ssh_port"], carried["ssh_user"]) == ("10.0.0.7", 22, "deployer")
    assert carried["ssh_key"] == sched.KEY_FILE and carried["ssh_known_hosts_file"] == sched.KNOWN_HOSTS
    assert carried["ssh_strict_host_key_checking"] == "yes" and carried["_sudo"] is True
    assert carried["_sudo_user"] == "admin", "the deploy's --sudo-user, as the deploy itself ran"
    assert carried["registry_secrets_dir"] == sched.SECRETS_DIR and carried["registry_config_src"] == sched.CONFIG_SRC
    assert carried["registry_node_exporter"] is True and "gc_schedule" not in carried
    assert json.loads(sched.hosts_file({"registry_hosts": [["r1", carried]]}))["registry_hosts"][0][1] == carried
    with pytest.raises(DataError, match="as JSON"):
        sched.hosts_file({"registry_hosts": [["r1", {"registry_x": object()}]]})


def test_known_hosts_name_a_port_other_than_22_as_ssh_does():
    assert sched.known_hosts({("a", 22): ["ssh-ed25519 AAA"], ("b", 2222): ["ssh-rsa BBB"]}) == \
        b"a ssh-ed25519 AAA\n[b]:2222 ssh-rsa BBB\n"


def test_each_chore_runs_pyinfra_from_its_timer_retention_applying_and_no_missed_run_made_up_at_boot():
    units = sched.unit_files({"gc": "Sun *-*-* 03:00:00", "retention": "daily"}, 3600)
    service = units[f"{sched.UNITS}/registry-scheduled-retention.service"][0].decode()
    assert f"ExecStart=/usr/bin/flock {sched.RUN_LOCK} /opt/registry-scheduler/venv/bin/pyinfra -y" \
           " inventory/_scheduled.py retention.py --data registry_retention_apply=True" in service, \
        "one scheduled run at a time: two at once would each hold some replicas' locks and wait for the other's"
    assert "TimeoutStartSec=3600" in service
    assert f"Environment={sched.HOSTS_VARIABLE}={sched.HOSTS_FILE}" in service
    timer = units[f"{sched.UNITS}/registry-scheduled-gc.timer"][0].decode()
    assert "OnCalendar=Sun *-*-* 03:00:00" in timer and "Persistent" not in timer


def test_the_scheduler_runs_gc_only_for_replicas_and_retention_on_any_storage(defaults):
    scheduled = Data(defaults, registry_gc_schedule="daily", registry_retention_schedule="weekly")
    assert sched.scheduled_chores(scheduled, shared_store=False) == {"retention": "weekly"}
    assert sched.scheduled_chores(scheduled, shared_store=True) == {"gc": "daily", "retention": "weekly"}


def test_the_secrets_copy_holds_what_the_chores_read_never_the_ca_key_and_makes_nothing(defaults, tmp_path,
                                                                                       monkeypatch):
    monkeypatch.setenv("REGISTRY_S3_SECRET_KEY", "from-the-environment")
    store = SecretStore(defaults.registry_secrets_dir)
    copy = store.copy_for_scheduler(s3=True, auth=True, own_ca=True)
    assert set(copy) == {COPY_MARKER, "s3-secret-key", "passwords/registry-deploy", "ca.crt"}
    assert copy["s3-secret-key"] == b"from-the-environment" and copy["ca.crt"] == store.ca()[0]
    for path, content in copy.items():
        (tmp_path / "copy" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "copy" / path).write_bytes(content)
    copied = SecretStore(str(tmp_path / "copy"))
    assert copied.is_copy() and copied.ca_certificate() == store.ca()[0]
    assert copied.password("registry-deploy") == store.password("registry-deploy")
    with pytest.raises(SecretMissing, match="deploy.py from the control machine"):
        copied.password("alice")
    with pytest.raises(SecretMissing):
        copied.ca()
    assert not (tmp_path / "copy" / "ca.key").exists()


def test_a_gc_schedule_on_replicas_needs_a_scheduler_and_two_are_refused(defaults, monkeypatch):
    monkeypatch.setenv("REGISTRY_S3_SECRET_KEY", "not-in-the-repo")
    replica = host_of("r0", Data(defaults, **S3, registry_gc_schedule="Sun *-*-* 03:00:00"), "registry_hosts")
    inventory_of([replica])
    with pytest.raises(DataError, match="registry_gc_schedule='Sun .*needs a host in the registry_scheduler group"):
        validate(replica)
    inventory_of([replica, host_of("s", defaults, "registry_scheduler")])
    validate(replica)
    inventory_of([replica, host_of("s", defaults, "registry_scheduler"), host_of("t", defaults, "registry_scheduler")])
    with pytest.raises(DataError, match="registry_scheduler holds 2 hosts"):
        validate(replica)


def test_a_retention_schedule_needs_rules_and_the_same_schedule_on_every_registry(defaults):
    rules = [{"repositories": "*", "keep_last": 3}]
    first = host_of("a", Data(defaults, registry_retention_schedule="daily"), "registry_hosts")
    inventory_of([first, host_of("s", defaults, "registry_scheduler")])
    with pytest.raises(DataError, match="registry_retention_schedule='daily': needs registry_retention_rules"):
        validate(first)
    first.data.update(registry_retention_rules=rules)
    second = host_of("b", Data(defaults, registry_retention_rules=rules), "registry_hosts")
    inventory_of([first, second, host_of("s", defaults, "registry_scheduler")])
    with pytest.raises(DataError, match="registry_retention_schedule must be the same on every host .* b differs"):
        validate(first)
    second.data.update(registry_retention_schedule="daily")
    validate(first)
    assert topology.scheduled_chores(first.inventory) == {"retention": "daily"}


def test_the_schedulers_own_run_needs_no_scheduler_and_no_file_only_the_control_machine_holds(defaults, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / COPY_MARKER).write_text("copy")
    data = Data(defaults, registry_secrets_dir=str(copy), registry_tls="provided", registry_tls_cert="/nowhere.crt",
                registry_tls_key="/nowhere.key", registry_retention_schedule="daily",
                registry_retention_rules=[{"repositories": "*", "keep_last": 3}])
    replica = host_of("r0", data, "registry_hosts")
    inventory_of([replica])
    validate(replica)
    data.update(registry_secrets_dir=defaults.registry_secrets_dir)
    with pytest.raises(DataError, match="registry_tls_cert='/nowhere.crt'"):
        validate(replica)
