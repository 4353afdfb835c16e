"""Turns hyperfine JSON and /usr/bin/time -v output into the README's table."""
import json
import os
import re
import sys

results = sys.argv[1]
print("| set | mode | tool | mean wall (s) | ratio to mpop | peak RSS (MiB) |")
print("|---|---|---|---|---|---|")
for name in ("small", "large"):
    for mode in ("plain", "stls"):
        path = os.path.join(results, f"{name}-{mode}.json")
        if not os.path.exists(path):
            continue
        data = {r["command"]: r["mean"] for r in json.load(open(path))["results"]}
        mpop = data.get("mpop")
        for tool, mean in data.items():
            rss = ""
            tf = os.path.join(results, f"{name}-{mode}-{tool}.time")
            if os.path.exists(tf):
                m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(tf).read())
                if m:
                    rss = f"{int(m.group(1)) / 1024:.1f}"
            ratio = f"{mean / mpop:.2f}" if mpop else ""
            label = {"small": "2,000 x 52 KB", "large": "200 x 5 MB"}[name]
            print(f"| {label} | {mode} | {tool} | {mean:.2f} | {ratio} | {rss} |")
