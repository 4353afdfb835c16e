#!/usr/bin/env bash
# Seeds each fuzz target's corpus, DIR/<target>/ (DIR: the argument, else fuzz/corpus),
# from the repository's fixtures/ (and, where fixtures/ has none of a kind, from small
# hand-written protocol exchanges).
# Each seed is one input in the target's format: most targets take a selector byte first
# (see the comment at the top of fuzz_targets/<target>.rs). Safe to run again: seeds are
# named by content, so a rerun only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-fuzz/corpus}
mkdir -p "$corpus"/{url,cookie_jar,set_cookie,pop3,smtp_reply,unpack,batch}

python3 - "$corpus" <<'PY'
import hashlib, json, os, re, sys

corpus = sys.argv[1]

def seed(target, data):
    if isinstance(data, str):
        data = data.encode()
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(corpus, target, name), "wb") as f:
        f.write(data)

def cases(kind, every):
    with open(f"fixtures/url/golden/{kind}/cases.jsonl", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i % every == 0:
                yield json.loads(line)

# url: selector bit 0 set = allow_fragments false; `base NUL url` for urljoin.
for c in cases("split", 25):
    seed("url", bytes([0 if c["frag"] else 1]) + c["url"].encode())
for c in cases("join", 25):
    seed("url", bytes([0 if c["frag"] else 1]) + f"{c['base']}\0{c['url']}".encode())
for c in cases("defrag", 25):
    seed("url", b"\0" + c["url"].encode())
for c in cases("qs", 10):
    o = c["opts"]
    sel = 2 * bool(o.get("strict_parsing")) + 4 * (o.get("separator") == ";")
    seed("url", bytes([sel]) + c["qs"].encode())
for kind in ("quote", "unquote"):
    for c in cases(kind, 20):
        seed("url", b"\0" + c["text"].encode())

# cookie_jar: the peers' real files, whole and line by line.
jars = [f"fixtures/cookies/{n}" for n in sorted(os.listdir("fixtures/cookies")) if n.endswith(".txt")]
for path in jars:
    data = open(path, "rb").read()
    seed("cookie_jar", data)
    for line in data.splitlines(keepends=True):
        seed("cookie_jar", line)

# set_cookie: the values the sample server sends, from each request URL.
text = open("fixtures/cookies/sample_server.py", encoding="utf-8").read()
block = re.search(r"^SET = \[(.*?)^\]", text, re.S | re.M).group(1)
values = re.findall(r'"((?:[^"\\]|\\.)*)"', block)
for sel in range(8):
    seed("set_cookie", bytes([sel]) + "\n".join(values).encode())
for v in values:
    seed("set_cookie", b"\0" + v.encode())
    seed("set_cookie", b"\1" + v.encode())

# unpack: every message fixture, with default options and a few others.
mail = []
for root, _, files in os.walk("fixtures/mail"):
    mail += [os.path.join(root, n) for n in files if n.endswith((".eml", ".mbox"))]
for path in sorted(mail):
    data = open(path, "rb").read()
    for sel in (0, 1, 8, 0x21):
        seed("unpack", bytes([sel]) + data)

# unpack, issue 17: a winmail.dat (TNEF) attachment and uuencoded/yEnc bodies, made here as
# tests/support/tnef_build.rs and uu_build.rs make them (no TNEF file is committed).
import base64, binascii, struct, zlib

def attr(level, ident, data):
    return struct.pack("<BII", level, ident, len(data)) + data + struct.pack("<H", sum(data) & 0xffff)

def prop_string(ident, text):
    v = text.encode() + b"\0"
    return struct.pack("<HHII", 0x1e, ident, 1, len(v)) + v + b"\0" * (-len(v) % 4)

tnef = b"\x78\x9f\x3e\x22\x01\x00" + attr(1, 0x00018004, b"Subject\0")
for title, data, props in [
    (b"REPORT~1.TXT\0", b"long-named file\n", [prop_string(0x3707, "Quarterly report.txt"), prop_string(0x370e, "text/plain")]),
    (b"NOTES.PDF\0", b"%PDF-1.4 notes", []),
]:
    tnef += attr(2, 0x00069002, bytes(14)) + attr(2, 0x00018010, title) + attr(2, 0x0006800f, data)
    if props:
        tnef += attr(2, 0x00069005, struct.pack("<I", len(props)) + b"".join(props))
seed("unpack", b"\0" + tnef)
wrapped = (b"From: a@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=w\r\n\r\n"
           b"--w\r\nContent-Type: text/plain\r\n\r\nhi\r\n--w\r\n"
           b"Content-Type: application/ms-tnef; name=winmail.dat\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           + base64.encodebytes(tnef).replace(b"\n", b"\r\n") + b"--w--\r\n")
for sel in (0, 1):
    seed("unpack", bytes([sel]) + wrapped)
data = bytes((i * 7 + 3) % 256 for i in range(200))
uu = b"begin 644 report.bin\n" + b"".join(binascii.b2a_uu(data[i:i + 45]) for i in range(0, len(data), 45)) + b"`\nend\n"
y = bytearray()
for b in data:
    c = (b + 42) % 256
    y += bytes([61, (c + 64) % 256]) if c in (0, 10, 13, 61) else bytes([c])
yenc = (b"=ybegin line=128 size=200 name=y.bin\n" + bytes(y) + b"\n=yend size=200 crc32=%08x\n" % zlib.crc32(data))
seed("unpack", b"\0From: a@example.org\n\nHere:\n" + uu + b"between\n" + yenc + b"bye\n")
seed("unpack", b"\0" + uu)
seed("unpack", b"\0" + yenc)
PY

# pop3: no server transcripts in fixtures/; dialogues as Dovecot and the test server answer.
seed() { local t=$1; shift; local f; f=$(mktemp); printf "$@" >"$f"; mv "$f" "$corpus/$t/$(sha1sum "$f" | cut -c1-40)"; }
dialogue='+OK Dovecot ready. <4242.1@fake>\r\n+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nSTLS\r\nUSER\r\nSASL PLAIN LOGIN CRAM-MD5\r\n.\r\n'
for sel in '\000' '\001' '\002' '\003' '\004' '\005' '\006' '\200'; do
  seed pop3 "$sel$dialogue"'+ \r\n+OK Logged in.\r\n+OK 2 320\r\n+OK\r\n1 120\r\n2 200\r\n.\r\n+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n+OK\r\nSubject: hi\r\n..dot\r\n\r\n.\r\n+OK Logging out.\r\n'
done
seed pop3 '\001+OK hi\r\n-ERR [IN-USE] Mailbox locked\r\n'
seed pop3 '\000-ERR [SYS/TEMP] try later\r\n'
seed pop3 '\005+OK <1.2@x>\r\n+OK\r\nSASL CRAM-MD5\r\n.\r\n+ PDEyMzQ+\r\n+OK\r\n'
seed pop3 '\003+OK\r\n+OK\r\n.\r\n-ERR [AUTH] Authentication failed.\r\n'
seed pop3 '\000+OK\r\n-ERR unknown\r\n+OK\r\n+OK 1 5\r\n+OK\r\n1 5\r\n.\r\n-ERR no UIDL\r\n+OK\r\n.\r\n'

# smtp_reply: replies as postfix and aiosmtpd send them (selector: the stage).
for sel in '\000' '\001' '\002' '\003' '\004'; do
  seed smtp_reply "$sel"'220 mail.example.org ESMTP Postfix\r\n250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n'
  seed smtp_reply "$sel"'550 5.1.1 <nobody@example.org>: Recipient address rejected\r\n'
  seed smtp_reply "$sel"'421 4.3.2 Service shutting down\r\n452 4.3.1 Insufficient system storage\r\n'
  seed smtp_reply "$sel"'354 End data with <CR><LF>.<CR><LF>\r\n.leading dot\r\n250 2.0.0 Ok: queued as 4B2\r\n'
  seed smtp_reply "$sel"'535 5.7.8 Error: authentication failed\r\n554-first\r\n554 second\r\n'
done

# batch: JSON Lines as the README shows them.
seed batch '{"to": "bob@example.org", "subject": "hi", "body": "hello\\n"}\n'
seed batch '{"to": ["a@example.org", "B <b@example.org>"], "cc": "c@example.org", "bcc": "d@example.org", "subject": "Grüße", "html": "<p>x</p>", "body": "x"}\n\n{"to": 5}\n'
seed batch '{"from": "Ann <ann@example.org>", "to": "bob@example.org", "headers": {"X-Tag": "t", "Message-ID": "<a@b>"}, "reply_to": "r@example.org", "envelope_from": "bounce@example.org"}\n'
seed batch '{"to": "bob@example.org", "headers": {"Bcc": "x@y"}}\nnot json\n{"to": "bob@example.org", "body": ".\\r\\n.\\r\\n"}\n'
seed batch '{"to": "bob@example.org", "attach": "a.txt", "subject": "no files are read"}\n'

for t in "$corpus"/*; do echo "$(basename "$t"): $(ls "$t" | wc -l) seeds"; done
