"""CPU seconds spent by each process of the benchmarked stack, read from ``/proc``.

Wall-clock latency on a machine shared with other work measures the machine; CPU time per
webhook measures the code. ``Stack.sample()`` before and after a run, ``Stack.per_item(...)``
divides the difference by the number of webhooks.

Each role is a process tree (the web server's and the worker's process groups, which
``bench/stack.sh`` starts with ``setsid``; PostgreSQL's postmaster; Redis). A tree's CPU is the
sum over its living processes of their own time plus the time of the children they have reaped
(``utime + stime + cutime + cstime``), so a connection backend that exits during the run is
still counted, once.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterable
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, int, int, float] | None:
    """``(ppid, pgid, ...)`` and the CPU seconds of ``pid`` with its reaped children."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = raw[raw.rindex(")") + 2 :].split()
    ppid, pgid = int(fields[1]), int(fields[2])
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return ppid, pgid, pid, (utime + stime + cutime + cstime) / _TICK


def _processes() -> list[tuple[int, int, int, float]]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                found.append(stat)
    return found


def _tree(processes: Iterable[tuple[int, int, int, float]], root: int) -> float:
    children: dict[int, list[tuple[int, int, int, float]]] = {}
    by_pid = {}
    for proc in processes:
        children.setdefault(proc[0], []).append(proc)
        by_pid[proc[2]] = proc
    if root not in by_pid:
        return 0.0
    total, todo = 0.0, [by_pid[root]]
    while todo:
        proc = todo.pop()
        total += proc[3]
        todo += children.get(proc[2], [])
    return total


def _pid_file(path: str | None) -> int | None:
    if not path:
        return None
    try:
        return int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class Stack:
    """The roles found from ``bench/run``'s environment: ``web`` and ``worker`` (process groups
    ``WEB_PID``, ``WORKER_PID``), ``postgres`` (``PG_DATA/postmaster.pid``), ``redis``
    (``REDIS_DIR/redis.pid``), and ``bench`` (this client with its child processes)."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        env = dict(os.environ if env is None else env)
        self.roots: dict[str, list[int]] = {}
        # Cluster mode (bench/stack.sh start_cluster): several web and worker process groups.
        for role, many, one in (
            ("web", "WEB_PIDS", "WEB_PID"),
            ("worker", "WORKER_PIDS", "WORKER_PID"),
        ):
            pids = [int(p) for p in (env.get(many) or env.get(one, "")).split() if p.isdigit()]
            if pids:
                self.roots[role] = pids
        if env.get("BEAT_PID", "").isdigit():
            self.roots["beat"] = [int(env["BEAT_PID"])]
        pg = _pid_file(env.get("PG_DATA") and f"{env['PG_DATA']}/postmaster.pid")
        if pg:
            self.roots["postgres"] = [pg]
        redis = _pid_file(env.get("REDIS_DIR") and f"{env['REDIS_DIR']}/redis.pid")
        if redis:
            self.roots["redis"] = [redis]
        bouncer = _pid_file(env.get("PGBOUNCER_DIR") and f"{env['PGBOUNCER_DIR']}/pgbouncer.pid")
        if bouncer:
            self.roots["pgbouncer"] = [bouncer]

    def sample(self) -> dict[str, float]:
        """CPU seconds so far per role."""
        processes = _processes()
        out = {
            role: sum(_tree(processes, root) for root in roots)
            for role, roots in self.roots.items()
        }
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        out["bench"] = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
        return out

    @staticmethod
    def per_item(before: dict[str, float], after: dict[str, float], items: int) -> dict:
        """CPU milliseconds per item by role, and the total of the server's roles."""
        ms = {
            role: round((after[role] - before.get(role, 0.0)) * 1000 / max(items, 1), 2)
            for role in after
        }
        ms["stack"] = round(sum(v for k, v in ms.items() if k != "bench"), 2)
        return ms


def load_average() -> float:
    return os.getloadavg()[0]


# --- memory, sockets and the machine (bench/support.py) -------------------------------------


def tree_pids(root: int) -> list[int]:
    """``root`` and its descendants now."""
    children: dict[int, list[int]] = {}
    for ppid, _pgid, pid, _cpu in _processes():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def _is_python(pid: int) -> bool:
    try:
        return "python" in os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return False


def serving_processes(root: int) -> list[int]:
    """The Python processes of ``root``'s tree that have no Python child: the uvicorn
    processes serving requests (with one worker, the one process), not their supervisor."""
    pids = [p for p in tree_pids(root) if _is_python(p)]
    parents = {ppid for ppid, _pgid, pid, _cpu in _processes() if pid in pids}
    return [p for p in pids if p not in parents]


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MB (NaN when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def socket_count(pid: int) -> int:
    """Open sockets of ``pid``."""
    count = 0
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                count += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
            except OSError:
                continue
    except OSError:
        pass
    return count


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / _TICK, sum(values) / _TICK
