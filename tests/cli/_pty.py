"""Runs a command in a pseudo-terminal, for tests/cli (a test helper, not a test).

    /usr/bin/python3 _pty.py COMMAND [ARG...]

The command gets a terminal (80 columns, 24 rows) as stdin, stdout and stderr,
as when a person runs it; this process relays its own stdin to the terminal
(so "\\x03" is Ctrl-C and "\\x04" is Ctrl-D, as typed) and the terminal's
output to its stdout, then exits with the command's status (128 + N when a
signal N ended it). SIGTERM here, or the end of its stdin followed by 5 s
without the command exiting, kills the command: it never outlives the test.
"""

import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time

pid, master = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    os.execvp(sys.argv[1], sys.argv[1:])


def kill_child(*_):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


signal.signal(signal.SIGTERM, lambda *_: (kill_child(), os._exit(143)))

stdin_open = True
deadline = None
status = None
while True:
    watched = [master] + ([0] if stdin_open else [])
    ready, _, _ = select.select(watched, [], [], 0.05)
    if master in ready:
        try:
            data = os.read(master, 65536)
        except OSError:
            data = b""
        if data:
            os.write(1, data)
        else:
            break  # the terminal is closed: the command is gone
    if 0 in ready:
        data = os.read(0, 65536)
        if data:
            os.write(master, data)
        else:
            stdin_open = False
            deadline = time.monotonic() + 5
    if deadline is not None and time.monotonic() > deadline:
        kill_child()
        deadline = None
    done, code = os.waitpid(pid, os.WNOHANG)
    if done:
        status = code
        # What the command wrote just before it exited.
        while select.select([master], [], [], 0.05)[0]:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            os.write(1, data)
        break

if status is None:
    _, status = os.waitpid(pid, 0)
if os.WIFSIGNALED(status):
    sys.exit(128 + os.WTERMSIG(status))
sys.exit(os.WEXITSTATUS(status))
