"""The Python anchor: poplib, every message written to its own file with fsync."""
import os
import poplib
import ssl
import sys

host, port, mode, cafile, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
poplib._MAXLINE = 1 << 20  # poplib refuses lines over 2048 octets otherwise
pop = poplib.POP3(host, port)
if mode == "stls":
    pop.stls(ssl.create_default_context(cafile=cafile))
pop.user("alice")
pop.pass_("bench pw")
os.makedirs(out, exist_ok=True)
count, _ = pop.stat()
for n in range(1, count + 1):
    _, lines, _ = pop.retr(n)
    path = os.path.join(out, f"{n}.eml")
    with open(path, "wb") as f:
        f.write(b"\r\n".join(lines) + b"\r\n")
        f.flush()
        os.fsync(f.fileno())
pop.quit()
