#!/usr/bin/env python3
"""pty-answer.py: run a command on a pseudo-terminal and answer its prompts, as a user would.

    pty-answer.py [--step REGEX=ANSWER]... [--timeout S] -- CMD [ARGS...]

Each step waits (at most --timeout seconds) until REGEX matches the terminal output
that followed the previous step, then types ANSWER and Enter. ANSWER forms:
    text        typed as is
    @ip:ADDR    the number of ADDR in an address menu ("  [N] ADDR (ifname)")
    @env:VAR    the value of $VAR, a secret: the terminal's echo must be off when it
                is typed (the prompt must switch it off before it appears), and the
                value must never appear in the terminal output
    @intr       Ctrl-C (the terminal's VINTR character), no Enter
After the last step the output is copied until the command exits. Everything the
terminal showed goes to stdout, with CR LF turned into LF. At the end one line
    pty-answer: exit N, echo on|off
reports the command's exit status (128 + signal when killed) and the terminal's echo
flag as the command left it. Exit status: the command's, or 97 when a step failed
(a prompt never came, echo was on for a secret, or a secret was shown); the reason is
printed as "pty-answer: FAIL: ...".
"""
import argparse
import os
import pty
import re
import select
import signal
import sys
import termios
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--step", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        ap.error("no command")
    steps = []
    for s in a.step:
        rx, sep, ans = s.partition("=")
        if not sep:
            ap.error("--step wants REGEX=ANSWER: " + s)
        steps.append((re.compile(rx), ans))

    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)

    def forward(signum, _frame):
        # the command runs in its own session: pass a stop request on
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)

    out = bytearray()   # everything shown, raw
    mark = 0            # steps match after this offset
    secrets = []
    failure = None

    def emit(data):
        sys.stdout.write(data.replace(b"\r\n", b"\n").decode("utf-8", "replace"))
        sys.stdout.flush()

    def pump(wait):
        """Read what is there (waiting at most `wait` s); False at EOF."""
        r, _, _ = select.select([fd], [], [], wait)
        if not r:
            return True
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the command closed the terminal
            return False
        if not data:
            return False
        out.extend(data)
        emit(data)
        return True

    def fail(why):
        nonlocal failure
        failure = why
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    alive = True
    for rx, ans in steps:
        deadline = time.monotonic() + a.timeout
        m = None
        while alive:
            m = rx.search(out[mark:].decode("utf-8", "replace"))
            if m:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                break
            alive = pump(min(left, 0.2))
        if not m:
            fail("no match for /%s/ within %.0f s%s" % (rx.pattern, a.timeout,
                 "" if alive else " (the command closed the terminal)"))
            break
        shown = out[mark:].decode("utf-8", "replace")
        mark = len(out)
        if ans == "@intr":
            os.write(fd, bytes([termios.tcgetattr(fd)[6][termios.VINTR][0]]))
            continue
        if ans.startswith("@ip:"):
            want = ans[4:]
            k = re.search(r"\[(\d+)\] " + re.escape(want) + r" \(", shown)
            if not k:
                fail("address %s is not in the menu" % want)
                break
            ans = k.group(1)
        elif ans.startswith("@env:"):
            ans = os.environ.get(ans[5:], "")
            secrets.append(ans.encode())
            if termios.tcgetattr(fd)[3] & termios.ECHO:
                fail("the terminal echoes at the prompt /%s/: the secret would be shown"
                     % rx.pattern)
                break
        os.write(fd, ans.encode() + b"\n")

    while alive:
        alive = pump(1.0)
    try:
        echo = "on" if termios.tcgetattr(fd)[3] & termios.ECHO else "off"
    except termios.error:
        echo = "unknown"
    _, status = os.waitpid(pid, 0)
    rc = os.waitstatus_to_exitcode(status)
    rc = 128 - rc if rc < 0 else rc
    for s in secrets:
        if s and s in out and not failure:
            failure = "a secret typed at a prompt was shown on the terminal"
    print("pty-answer: exit %d, echo %s" % (rc, echo), flush=True)
    if failure:
        print("pty-answer: FAIL: " + failure, flush=True)
        return 97
    return rc


if __name__ == "__main__":
    sys.exit(main())
