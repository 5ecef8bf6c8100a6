#!/usr/bin/env python3
"""Where the bytes of a release binary go, by crate, from an UNSTRIPPED build of the same
profile (not stripped, plus line tables; the code is the same):

    CARGO_PROFILE_RELEASE_STRIP=false CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \\
    CARGO_TARGET_DIR=/work/target-release-syms \\
        cargo build --release -p call-completed -p executor -p dispatcher
    python3 bench/size_breakdown.py /work/target-release-syms/release/call-completed

Symbol sizes from `nm -S -C` (functions and named statics), attributed to the crate
that names the symbol (the first path segment; `<T as Trait>` impls go to T's crate),
plus the ELF sections from `size -A`. Anonymous data (string literals, vtables, unwind
tables, relocations) has no symbol and shows up only in the section totals.
"""
import re
import subprocess
import sys
from collections import Counter


def crate_of(name: str) -> str:
    name = name.strip()
    while name.startswith("<"):
        name = name[1:]
    name = re.sub(r"^(dyn |&mut |&|\*const |\*mut |\[)", "", name)
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)::", name)
    if m:
        return m.group(1)
    return "(other: " + (name.split("(")[0][:30] or "?") + ")"


def main():
    path = sys.argv[1]
    sections = subprocess.run(["size", "-A", path], capture_output=True, text=True, check=True).stdout
    print("ELF sections over 100 kB:")
    for line in sections.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) > 100_000:
            print(f"  {parts[0]:<22} {int(parts[1]):>10,}")
    out = subprocess.run(["nm", "-S", "-C", "--size-sort", path], capture_output=True, text=True, check=True).stdout
    by_crate = Counter()
    by_kind = Counter()
    for line in out.splitlines():
        parts = line.split(" ", 3)
        if len(parts) < 4:
            continue
        size = int(parts[1], 16)
        kind = parts[2].lower()
        by_kind["text" if kind == "t" else "data"] += size
        by_crate[crate_of(parts[3])] += size
    total = sum(by_crate.values())
    print(f"\nnamed symbols: {total:,} bytes (text {by_kind['text']:,}, data {by_kind['data']:,})")
    print("\n| crate | bytes | share of named |\n|---|---|---|")
    for crate, size in by_crate.most_common(25):
        print(f"| {crate} | {size:,} | {100 * size / total:.1f} % |")


if __name__ == "__main__":
    main()
