"""replay-break and replay-seek on a snapshotted recording, checked.

:func:`seek_check` drives one :class:`~avocado_rr.session.ReplaySession`
of a recording made with ``rrsnapshot``: it breaks at a fraction of the
stop icount (M), seeks forward to the recorded stop icount (S), then
seeks back to M, which loads the snapshot and replays from the start.
At each stop ``query-replay`` must show the target icount; the console
at S must equal the recording's up to its stop point, and the backward
seek must print the recording's first bytes again, exactly as many as
the linear replay had at M.
"""

from __future__ import annotations

import logging

from avocado_rr.console import read_transcript
from avocado_rr.engine import RecordReplay
from avocado_rr.machine import MachineError
from avocado_rr.pair import Recording, replay_stop_icount

LOG = logging.getLogger("avocado_rr.seeking")

#: the session's name: its console is ``seek-console.log``
NAME = "seek"


def seek_check(rr: RecordReplay, recording: Recording,
               fraction: float = 0.5, stall_timeout: float = 10.0,
               log: logging.Logger = LOG) -> list[str]:
    """Break, seek forward, seek back; what went wrong (empty: nothing).

    :raises ValueError: ``recording`` has no snapshot to seek from
    """
    if not recording.spec.rrsnapshot:
        raise ValueError(f"{recording.rrfile} was recorded without "
                         f"rrsnapshot: replay-seek cannot go back")
    recorded = recording.recorded_console()
    target = replay_stop_icount(recording)
    middle = int(target * fraction)
    console = rr.path(f"{NAME}-console.log")
    problems = []
    session = None
    try:
        session = rr.session(recording, NAME, stall_timeout=stall_timeout)
        at = session.run_to(middle)
        linear = read_transcript(console)
        log.info("seek: break at %d of %d, console %d bytes", at, target,
                 len(linear))
        if at != middle:
            problems.append(f"replay-break stopped at {at}, not {middle}")
        if not recorded.startswith(linear):
            problems.append("the console at the break is not a prefix of "
                            "the recorded one")
        at = session.seek(target)
        forward = read_transcript(console)
        log.info("seek: forward to %d, console %d bytes", at, len(forward))
        if at != target:
            problems.append(f"forward seek stopped at {at}, not {target}")
        if forward != recorded:
            problems.append(f"console after the forward seek: "
                            f"{len(forward)} bytes, not the recorded "
                            f"{len(recorded)} bytes")
        at = session.seek(middle)
        back = read_transcript(console)
        log.info("seek: back to %d, console %d bytes", at, len(back))
        if at != middle:
            problems.append(f"backward seek stopped at {at}, not {middle}")
        if back != forward + linear:
            problems.append(f"after the backward seek the console grew by "
                            f"{len(back) - len(forward)} bytes, expected "
                            f"the {len(linear)} bytes the recording had at "
                            f"icount {middle}")
    except MachineError as details:
        stderr = session.machine.stderr if session is not None else ""
        problems.append(f"QEMU failed during the seeks: {details}; stderr "
                        f"{stderr.strip()[-500:]!r}")
    finally:
        rr.close()
    return problems
