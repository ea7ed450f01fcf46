#!/usr/bin/env python3
"""The device check's paging step: a program holding MIB of device memory through a paging node is paged out on
request (the page-out request `%tessera release` sends), then touched again: it must find every byte intact at
the same address. Prints one line: "PAGING bytes=N out_ms=… out_GBps=… resume_ms=… intact=yes|no".

Usage: paging-check.py TESSERA SOCKET PAGED_PROGRAM MIB   (run as the program's parent: the node pages out the
sessions of a process only for that process or its ancestors)
"""
import os
import signal
import subprocess
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "python", "tessera-jupyter"))
from tessera import node  # noqa: E402

tessera, sock, program, mib = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
# `tessera run` execs the program: the child's pid is the program's.
child = subprocess.Popen([tessera, "run", "--endpoint", sock, "--memory", f"{mib}MiB", "--compute", "10", "--",
                          program, str(mib), "wait"], stdout=subprocess.PIPE, text=True)
ready = None
for line in child.stdout:
    if line.startswith("READY "):
        ready = line.split()[1]
        break
if ready is None:
    print("PAGING FAIL: the program never became ready")
    sys.exit(1)
sessions, moved = node.page_out(child.pid, sock)
st = node.status(sock)
mine = [s for s in st.sessions if s.pid == child.pid]
paging = mine[0].paging if mine else None
if sessions != 1 or paging is None or paging.state != "paged":
    print(f"PAGING FAIL: page-out gave sessions={sessions} state={paging.state if paging else None}")
    child.kill()
    sys.exit(1)
out_s = paging.last_page_out_seconds
start = time.time()
child.send_signal(signal.SIGUSR1)
rest, _ = child.communicate(timeout=600)
resume = time.time() - start
intact = any(line == f"INTACT {ready}" for line in rest.splitlines())
print(f"PAGING bytes={moved} out_ms={out_s * 1000:.1f} out_GBps={moved / max(out_s, 1e-9) / 1e9:.2f} "
      f"resume_ms={resume * 1000:.1f} intact={'yes' if intact else 'no'}")
sys.exit(0 if intact and child.returncode == 0 else 1)
