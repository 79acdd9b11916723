"""python -m sandbox up --hosts N [--first K] [--s3] [--engine] | down [--only NAME ...] | status
| images [--registry3]"""

import argparse
import sys

from docker.errors import DockerException

from .hosts import down, network, remove, status, up
from .local_docker import SandboxError, ensure_local_docker
from .object_store import s3_state, s3_up
from .offline_images import build_archives
from .registry3 import build_registry3_archive


def _print_hosts(hosts):
    for h in hosts:
        print(
            f"{h['name']}  ssh 127.0.0.1:{h['ssh_port']}  "
            f"registry 127.0.0.1:{h['registry_port']}  ui 127.0.0.1:{h['ui_port']}"
        )


def _print_store(store):
    if store:
        print(f"{store['name']}  S3 {store['endpoint']} (on the hosts' network)  bucket {store['bucket']}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="create or keep N hosts and wait until they answer")
    up_parser.add_argument("--hosts", type=int, default=1)
    up_parser.add_argument("--first", type=int, default=0, metavar="K",
                           help="only hosts K..N-1 (a test's own hosts, with none of the shared ones beside them)")
    up_parser.add_argument("--s3", action="store_true", help="and an S3 object store (single-node Ceph)")
    up_parser.add_argument("--engine", action="store_true",
                           help="hosts made now have the Docker engine the deploy would install already installed")
    down_parser = commands.add_parser("down", help="remove every host and volume the sandbox created")
    down_parser.add_argument("--only", nargs="+", metavar="NAME", help="remove just these hosts")
    commands.add_parser("status", help="list the hosts and their ports on 127.0.0.1")
    images_parser = commands.add_parser("images", help="build the offline registry, UI and hello image archives")
    images_parser.add_argument("--registry3", action="store_true",
                               help="and a registry 3.1.1 image built from distribution's source (about 2 min)")
    args = parser.parse_args(argv)

    try:
        client = ensure_local_docker()
        if args.command == "up":
            if not 0 <= args.first < args.hosts:
                parser.error("--hosts must be at least 1, and more than --first")
            _print_hosts(up(client, args.hosts, engine=args.engine, first=args.first))
            if args.s3:
                _print_store(s3_up(client, network(client)))
        elif args.command == "down":
            removed = remove(client, args.only) if args.only else down(client)
            print(f"removed {len(removed)} host(s)" + (f": {', '.join(removed)}" if removed else ""))
        elif args.command == "status":
            _print_hosts(status(client))
            _print_store(s3_state())
        else:
            for path in build_archives(client):
                print(path)
            if args.registry3:
                print(build_registry3_archive(client))
    except (SandboxError, DockerException) as error:
        print(f"sandbox: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
