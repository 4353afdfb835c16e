"""CPython's side of `postie url parse --json`: urlparse each stdin line, print its fields and
attributes as one JSON object (an error field when the port or the URL is invalid)."""
import json
import sys
from urllib.parse import urlparse


def main():
    dumps = json.dumps
    write = sys.stdout.write
    for line in sys.stdin:
        url = line[:-1] if line.endswith("\n") else line
        try:
            p = urlparse(url)
        except ValueError as e:
            write(dumps({"url": url, "error": f"ValueError: {e}"}) + "\n")
            continue
        rec = {"scheme": p.scheme, "netloc": p.netloc, "path": p.path, "params": p.params,
               "query": p.query, "fragment": p.fragment, "username": p.username,
               "password": p.password, "hostname": p.hostname}
        try:
            rec["port"] = p.port
        except ValueError as e:
            rec["port"] = None
            rec["error"] = f"ValueError: {e}"
        write(dumps(rec) + "\n")


main()
