"""A small client of the Tessera node's wire protocol: the status request and the page-out request.

Frames are a 16-byte header (version, flags, opcode, body length, request id; little-endian) and a body;
a reply body starts with the request's status and the deferred status (code u16, message string).
"""
import os
import socket
import struct
from dataclasses import dataclass, field
from typing import List, Optional

VERSION = 1
REPLY_EXPECTED = 1
OP_NODE_STATUS = 4
OP_PAGE_OUT_SESSIONS = 5
OP_REPLY = 0x8000
OP_FATAL = 0x8001
DEFAULT_ENDPOINT = "/tmp/tessera/node.sock"
PAGING_STATES = {0: "resident", 1: "paging-out", 2: "paged", 3: "paging-in", 4: "waiting"}


class NodeError(Exception):
    """The node refused a request, or could not be reached."""


@dataclass
class GPU:
    index: int
    name: str
    total_memory: int
    used_memory: int
    granted_memory: int
    granted_compute_percent: int
    simulated: Optional[bool] = None


@dataclass
class VGPU:
    physical_index: int
    memory_bytes: int
    compute_percent: int
    used_memory: int
    compute_mode: str
    utilization: float
    busy_seconds: float


@dataclass
class Paging:
    state: str
    idle_seconds: float
    paged_bytes: int
    page_outs: int
    page_ins: int
    last_page_out_seconds: float
    last_page_in_seconds: float


@dataclass
class Session:
    id: int
    program: str
    pid: int
    uid: int
    gid: int
    peer: str
    vgpus: List[VGPU]
    paging: Optional[Paging] = None


@dataclass
class NodeStatus:
    gpus: List[GPU]
    sessions: List[Session]
    page_idle_after_seconds: Optional[float] = None
    paged_bytes_held: int = 0


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def take(self, fmt: str):
        size = struct.calcsize(fmt)
        if self.at + size > len(self.data):
            raise NodeError("the node's reply is truncated")
        values = struct.unpack_from(fmt, self.data, self.at)
        self.at += size
        return values[0] if len(values) == 1 else values

    def u8(self): return self.take("<B")
    def u16(self): return self.take("<H")
    def u32(self): return self.take("<I")
    def u64(self): return self.take("<Q")
    def i64(self): return self.take("<q")

    def string(self):
        n = self.u32()
        s = self.data[self.at:self.at + n].decode("utf-8", "replace")
        self.at += n
        return s

    @property
    def remaining(self): return len(self.data) - self.at


def endpoint() -> str:
    """Where this process's vGPUs come from: `TESSERA_ENDPOINT`, as `tessera run` and the notebook images set it."""
    return os.environ.get("TESSERA_ENDPOINT") or DEFAULT_ENDPOINT


def _connect(where: str) -> socket.socket:
    try:
        if where.startswith("/") or where.startswith("."):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(30)
            s.connect(where)
        else:
            host, _, port = where.rpartition(":")
            s = socket.create_connection((host.strip("[]"), int(port)), timeout=30)
        return s
    except (OSError, ValueError) as e:
        raise NodeError(f"cannot reach the Tessera node at {where}: {e}") from None


def _request(opcode: int, body: bytes, where: Optional[str] = None) -> _Reader:
    with _connect(where or endpoint()) as s:
        s.sendall(struct.pack("<BBHIQ", VERSION, REPLY_EXPECTED, opcode, len(body), 1) + body)
        header = _receive(s, 16)
        _, _, op, length, _ = struct.unpack("<BBHIQ", header)
        r = _Reader(_receive(s, length))
    code, message = r.u16(), r.string()
    if op == OP_FATAL:
        raise NodeError(f"the node ended the request: {message}")
    r.u16(), r.string()  # deferred status: none on a one-off connection
    if code != 0:
        raise NodeError(message or f"the node refused the request (status {code})")
    return r


def _receive(s: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise NodeError("the node closed the connection")
        data += chunk
    return data


def status(where: Optional[str] = None, mine: bool = False) -> NodeStatus:
    """The node's GPUs and sessions (one status request; holds nothing). With `mine`, only the sessions of this
    process and the processes it started, as the node identifies this process (SO_PEERCRED on its unix socket):
    right in a container or any pid namespace, where `os.getpid()` is not the node's pid of this process."""
    r = _request(OP_NODE_STATUS, b"\x01" if mine else b"", where)
    gpus = [GPU(r.u64(), r.string(), r.u64(), r.u64(), r.u64(), r.u64()) for _ in range(r.u32())]
    sessions = []
    for _ in range(r.u32()):
        sid, program, pid, uid, gid, peer = r.u64(), r.string(), r.i64(), r.i64(), r.i64(), r.string()
        vgpus = []
        for _ in range(r.u32()):
            physical, memory, compute, used = r.u64(), r.u64(), r.u64(), r.u64()
            mode = "limit" if r.u8() == 1 else "share"
            vgpus.append(VGPU(physical, memory, compute, used, mode, r.u64() / 10_000, r.u64() / 1e9))
        sessions.append(Session(sid, program, pid, uid, gid, peer, vgpus))
    result = NodeStatus(gpus, sessions)
    if r.remaining:
        if r.u32() == len(gpus):
            for g in gpus:
                g.simulated = bool(r.u8() & 1)
    if r.remaining:
        pages, idle_after, held = r.u8(), r.u64(), r.u64()
        result.page_idle_after_seconds = idle_after / 1000 if pages else None
        result.paged_bytes_held = held
        for s in sessions[: r.u32()]:
            if r.u8():
                state = PAGING_STATES.get(r.u8(), "unknown")
                idle, paged, outs, ins = r.u64() / 1e9, r.u64(), r.u64(), r.u64()
                last_out, last_in = r.u64() / 1e9, r.u64() / 1e9
                r.u64(), r.u64(), r.u64(), r.u64()  # totals
                s.paging = Paging(state, idle, paged, outs, ins, last_out, last_in)
    return result


def page_out(pid: Optional[int] = None, where: Optional[str] = None) -> (int, int):
    """Pages out every session of process `pid` (this one by default) now. Returns (sessions, bytes)."""
    # 0: the asking process itself, as the node identifies it (its pid here may not be the node's).
    r = _request(OP_PAGE_OUT_SESSIONS, struct.pack("<q", pid if pid is not None else 0), where)
    return r.u64(), r.u64()
