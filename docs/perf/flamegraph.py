#!/usr/bin/env python3
"""Folds `perf script` output into stacks and draws them as a flame graph (SVG).

    perf script -i perf.data | python3 docs/perf/flamegraph.py "title" > out.svg

Each sample's stack, root first, adds one to every frame on it; a frame's width is its share
of all samples. Frames narrower than 0.1 % are left out, so that the file stays small.
"""

import html
import re
import sys
from collections import defaultdict

WIDTH, ROW, FONT = 1200, 16, 11
MIN_SHARE = 0.001


def stacks(lines):
    """Yields each sample's frames, root first: the thread's name, then the call stack."""
    thread, frames = None, []
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            if thread is not None:
                yield [thread] + frames[::-1]
            thread, frames = None, []
        elif line[0] not in " \t":
            thread, frames = line.split()[0], []
        else:
            parts = line.strip().split(None, 1)
            symbol = parts[1] if len(parts) > 1 else parts[0]
            symbol = re.sub(r"\s+\(\S*\)$", "", symbol)
            symbol = re.sub(r"\+0x[0-9a-f]+$", "", symbol)
            frames.append(symbol)
    if thread is not None:
        yield [thread] + frames[::-1]


def main():
    title = sys.argv[1] if len(sys.argv) > 1 else "flame graph"
    tree = lambda: defaultdict(tree)  # noqa: E731
    root, counts, total = tree(), defaultdict(int), 0
    for stack in stacks(sys.stdin):
        total += 1
        node, path = root, ()
        for frame in stack:
            node, path = node[frame], path + (frame,)
            counts[path] += 1
    if total == 0:
        sys.exit("no samples")
    rects = []

    def walk(node, path, x, depth):
        for frame in sorted(node):
            n = counts[path + (frame,)]
            if n / total >= MIN_SHARE:
                rects.append((x, depth, n, frame))
                walk(node[frame], path + (frame,), x, depth + 1)
            x += n

    walk(root, (), 0, 0)
    depth = max(d for _, d, _, _ in rects) + 1
    height = (depth + 2) * ROW
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'font-family="monospace" font-size="{FONT}">',
        f'<text x="4" y="{ROW - 3}">{html.escape(title)} ({total} samples)</text>',
    ]
    for x, d, n, frame in rects:
        px, w = x / total * WIDTH, n / total * WIDTH
        y = height - (d + 1) * ROW
        hue = 20 + sum(frame.encode()) % 40
        label = html.escape(frame)
        share = f"{n / total:.1%}"
        chars = int(w / (FONT * 0.6))
        text = label if len(frame) <= chars else html.escape(frame[: max(chars - 2, 0)]) + ".."
        out.append(
            f'<g><title>{label} ({n} samples, {share})</title>'
            f'<rect x="{px:.1f}" y="{y}" width="{w:.1f}" height="{ROW - 1}" '
            f'fill="hsl({hue},90%,60%)"/>'
            + (f'<text x="{px + 2:.1f}" y="{y + ROW - 4}">{text}</text>' if chars > 3 else "")
            + "</g>"
        )
    out.append("</svg>")
    print("\n".join(out))


if __name__ == "__main__":
    main()
