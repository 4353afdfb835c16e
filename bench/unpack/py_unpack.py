#!/usr/bin/env python3
"""The Python `email` anchor: unpack_py.py OUTDIR FILE... writes every attachment of every
message (policy=default, iter_attachments) into OUTDIR, with a counter on duplicate names."""
import email
import email.policy
import os
import sys


def main():
    out = sys.argv[1]
    for path in sys.argv[2:]:
        with open(path, "rb") as f:
            msg = email.message_from_binary_file(f, policy=email.policy.default)
        for n, part in enumerate(msg.iter_attachments()):
            name = os.path.basename(part.get_filename() or f"attachment-{n}")
            dest = os.path.join(out, name)
            k = 0
            while os.path.exists(dest):
                k += 1
                dest = os.path.join(out, f"{k}-{name}")
            with open(dest, "wb") as f:
                f.write(part.get_payload(decode=True) or b"")


if __name__ == "__main__":
    main()
