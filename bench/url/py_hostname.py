"""CPython's side of `postie url get '{hostname}'`: print urlsplit(u).hostname per line."""
import sys
from urllib.parse import urlsplit


def main():
    write = sys.stdout.write
    for line in sys.stdin:
        url = line[:-1] if line.endswith("\n") else line
        try:
            write((urlsplit(url).hostname or "") + "\n")
        except ValueError:
            write("\n")


main()
