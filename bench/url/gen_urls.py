"""Writes N realistic URLs (about 110 bytes each), one per line, deterministically.

Usage: python3 gen_urls.py N > urls.txt
"""
import random
import sys

rng = random.Random(20261122)
hosts = ["www.example.com", "shop.example.co.uk", "api.service.io", "cdn.static-assets.net",
         "news.example.org", "m.Example.COM", "login.accounts.example.com", "10.0.0.12",
         "[2001:db8::7]", "blog.example.dev", "images.example-cdn.com", "en.wikipedia.org"]
words = ["products", "search", "article", "v1", "v2", "users", "items", "static", "img",
         "2026", "11", "category", "shoes", "news", "world", "index.html", "view", "id",
         "download", "docs", "latest", "page", "en-US", "assets"]
keys = ["q", "page", "sort", "utm_source", "utm_medium", "utm_campaign", "id", "lang", "ref",
        "session", "filter", "size", "color"]
vals = ["newsletter", "email", "summer+sale", "relevance", "42", "en", "de", "red%20shoes",
        "a1b2c3d4e5", "price_asc", "1", "true", "caf%C3%A9", "x%2Fy"]


def url():
    scheme = rng.choice(["https", "https", "https", "http"])
    user = "user:pw@" if rng.random() < 0.03 else ""
    port = rng.choice(["", "", "", "", ":8080", ":443"])
    path = "/" + "/".join(rng.choice(words) for _ in range(rng.randint(1, 4)))
    if rng.random() < 0.05:
        path += ";jsessionid=" + "%08x" % rng.getrandbits(32)
    base = f"{scheme}://{user}{rng.choice(hosts)}{port}{path}?"
    target = rng.randint(88, 115)
    params = [f"{rng.choice(keys)}={rng.choice(vals)}"]
    while len(base) + len("&".join(params)) < target:
        params.append(f"{rng.choice(keys)}={rng.choice(vals)}")
    frag = "#" + rng.choice(words) if rng.random() < 0.2 else ""
    return base + "&".join(params) + frag


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    out = sys.stdout
    for _ in range(n):
        out.write(url() + "\n")

if __name__ == "__main__":
    main()
