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
