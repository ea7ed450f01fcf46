"""Tessera's notebook side. In IPython or Jupyter: `%load_ext tessera`, then

    %tessera            the kernel's vGPUs: node, GPU, memory used and quota, compute share, paged or not
    %tessera release    pages the kernel's GPU memory out now (it comes back at the next CUDA call)
"""
import os

from . import node
from .node import NodeError

__all__ = ["describe", "release", "node", "NodeError", "load_ipython_extension"]
__version__ = "0.9.0"


def _size(n: int) -> str:
    if n >= 1 << 30 and n % (1 << 30) == 0:
        return f"{n >> 30} GiB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.0f} MiB"
    return f"{n} B"


def describe(pid=None, where=None) -> str:
    """A table of this process's vGPUs on its node, as `%tessera` prints it. The node finds this process's
    sessions by the connection's peer (its own pid for this process, right across pid namespaces); `pid`, as
    the node numbers processes, picks another process's instead."""
    where = where or node.endpoint()
    if pid is None:
        st = node.status(where, mine=True)
        mine = st.sessions
    else:
        st = node.status(where)
        mine = [s for s in st.sessions if s.pid == pid]
    paging = "off" if st.page_idle_after_seconds is None else f"after {st.page_idle_after_seconds:g} s idle"
    lines = [f"Tessera node {where} (paging {paging})"]
    if not mine:
        lines.append("this kernel holds no vGPU yet: its first CUDA call requests "
                     f"{os.environ.get('TESSERA_VGPUS', '1')} × {os.environ.get('TESSERA_MEMORY', '1GiB')}, "
                     f"{os.environ.get('TESSERA_COMPUTE', '10')} % compute")
        return "\n".join(lines)
    lines.append(f"{'vGPU':<5} {'GPU':<24} {'memory used / quota':<22} {'compute':<16} {'state':<24}")
    names = {g.index: g.name for g in st.gpus}
    device = 0
    for s in mine:
        p = s.paging
        for v in s.vgpus:
            state = "resident"
            if p is not None:
                state = p.state + (f" {_size(p.paged_bytes)}" if p.paged_bytes else "")
            lines.append(f"{device:<5} {(str(v.physical_index) + ' ' + names.get(v.physical_index, '?'))[:24]:<24} "
                         f"{_size(v.used_memory) + ' / ' + _size(v.memory_bytes):<22} "
                         f"{str(v.compute_percent) + ' % ' + v.compute_mode + f' ({v.utilization:.0%})':<16} {state:<24}")
            device += 1
        if p is not None:
            times = []
            if p.page_outs:
                times.append(f"last page-out {p.last_page_out_seconds * 1000:.0f} ms")
            if p.page_ins:
                times.append(f"last page-in {p.last_page_in_seconds * 1000:.0f} ms")
            lines.append(f"session {s.id}: idle {p.idle_seconds:.1f} s, paged out {p.page_outs}×, in {p.page_ins}×"
                         + (", " + ", ".join(times) if times else ""))
    return "\n".join(lines)


def release(pid=None, where=None) -> str:
    """Pages this process's GPU memory out now; returns what `%tessera release` prints."""
    sessions, moved = node.page_out(pid, where)
    return f"paged out {_size(moved)} of {sessions} session{'s' if sessions != 1 else ''}; it comes back at the next CUDA call"


def _magic(line: str):
    words = line.split()
    try:
        if not words:
            print(describe())
        elif words == ["release"]:
            print(release())
        else:
            print("usage: %tessera            show this kernel's vGPUs\n"
                  "       %tessera release    page this kernel's GPU memory out now")
    except NodeError as e:
        print(f"tessera: {e}")


def load_ipython_extension(ipython):
    """`%load_ext tessera`."""
    ipython.register_magic_function(_magic, magic_kind="line", magic_name="tessera")
