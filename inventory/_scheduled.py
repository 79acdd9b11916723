"""The scheduler's inventory (core/scheduler.py): the registry and load balancer hosts as the scheduler reaches
them, each with its data as the control machine resolved it, read from the file $REGISTRY_SCHEDULER_HOSTS
names ({group: [[name, data], ...]}), which deploy.py writes on the scheduler host."""

import json
import os
from pathlib import Path

_groups = json.loads(Path(os.environ["REGISTRY_SCHEDULER_HOSTS"]).read_text())

registry_hosts = [tuple(entry) for entry in _groups.get("registry_hosts", [])]
registry_lb = [tuple(entry) for entry in _groups.get("registry_lb", [])]
