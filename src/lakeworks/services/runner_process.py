"""The detached runner process: ``python -m lakeworks.services.runner_process <workspace> <job>``.

Started by ``JobService`` in its own session so the job outlives the caller. SIGTERM or SIGINT
cancels the job (running steps' process groups are stopped). This is an entry point: it alone
configures logging, to the job's ``runner.log``.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from lakeworks.services.runner import JobRunner
from lakeworks.services.workspace import open_workspace


def main(argv: list[str] | None = None) -> int:
    """Run one job to the end; the exit code is 0 when it completed."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m lakeworks.services.runner_process <workspace> <job>", file=sys.stderr)
        return 2
    workspace, job_name = Path(args[0]), args[1]
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    cancel = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger(__name__).info("signal %s: canceling job %s", signum, job_name)
        cancel.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    ws = open_workspace(workspace)
    try:
        record = JobRunner(ws, job_name, cancel=cancel).run()
    finally:
        ws.close()
    return 0 if record.status.value == "Completed" else 1


if __name__ == "__main__":
    sys.exit(main())
