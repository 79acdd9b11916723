"""What the deploy tells the operator beyond pyinfra's own lines, prefixed with the host's name."""

from pyinfra import host, logger

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
