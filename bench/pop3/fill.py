"""Fills a Maildir with COUNT messages of about SIZE octets (CRLF, some dot-leading lines)."""
import os
import sys

maildir, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n"
for i in range(count):
    head = (
        f"From: Bench <bench@example.com>\r\nTo: alice@example.com\r\n"
        f"Subject: bench message {i}\r\nMessage-ID: <{i}@bench>\r\n\r\n"
    ).encode()
    body = bytearray(head)
    n = 0
    while len(body) < size:
        body += b"." + line if n % 50 == 0 else line
        n += 1
    path = os.path.join(maildir, "new", f"{1700000000 + i}.M{i}P1.bench")
    with open(path, "wb") as f:
        f.write(body)
    os.chown(path, 5000, 5000)
