"""A point of a deploy every host reaches before any host goes past it."""

from pyinfra import host
from pyinfra.api import operation


@operation()
def barrier(point: str):
    """
    Nothing to do: every host runs this at the same point of a deploy, so that what comes after it on any
    host runs after what comes before it on every host (pyinfra orders each host's operations, and orders
    hosts against each other only through operations they share).

    + point: what is done by then
    """
    host.noop(point)
    yield from ()  # an operation is a generator of commands, here of none
