"""Drives Chromium headless through the DevTools protocol over --remote-debugging-pipe.

usage: chromium_pipe.py CHROMIUM USER_DATA_DIR URL WAIT_FOR [CHROMIUM_FLAG...]

Opens URL in a fresh profile, waits until a page's URL contains WAIT_FOR, then sends
`Browser.close`, which makes Chromium write its cookie store at once (SIGTERM loses the
changes of the last 30 seconds). Exit status 0 when Chromium closed cleanly.
"""
import json
import os
import subprocess
import sys
import time


def main():
    chromium, user_data, url, wait_for = sys.argv[1:5]
    extra = sys.argv[5:]
    to_chrome_r, to_chrome_w = os.pipe()
    from_chrome_r, from_chrome_w = os.pipe()
    # Move the child's ends out of the way of 3 and 4 before placing them there.
    child_r = os.dup2(to_chrome_r, 100)
    child_w = os.dup2(from_chrome_w, 101)
    os.close(to_chrome_r)
    os.close(from_chrome_w)

    def fds():
        # Chromium reads commands on fd 3 and writes replies on fd 4.
        os.dup2(child_r, 3)
        os.dup2(child_w, 4)

    proc = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--password-store=basic", "--remote-debugging-pipe",
         "--user-data-dir=" + user_data] + extra + [url],
        preexec_fn=fds, pass_fds=(3, 4),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(child_r)
    os.close(child_w)
    reader = os.fdopen(from_chrome_r, "rb")
    buf = b""
    ident = 0

    def call(method, params=None):
        nonlocal buf, ident
        ident += 1
        os.write(to_chrome_w, json.dumps({"id": ident, "method": method, "params": params or {}}).encode() + b"\0")
        while True:
            while b"\0" not in buf:
                chunk = reader.read1(65536)
                if not chunk:
                    return None
                buf += chunk
            msg, buf = buf.split(b"\0", 1)
            reply = json.loads(msg)
            if reply.get("id") == ident:
                return reply

    deadline = time.time() + 60
    while time.time() < deadline:
        reply = call("Target.getTargets")
        infos = (reply or {}).get("result", {}).get("targetInfos", [])
        if any(wait_for in t.get("url", "") for t in infos):
            break
        time.sleep(0.2)
    else:
        print("timed out waiting for " + wait_for, file=sys.stderr)
    time.sleep(0.5)
    call("Browser.close")
    sys.exit(proc.wait(timeout=60))


main()
