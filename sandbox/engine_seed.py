"""The engine's store with the registry, UI and access-proxy images already loaded, copied into each new
`--engine` host's /var/lib/docker volume: such a host starts as one a deploy has loaded the images on before.

Loading three archives costs a host about 3 s of CPU (the upload, `docker load` unpacking and hashing every
layer), and make test gives some fifty such hosts a first deploy; a copy of the loaded store costs a fraction
of that. The deploy still checks every image by ID and loads whatever differs. Hosts made without the engine
(the install's tests, `make demo`) load the archives as any new host does.
"""

import hashlib

from docker.errors import APIError
from docker.types import Mount

from core.archives import archive_image_id, archive_name

from .local_docker import SandboxError
from .offline_images import HAPROXY_IMAGE, REGISTRY_IMAGE, UI_IMAGE
from .settings import IMAGE_DIR, LABEL, SLOT_LABEL, SYSTEM_CONTAINER, UNCONFINED_PATHS

# What a default deploy of the sandbox inventory loads.
SEEDED = (REGISTRY_IMAGE, UI_IMAGE, HAPROXY_IMAGE)
# Which seed volume was loaded whole (written last: a seed whose load was interrupted is loaded into again).
RECORD = IMAGE_DIR / "engine-seed"
STORE = "/var/lib/docker"
# Loading needs the engine running, though never a container: no bridge, no firewall rules. What it leaves
# of its networks is dropped, so each host's engine sets up its own as on a first start.
LOAD = """
dockerd --bridge=none --iptables=false --ip6tables=false >/tmp/dockerd.log 2>&1 &
for _ in $(seq 300); do docker info >/dev/null 2>&1 && break; sleep 0.1; done
for archive in /archives/*.tar; do docker load -q -i "$archive" || { cat /tmp/dockerd.log; exit 1; }; done
kill %1 && wait
rm -rf /var/lib/docker/network /var/lib/docker/buildkit /var/lib/docker/tmp
"""


def _run(client, image, command, mounts):
    host_config = client.api.create_host_config(mounts=mounts, **SYSTEM_CONTAINER)  # an engine runs in it
    host_config.update(UNCONFINED_PATHS)
    created = client.api.create_container(image, command=["sh", "-c", command], entrypoint=[],
                                          labels={LABEL: "build"}, host_config=host_config)
    try:
        client.api.start(created["Id"])
        if client.api.wait(created["Id"], timeout=300)["StatusCode"] != 0:
            raise SandboxError(f"{command.strip().splitlines()[0]} failed:\n"
                               f"{client.api.logs(created['Id'], tail=20).decode(errors='replace')}")
    finally:
        client.api.remove_container(created["Id"], force=True)


def ensure_engine_seed(client, engine_image: str) -> str:
    """The name of the seed volume for this engine image and these archives, made when missing and loaded
    into unless this checkout recorded it loaded whole; other recipes' seeds are removed when not in use."""
    archives = [IMAGE_DIR / archive_name(image) for image in SEEDED]
    missing = [str(path) for path in archives if not path.exists()]
    if missing:
        raise SandboxError(f"no archive to seed the engine with: {', '.join(missing)} (python -m sandbox images)")
    engine_id = client.images.get(engine_image).id
    digest = hashlib.sha256(" ".join([engine_id, *map(archive_image_id, archives)]).encode())
    name = f"registry-sandbox-engine-seed-{digest.hexdigest()[:12]}"
    seeds = {volume.name: volume for volume in client.volumes.list(filters={"label": f"{LABEL}=engine-seed"})}
    if name in seeds and RECORD.exists() and RECORD.read_text() == name:
        return name
    for old in set(seeds) - {name}:  # another recipe's, unless a copy from it is under way (another checkout)
        try:
            seeds[old].remove()
        except APIError:
            pass
    if name not in seeds:  # else loaded into again: a load interrupted, or one another checkout made
        client.volumes.create(name, labels={LABEL: "engine-seed", SLOT_LABEL: "shared"})  # kept by every `down`
    _run(client, engine_image, LOAD, [Mount(STORE, name, type="volume"),
                                      Mount("/sys/fs/cgroup", "/sys/fs/cgroup", type="bind"),
                                      *[Mount(f"/archives/{path.name}", str(path), type="bind", read_only=True)
                                        for path in archives]])
    RECORD.write_text(name)
    return name


def seed(client, engine_image: str, volumes: list[str]):
    """Copy the seed into each of `volumes` (new, empty engine stores), all in one container."""
    if not volumes:
        return
    source = ensure_engine_seed(client, engine_image)
    copies = " && ".join(f"cp -a /seed/. /to/{index}/" for index in range(len(volumes)))
    _run(client, engine_image, copies, [Mount("/seed", source, type="volume", read_only=True),
                                        *[Mount(f"/to/{index}", volume, type="volume")
                                          for index, volume in enumerate(volumes)]])
