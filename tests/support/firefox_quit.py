"""Quits a Firefox started with --marionette cleanly, as a user closing it would.

usage: firefox_quit.py PORT

Connects to Marionette on 127.0.0.1:PORT (messages are `LENGTH:JSON`), opens a WebDriver
session and sends `Marionette:Quit`. After a clean quit Firefox has written its session store
(`sessionstore.jsonlz4`, with the session cookies) and merged its WAL.
"""
import json
import socket
import sys
import time


def main():
    port = int(sys.argv[1])
    deadline = time.time() + 30
    while True:
        try:
            sock = socket.create_connection(("127.0.0.1", port))
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)
    stream = sock.makefile("rb")

    def receive():
        size = b""
        while not size.endswith(b":"):
            byte = stream.read(1)
            if not byte:
                raise EOFError("Marionette closed the connection")
            size += byte
        return json.loads(stream.read(int(size[:-1])))

    def send(message):
        data = json.dumps(message).encode()
        sock.sendall(str(len(data)).encode() + b":" + data)

    receive()
    send([0, 1, "WebDriver:NewSession", {}])
    receive()
    send([0, 2, "Marionette:Quit", {"flags": ["eAttemptQuit"]}])
    print(receive())


main()
