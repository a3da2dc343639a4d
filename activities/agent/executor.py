"""A command loop inside the warm sandbox, spoken to over the container's attached stdin and
stdout: one call costs a fork in the sandbox, not a ``docker exec`` (runc starting a new
process in the container's namespaces, some 70-100 ms on a loaded machine).

The loop (:data:`LOOP`, the container's command, run by busybox ``sh`` as the sandbox's
non-root user) reads one request per line: an id, the time limit, the output limit and the
argv, each argument base64-encoded (so no argument is ever parsed by a shell). It runs the
command under ``timeout -s KILL`` with its output cut by ``head -c``, and answers with a
header that gives the lengths of what follows (the command's stdout and stderr, then the
shell's ``times`` before and after): nothing a command prints can be mistaken for framing.
A response whose id is not the caller's (left by a worker that died mid-call) is skipped.
"""

from __future__ import annotations

import base64
import contextlib
import re
import socket
import struct
import uuid
from typing import Any

LOOP = r"""
exec 2>/dev/null
while IFS= read -r line; do
  set -- $line
  id=$1; t=$2; n=$3; shift 3
  for a in "$@"; do v=$(printf %s "$a" | base64 -d); v=${v#x}; set -- "$@" "${v%x}"; shift; done
  times > /tmp/.t0
  ( set -o pipefail; timeout -s KILL "$t" "$@" 2>/tmp/.err </dev/null | head -c "$n" >/tmp/.out )
  rc=$?
  times > /tmp/.t1
  head -c 4000 /tmp/.err > /tmp/.e
  printf '\n@@%s %s %s %s\n' "$id" "$rc" "$(wc -c </tmp/.out)" "$(wc -c </tmp/.e)"
  cat /tmp/.out /tmp/.e /tmp/.t0 /tmp/.t1
  printf '@@end\n'
done
"""
"""The container's command: the loop above, until its stdin closes."""

_HEADER = re.compile(rb"\n@@([0-9a-f]{32}) (\d+) +(\d+) +(\d+)\n")
_TIMES_LINES = 4
_MAX_BUFFER = 4 * 1024 * 1024


class ExecutorGone(Exception):
    """The loop's stream ended or stalled: the sandbox is gone or broken."""


def encode(call_id: str, timeout_s: int, output_limit: int, argv: list[str]) -> bytes:
    """One request line."""
    args = " ".join(base64.b64encode(f"x{a}x".encode()).decode() for a in argv)
    return f"{call_id} {timeout_s} {output_limit} {args}\n".encode()


def times_ms(line: str) -> int:
    """User + system milliseconds of one ``times`` line (``0m0.020s 0m0.010s``); 0 if it
    is not one."""
    total = 0.0
    for field in line.split():
        minutes, _, seconds = field.rstrip("s").partition("m")
        try:
            total += int(minutes) * 60 + float(seconds)
        except ValueError:
            return 0
    return round(total * 1000)


def children_cpu_ms(times: bytes) -> int:
    """User + system time of the shell's children from one ``times`` output (2nd line)."""
    lines = times.decode(errors="replace").splitlines()
    return times_ms(lines[1]) if len(lines) > 1 else 0


class Response:
    """What the loop answered to one request."""

    def __init__(self, exit_code: int, stdout: bytes, stderr: bytes, cpu_ms: int) -> None:
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr
        self.cpu_ms = cpu_ms


class Executor:
    """A connection to one sandbox's loop (its attached stdin and stdout)."""

    def __init__(self, container: Any, timeout_s: float) -> None:
        attached = container.attach_socket(params={"stdin": 1, "stdout": 1, "stream": 1})
        self._sock: socket.socket = attached._sock
        self._sock.settimeout(timeout_s)
        self._attached = attached
        self._frames = bytearray()
        self._out = bytearray()

    def close(self) -> None:
        """Detach (the loop keeps running for the next connection)."""
        with contextlib.suppress(OSError):
            self._attached.close()

    def call(self, timeout_s: int, output_limit: int, argv: list[str]) -> Response:
        """Run ``argv`` in the loop; its response."""
        call_id = uuid.uuid4().hex
        try:
            self._sock.sendall(encode(call_id, timeout_s, output_limit, argv))
            while True:
                found, response = self._response()
                if found == call_id:
                    return response
        except (OSError, EOFError) as err:
            raise ExecutorGone(f"the sandbox's command loop is gone: {err}") from err

    def _response(self) -> tuple[str, Response]:
        """The next response in the stream (parsed by its lengths, never by its content)."""
        while (m := _HEADER.match(self._out)) is None:
            if self._out.find(b"\n", 1) != -1:
                raise EOFError("a malformed response header")
            self._read()
        start, (call_id, rc, n_out, n_err) = m.end(), m.groups()
        body = start + int(n_out) + int(n_err)
        while len(lines := bytes(self._out[body:]).split(b"\n")) <= _TIMES_LINES + 1:
            self._read()
        if lines[_TIMES_LINES] != b"@@end":
            raise EOFError("a malformed response trailer")
        stdout = bytes(self._out[start : start + int(n_out)])
        stderr = bytes(self._out[start + int(n_out) : body])
        del self._out[: body + sum(len(line) + 1 for line in lines[: _TIMES_LINES + 1])]
        before, after = b"\n".join(lines[0:2]), b"\n".join(lines[2:4])
        cpu = max(0, children_cpu_ms(after) - children_cpu_ms(before))
        return call_id.decode(), Response(int(rc), stdout, stderr, cpu)

    def _read(self) -> None:
        """Read more of the multiplexed stream into the stdout buffer."""
        chunk = self._sock.recv(65536)
        if not chunk:
            raise EOFError("end of stream")
        self._frames += chunk
        while len(self._frames) >= 8:
            size = struct.unpack(">I", bytes(self._frames[4:8]))[0]
            if len(self._frames) < 8 + size:
                break
            if self._frames[0] == 1:  # stdout
                self._out += self._frames[8 : 8 + size]
            del self._frames[: 8 + size]
        if len(self._out) > _MAX_BUFFER:
            raise EOFError("the loop sent more than a response can hold")
