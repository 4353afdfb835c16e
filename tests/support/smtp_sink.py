"""An aiosmtpd sink for postie's tests and benchmarks.

Stores every accepted message as one JSON line in --out: the exact received bytes
(base64, from envelope.original_content), the envelope, whether the session was under TLS,
and the authenticated login. Recipients starting with "reject" get 550, "later" get 451,
"big" get 552 at DATA end. Prints READY on stdout when listening.

usage: smtp_sink.py --port N --out FILE|- [--mode plain|starttls|implicit]
                    [--cert F --key F] [--auth USER:PASS] [--quiet]
"""

import argparse
import base64
import json
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, out):
        # "-" keeps nothing (benchmarks).
        self.out = None if out == "-" else out
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 <%s>: Recipient address rejected: no such user" % address
        if local.startswith("later"):
            return "451 4.3.0 <%s>: Temporary lookup failure, try again" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(r.split("@", 1)[0].lower().startswith("big") for r in envelope.rcpt_tos):
            return "552 5.3.4 Message size exceeds fixed limit"
        if self.out is None:
            return "250 2.0.0 Ok: discarded"
        data = envelope.original_content or b""
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None
            or server.transport.get_extra_info("ssl_object") is not None,
            "auth": login,
            "mail_options": envelope.mail_options,
            "data": base64.b64encode(data).decode(),
        }
        with self.lock:
            with open(self.out, "a") as f:
                f.write(json.dumps(record) + "\n")
        return "250 2.0.0 Ok: queued"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--mode", default="plain", choices=["plain", "starttls", "implicit"])
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--auth")
    # aiosmtpd's Controller offers SMTPUTF8 unless told not to.
    p.add_argument("--no-smtputf8", action="store_true", help="do not offer SMTPUTF8")
    a = p.parse_args()

    kwargs = {}
    kwargs["enable_SMTPUTF8"] = not a.no_smtputf8
    if a.mode != "plain":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)
        if a.mode == "starttls":
            kwargs["tls_context"] = ctx
        else:
            kwargs["ssl_context"] = ctx
            # aiosmtpd 1.4 never offers AUTH on an implicit-TLS listener otherwise.
            kwargs["auth_require_tls"] = False
    if a.auth:
        user, password = a.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == user
                and auth_data.password.decode() == password
            )
            return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

        kwargs["authenticator"] = authenticator
        kwargs["auth_required"] = True
    else:
        kwargs["auth_require_tls"] = False

    controller = Controller(
        Sink(a.out),
        hostname="127.0.0.1",
        port=a.port,
        server_hostname="sink.test",
        data_size_limit=200 * 1024 * 1024,
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
