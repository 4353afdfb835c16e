"""Writes a Netscape cookie jar of N cookies (default 100,000) in curl's form.

20,000 sites x 5 cookies: a mix of host-only and domain cookies, Secure, HttpOnly, paths,
and one session cookie in ten; plus 5 cookies for 127.0.0.1 so the benchmark's one request
sends some. Deterministic (no randomness), far-future expiry.
Usage: python3 make_jar.py OUT [N]
"""
import sys

out, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
lines = ["# Netscape HTTP Cookie File", "", ]
for i in range(n - 5):
    site, k = divmod(i, 5)
    domain_cookie = k == 0
    host = f"example{site}.com" if domain_cookie else f"www.example{site}.com"
    prefix = "#HttpOnly_" if k == 2 else ""
    dot = "." if domain_cookie else ""
    path = "/app" if k == 3 else "/"
    secure = "TRUE" if k == 4 else "FALSE"
    expiry = "0" if i % 10 == 9 else str(2110680753 + i)
    sub = "TRUE" if domain_cookie else "FALSE"
    lines.append(f"{prefix}{dot}{host}\t{sub}\t{path}\t{secure}\t{expiry}\tc{k}_{site}\tv{i:08x}-0123456789abcdef")
for k in range(5):
    lines.append(f"127.0.0.1\tFALSE\t/\tFALSE\t2110680753\tlocal{k}\tl{k}")
with open(out, "w") as f:
    f.write("\n".join(lines) + "\n")
