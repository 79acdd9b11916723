"""What the deploy tells the operator beyond pyinfra's own lines, prefixed with the host's name."""

from pyinfra import host, logger
from pyinfra.api import operation

_logged: set = set()


def log_once(message: str, warning: bool = False) -> None:
    """Log a line for the current host once per run.

    Without `-y`, pyinfra runs each operation's generator twice (once to detect changes, once to
    execute): what an operation found is said in whichever pass comes first, so `--dry` shows it too.
    """
    key = (host.name, message)
    if key not in _logged:
        _logged.add(key)
        host.log(message, log_func=logger.warning if warning else logger.info)


def log_lines(op, prefix: str = "registry: ") -> None:
    """Log the lines an operation's commands printed that start with `prefix` (for `python.call`)."""
    for line in op.stdout_lines + op.stderr_lines:
        if line.startswith(prefix):
            host.log(line.removeprefix(prefix))


@operation()
def reached(point: str):
    """
    Nothing to do: every host runs this at the same point of a deploy, so that what comes after it on any
    host runs after what comes before it on every host (pyinfra orders each host's operations, and orders
    hosts against each other only through operations they share).

    + point: what is done by then
    """
    host.noop(point)
    yield from ()  # an operation is a generator of commands, here of none
