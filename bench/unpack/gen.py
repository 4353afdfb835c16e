#!/usr/bin/env python3
"""Generates the unpack benchmark corpus (deterministic).

gen.py DIR: DIR/small/ holds 2,000 messages of about 52 KB (one attachment each) and
DIR/large/ 200 messages of about 5 MB (one attachment each), as .eml files with CRLF line
ends, shaped like what mail clients send: multipart/mixed, a text body, a base64 attachment
with an RFC 2231 name every tenth message.
"""
import base64
import os
import random
import sys


def message(i, attachment_bytes, rng):
    data = rng.randbytes(attachment_bytes)
    b64 = base64.b64encode(data).decode()
    wrapped = "\r\n".join(b64[j:j + 76] for j in range(0, len(b64), 76))
    body = ("Hello,\r\n\r\nplease find the report attached. " * 20 + "\r\n") * 2
    if i % 10 == 0:
        disposition = "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9-{0}.pdf".format(i)
    else:
        disposition = f'attachment; filename="report-{i}.pdf"'
    return (
        f"From: Sender {i} <sender{i}@example.org>\r\n"
        f"To: bench@example.com\r\n"
        f"Subject: Report number {i}\r\n"
        f"Date: Tue, 05 Mar 2024 14:{i % 60:02d}:00 +0100\r\n"
        f"Message-ID: <bench-{i}@example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="==bench=="\r\n'
        "\r\n"
        "--==bench==\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"{body}"
        "--==bench==\r\n"
        "Content-Type: application/pdf\r\n"
        f"Content-Disposition: {disposition}\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        f"{wrapped}\r\n"
        "--==bench==--\r\n"
    ).encode()


def write_set(folder, count, attachment_bytes, seed):
    os.makedirs(folder, exist_ok=True)
    rng = random.Random(seed)
    for i in range(count):
        with open(os.path.join(folder, f"{i:05d}.eml"), "wb") as f:
            f.write(message(i, attachment_bytes, rng))


def main():
    root = sys.argv[1]
    write_set(os.path.join(root, "small"), 2000, 37_000, 1)
    write_set(os.path.join(root, "large"), 200, 3_700_000, 2)


if __name__ == "__main__":
    main()
