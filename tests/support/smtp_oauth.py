"""An aiosmtpd server whose AUTH takes OAuth2 bearer tokens (XOAUTH2, OAUTHBEARER; no
password mechanisms), for postie's OAuth2 tests.

Each token is checked by RFC 7662 introspection at --introspect (POST token, client_id,
client_secret, as Dovecot does); a login succeeds only when the answer is active, its
token_type (if any) is Bearer, its username equals the SASL user (XOAUTH2 user=, OAUTHBEARER
a=; with no a= the token's user is taken) and its scope holds --scope.

A refused token gets the SASL error round trip: `334 base64(JSON)` (XOAUTH2:
{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}, OAUTHBEARER:
{"status":"invalid_token"}), the client's answer (an empty line, or AQ== i.e. 0x01), then
535 5.7.8. A malformed SASL message gets 501 at once. MAIL needs a login. AUTH lines may be
12288 octets long (RFC 4954 §4); DATA lines keep aiosmtpd's 1000-octet limit.

Writes one JSON line per accepted message to --out (exact received bytes base64-encoded,
the envelope, tls, the user and mechanism) and one per AUTH attempt to --auth-log
(mechanism, user, authzid, token, ok, client_answer base64 or null). Prints READY when
listening.

usage: smtp_oauth.py --port N --out FILE --auth-log FILE --introspect URL
                     --client-id ID --client-secret S [--ca FILE] [--scope mail]
                     [--mode starttls|implicit|plain] [--cert F --key F]
"""

import argparse
import asyncio
import base64
import collections
import json
import signal
import ssl
import sys
import threading
import urllib.parse
import urllib.request

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult

XOAUTH2_ERROR = {"status": "401", "schemes": "bearer", "scope": "https://mail.google.com/"}
OAUTHBEARER_ERROR = {"status": "invalid_token"}


def parse_xoauth2(blob):
    """user=U^Aauth=Bearer T^A^A -> (user, None, token) or None."""
    parts = blob.split(b"\x01")
    if len(parts) != 4 or parts[2:] != [b"", b""]:
        return None
    if not parts[0].startswith(b"user=") or not parts[1].startswith(b"auth=Bearer "):
        return None
    return parts[0][5:].decode(), None, parts[1][len(b"auth=Bearer "):].decode()


def parse_oauthbearer(blob):
    """RFC 7628: gs2-header ^A key=value^A ... ^A^A -> (authzid or None, authzid, token)."""
    head, sep, rest = blob.partition(b"\x01")
    fields = head.split(b",")
    if not sep or len(fields) < 3 or fields[0] not in (b"n", b"y"):
        return None
    authzid = fields[1][2:].decode() if fields[1].startswith(b"a=") else None
    if not rest.endswith(b"\x01\x01"):
        return None
    token = None
    for kv in rest[:-2].split(b"\x01"):
        if kv.startswith(b"auth=Bearer "):
            token = kv[len(b"auth=Bearer "):].decode()
    if token is None:
        return None
    return authzid, authzid, token


# RFC 4954 §4: an AUTH command line may be 12288 octets (long bearer tokens); aiosmtpd 1.4
# allows 512 for commands and reads lines of at most 1001 octets (DATA keeps that limit).
AUTH_LINE_LIMIT = 12288


class OAuthSMTP(SMTP):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # An instance's own limits (aiosmtpd's are a class attribute), AUTH raised.
        self.command_size_limits = collections.defaultdict(lambda: SMTP.command_size_limit)
        self.command_size_limits["AUTH"] = AUTH_LINE_LIMIT

    def _cb_client_connected(self, reader, writer):
        reader._limit = AUTH_LINE_LIMIT + 2  # the stream's line limit
        super()._cb_client_connected(reader, writer)


class OAuthController(Controller):
    def factory(self):
        return OAuthSMTP(self.handler, **self.SMTP_kwargs)


class Handler:
    def __init__(self, a):
        self.a = a
        self.lock = threading.Lock()
        self.ctx = ssl.create_default_context(cafile=a.ca) if a.ca else None

    def append(self, path, record):
        with self.lock:
            with open(path, "a") as f:
                f.write(json.dumps(record) + "\n")

    def introspect(self, token):
        body = urllib.parse.urlencode(
            {"token": token, "client_id": self.a.client_id, "client_secret": self.a.client_secret}
        ).encode()
        req = urllib.request.Request(self.a.introspect, data=body, method="POST")
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with urllib.request.urlopen(req, timeout=10, context=self.ctx) as resp:
                return json.load(resp)
        except Exception as e:  # an unreachable IdP refuses the login
            return {"active": False, "error": str(e)}

    def verdict(self, info, user):
        if info.get("active") is not True:
            return False
        if info.get("token_type", "Bearer").lower() != "bearer":
            return False
        if self.a.scope not in str(info.get("scope", "")).split():
            return False
        return user is None or info.get("username") == user

    async def sasl(self, server, args, mechanism, parse, error):
        if len(args) > 1:
            try:
                blob = b"" if args[1] == "=" else base64.b64decode(args[1], validate=True)
            except ValueError:
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        else:
            blob = await server.challenge_auth("")
            if blob is MISSING:
                return AuthResult(success=False, handled=True)
        parsed = parse(blob)
        if parsed is None:
            await server.push("501 5.5.2 Malformed %s message" % mechanism)
            return AuthResult(success=False, handled=True)
        user, authzid, token = parsed
        info = await asyncio.get_running_loop().run_in_executor(None, self.introspect, token)
        ok = self.verdict(info, user)
        record = {"mechanism": mechanism, "user": user, "authzid": authzid,
                  "token": token, "ok": ok, "client_answer": None}
        if ok:
            self.append(self.a.auth_log, record)
            return AuthResult(success=True, auth_data={"user": info.get("username"),
                                                        "mechanism": mechanism})
        answer = await server.challenge_auth(json.dumps(error, separators=(",", ":")))
        if answer is not MISSING:
            record["client_answer"] = base64.b64encode(answer).decode()
        self.append(self.a.auth_log, record)
        if answer is MISSING:  # "*" (aiosmtpd answered 501) or bad base64
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False)

    async def auth_XOAUTH2(self, server, args):
        return await self.sasl(server, args, "XOAUTH2", parse_xoauth2, XOAUTH2_ERROR)

    async def auth_OAUTHBEARER(self, server, args):
        return await self.sasl(server, args, "OAUTHBEARER", parse_oauthbearer, OAUTHBEARER_ERROR)

    async def handle_DATA(self, server, session, envelope):
        auth = session.auth_data if isinstance(session.auth_data, dict) else {}
        self.append(self.a.out, {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "user": auth.get("user"),
            "mechanism": auth.get("mechanism"),
            "data": base64.b64encode(envelope.original_content or b"").decode(),
        })
        return "250 2.0.0 Ok: queued"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--auth-log", required=True)
    p.add_argument("--introspect", required=True)
    p.add_argument("--client-id", required=True)
    p.add_argument("--client-secret", required=True)
    p.add_argument("--ca")
    p.add_argument("--scope", default="mail")
    p.add_argument("--mode", default="starttls", choices=["plain", "starttls", "implicit"])
    p.add_argument("--cert")
    p.add_argument("--key")
    a = p.parse_args()

    kwargs = {"auth_required": True, "auth_exclude_mechanism": ["PLAIN", "LOGIN"]}
    if a.mode != "plain":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)
        if a.mode == "starttls":
            kwargs["tls_context"] = ctx
        else:
            kwargs["ssl_context"] = ctx
            # aiosmtpd 1.4 never offers AUTH on an implicit-TLS listener otherwise.
            kwargs["auth_require_tls"] = False
    else:
        kwargs["auth_require_tls"] = False

    controller = OAuthController(
        Handler(a),
        hostname="127.0.0.1",
        port=a.port,
        server_hostname="oauth.test",
        # The built-in authenticator is not used (both mechanisms are the handler's); this
        # only keeps aiosmtpd from warning that there is none.
        authenticator=lambda *args: AuthResult(success=False),
        **kwargs,
    )
    controller.start()
    print("READY", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    sys.exit(main())
