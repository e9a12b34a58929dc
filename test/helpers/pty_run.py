#!/usr/bin/env python3
"""Runs a command in a real pseudo-terminal and answers its prompts.

Usage: pty_run.py SPEC_JSON
SPEC: {"argv": [...], "cwd": "...", "env": {...}, "timeout": 60,
       "steps": [["regex to wait for", "text to type"], ...]}
Each step waits (in the output after the previous match) for its regex, then types its text.
Prints one JSON line: {"code": exit status (128+n for a signal), "output": everything the
terminal showed, "error": null or why it gave up}.
"""
import json
import os
import re
import select
import signal
import subprocess
import sys
import time

spec = json.loads(sys.argv[1])
master, slave = os.openpty()
# A sensible terminal size, so prompts are not wrapped.
try:
    import fcntl
    import struct
    import termios

    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
except Exception:
    pass

proc = subprocess.Popen(
    spec["argv"],
    cwd=spec.get("cwd"),
    env=spec.get("env"),
    stdin=slave,
    stdout=slave,
    stderr=slave,
    start_new_session=True,  # the pty becomes the controlling terminal: Ctrl-C sends SIGINT
    preexec_fn=lambda: __import__("fcntl").ioctl(0, __import__("termios").TIOCSCTTY, 0),
)
os.close(slave)

deadline = time.time() + spec.get("timeout", 60)
out = b""
pos = 0
error = None


def read_some(wait):
    global out
    r, _, _ = select.select([master], [], [], wait)
    if not r:
        return True
    try:
        data = os.read(master, 65536)
    except OSError:
        return False
    if not data:
        return False
    out += data
    return True


for pattern, answer in spec.get("steps", []):
    rx = re.compile(pattern)
    matched = False
    while time.time() < deadline:
        m = rx.search(out.decode("utf8", "replace"), pos)
        if m:
            pos = m.end()
            matched = True
            break
        if not read_some(0.2) and proc.poll() is not None:
            break
    if not matched:
        error = "never saw %r" % pattern
        break
    time.sleep(float(spec.get("pause", 0.05)))
    os.write(master, answer.encode("utf8"))

while time.time() < deadline:
    if not read_some(0.2) and proc.poll() is not None:
        break
    if proc.poll() is not None:
        # Drain what is left.
        while read_some(0.05):
            if time.time() > deadline:
                break
        break

if proc.poll() is None:
    error = error or "timed out"
    os.killpg(proc.pid, signal.SIGKILL)
proc.wait()
code = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
print(json.dumps({"code": code, "output": out.decode("utf8", "replace"), "error": error}))
