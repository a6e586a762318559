"""W&B's service process (``wandb-core``): telling that it died, and starting afresh.

wandb runs every W&B run of a process through one service process, started
by the first ``wandb.init`` and reused by later ones. If it dies (killed,
out of memory), every call on its runs fails at once, and so does every later
``wandb.init`` of the process, until wandb is torn down: a long-lived process
(a scheduler, a notebook) would never mirror a run again. Tearing down also
spares the user wandb's exit hook printing a traceback about the same lost
connection when Python exits.
"""

from __future__ import annotations

#: What wandb raises when its service is gone: the socket (ConnectionError and
#: subclasses), the mailbox of pending requests, or the connection attempt. By name,
#: as the last two live in wandb's internal modules.
_GONE = frozenset({"ConnectionError", "MailboxClosedError", "WandbServiceConnectionError"})


def service_gone(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says W&B's service process is gone."""
    seen: BaseException | None = exc
    while seen is not None:
        if any(cls.__name__ in _GONE for cls in type(seen).__mro__):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def start_afresh() -> None:
    """Tear wandb down, so that the next ``wandb.init`` starts a new service process."""
    import wandb

    try:
        wandb.teardown()
    except Exception:  # noqa: BLE001 - the service is gone; there is nothing left to end
        pass
