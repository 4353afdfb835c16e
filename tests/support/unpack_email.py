#!/usr/bin/env python3
"""The interop oracle for `postie unpack`: Python's `email` package (policy=default).

Usage: unpack_email.py FILE...   (an .eml, or an mbox when it starts with "From ")
Prints one JSON object per message: {"attachments": [[name, sha256-or-"message"], ...]},
the attachments of the message and of its nested messages, depth first, in document order.
Names are Python's decoded names before any sanitising (`part.get_filename()`, which
handles RFC 2231; RFC 2047 words inside quotes are decoded by the default policy's header
parser).

It applies postie's documented part roles, so the two can be compared part by part: a leaf
part is a body (not saved) when it is text/plain or text/html with no file name and no
`Content-Disposition: attachment`, and it is the first such of its type in its message;
other such text parts are extra text parts (not saved by default); message/rfc822 parts are
saved and unpacked; every other leaf is an attachment. mbox files are split the way postie
documents (a `From ` line at the start or after an empty line; mboxrd unquoting), because
Python's `mailbox` module uses a different rule; the split is not what is being compared.
"""
import email
import email.policy
import hashlib
import json
import re
import sys


def walk(msg, out):
    have = {"text/plain": False, "text/html": False}

    def visit(part):
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "message/global"):
            out.append([part.get_filename(), "message"])
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                walk(payload[0], out)
            return
        if part.is_multipart():
            for sub in part.get_payload():
                visit(sub)
            return
        name = part.get_filename()
        disposition = part.get_content_disposition()
        named = name is not None or disposition == "attachment"
        if not named and ctype in have:
            if not have[ctype]:
                have[ctype] = True
            return
        data = part.get_payload(decode=True) or b""
        out.append([name, hashlib.sha256(data).hexdigest()])

    visit(msg)


def messages(path):
    with open(path, "rb") as f:
        raw = f.read()
    if not raw.startswith(b"From "):
        yield raw
        return
    lines = raw.splitlines(keepends=True)
    current, prev_blank, started = None, False, False
    for line in lines:
        if line.startswith(b"From ") and (not started or prev_blank):
            if current is not None:
                if current.endswith(b"\n\n"):
                    current = current[:-1]
                elif current.endswith(b"\r\n\r\n"):
                    current = current[:-2]
                yield current
            current, started, prev_blank = b"", True, False
            continue
        prev_blank = line in (b"\n", b"\r\n")
        if re.match(rb">+From ", line):
            line = line[1:]
        current += line
    if current is not None:
        yield current


def main():
    for path in sys.argv[1:]:
        for raw in messages(path):
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            out = []
            walk(msg, out)
            print(json.dumps({"attachments": out}, ensure_ascii=False))


if __name__ == "__main__":
    main()
