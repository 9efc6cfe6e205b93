#!/usr/bin/env python3
"""pty-run.py CMD...: runs CMD with stdin, stdout and stderr on a new pseudo-terminal (as an
interactive user's shell would), copies what it writes to stdout and exits with its status.
For engine cases like `podman run -it` when the test itself has no terminal (CI has none)."""
import os, pty, sys

pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
out = b""
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
sys.exit(os.waitstatus_to_exitcode(status))
