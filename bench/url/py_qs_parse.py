"""CPython's side of `postie qs parse`: parse_qs each stdin line, print it as JSON."""
import json
import sys
from urllib.parse import parse_qs


def main():
    dumps = json.dumps
    write = sys.stdout.write
    for line in sys.stdin:
        q = line[:-1] if line.endswith("\n") else line
        try:
            write(dumps(parse_qs(q)) + "\n")
        except ValueError as e:
            write(dumps({"query": q, "error": f"ValueError: {e}"}) + "\n")


main()
