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
saved and unpacked; other message/* parts (delivery-status, partial, ...), which Python
models as lists of header blocks, are leaves whose bytes are not compared ("report"); every
other leaf is an attachment, but a multipart part whose parts Python could not find (no
boundary line) is skipped. mbox files are split the way postie documents (at a `From ` line
that looks like an envelope: a sender and a date, or `-` or an address alone; mboxrd
unquoting), because Python's `mailbox` module splits at every `From ` line; the split is not
what is being compared.
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
        if part.get_content_maintype() == "message":
            out.append([part.get_filename(), "report"])
            return
        if part.is_multipart():
            for sub in part.get_payload():
                visit(sub)
            return
        if part.get_content_maintype() == "multipart":
            return  # a multipart whose boundary never comes: an empty container, not a file
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


MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def is_envelope(line):
    if not line.startswith(b"From "):
        return False
    words = line[5:].split()
    if not words:
        return False
    sender, date = words[0], words[1:]
    if not date:
        return sender == b"-" or b"@" in sender
    month = any(w[:3].lower().decode("latin-1") in MONTHS for w in date if len(w) >= 3)
    time = any(re.fullmatch(rb"\d{1,2}:\d{1,2}(:\d{1,2})?", w) for w in date)
    year = any(re.fullmatch(rb"\d{4}", w) for w in date)
    return month and time and year and len(date) <= 8


def messages(path):
    with open(path, "rb") as f:
        raw = f.read()
    if not raw.startswith(b"From "):
        yield raw
        return
    lines = raw.splitlines(keepends=True)
    current = None
    for line in lines:
        if is_envelope(line) or (current is None and line.startswith(b"From ")):
            if current is not None:
                if current.endswith(b"\n\n"):
                    current = current[:-1]
                elif current.endswith(b"\r\n\r\n"):
                    current = current[:-2]
                yield current
            current = b""
            continue
        if current is None:
            continue
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
