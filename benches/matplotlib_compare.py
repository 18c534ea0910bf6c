#!/usr/bin/env python3
"""matplotlib drawing the comparison chart of benches/charts.rs, for the speed comparison.

Reads the JSON that `CHARTS_BENCH_DATA=... cargo bench --bench charts` writes (same sessions,
statements and counts, and the pixel size our renderer produced), draws the chart with
matplotlib's Agg backend in the same arrangement (title, subtitle, legend, two columns of
statement groups with banded backgrounds, a bar per session with "NN%  n=NN", session names,
0-100 % axis with gridlines), saves it as PNG into memory, and prints the median time of many
runs. Usage: matplotlib_compare.py DATA.json [RUNS]
"""

import io
import json
import statistics
import struct
import sys
import textwrap
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

OKABE_ITO = ["#0072b2", "#e69f00", "#009e73", "#d55e00", "#56b4e9", "#cc79a7", "#4d4d4d", "#f0e442"]
DPI = 100


def percent(agree, n):
    return f"{round(agree * 100 / n)}%"


def draw(data):
    width, height = data["width"], data["height"]
    series = data["series"]
    groups = data["groups"]
    fig = plt.figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    fig.text(28 / width, 1 - 40 / height, data["title"], fontsize=19, fontweight="bold", va="center")
    fig.text(28 / width, 1 - 68 / height, data["subtitle"], fontsize=11, color="#5f6368", va="center")
    handles = [Patch(color=OKABE_ITO[i % 8], label=name) for i, name in enumerate(series)]
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(20 / width, 1 - 80 / height),
               ncol=7, frameon=False, fontsize=11, handlelength=1.2, columnspacing=1.5)

    half = (len(groups) + 1) // 2
    top_px, bottom_px = 140, 80
    plot_height = (height - top_px - bottom_px) / height
    for column, chunk in enumerate((groups[:half], groups[half:])):
        left = (28 + 200 + column * 596) / width
        ax = fig.add_axes((left, bottom_px / height, 340 / width, plot_height))
        rows = []  # (y, kind, payload)
        y = 0.0
        for g, group in enumerate(chunk):
            start = y
            label = f"{group['position']}. " + group["text"]
            lines = textwrap.wrap(label, 70)
            y += 0.9 * len(lines) + 0.3
            ax.text(-0.58 * 100, y - 0.4, "\n".join(lines), fontsize=10, va="bottom", ha="left")
            for i, cell in enumerate(group["cells"]):
                y += 1.0
                rows.append((y, i, cell))
            y += 0.6
            if g % 2 == 0:
                ax.axhspan(start, y, xmin=-0.6, xmax=1.28, color="#f3f4f6", zorder=0, clip_on=False)
        ys = [r[0] for r in rows]
        shares, colors, names = [], [], []
        for _, i, cell in rows:
            n = (cell["agree"] + cell["disagree"]) if cell else 0
            shares.append(cell["agree"] * 100 / n if n else 0)
            colors.append(OKABE_ITO[i % 8])
            names.append(series[i])
        ax.barh(ys, shares, height=0.75, color=colors, zorder=2)
        for (y_bar, _, cell), share in zip(rows, shares):
            n = (cell["agree"] + cell["disagree"]) if cell else 0
            text = f"{percent(cell['agree'], n)}  n={n}" if n else "geen stemmen"
            ax.text(share + 1.5, y_bar, text, va="center", fontsize=9, zorder=3)
        ax.set_yticks(ys, names, fontsize=9)
        ax.set_ylim(y, 0)
        ax.set_xlim(0, 100)
        ax.set_xticks(range(0, 101, 20), [f"{t}%" for t in range(0, 101, 20)], fontsize=8)
        ax.xaxis.grid(True, color="#dfe1e5", zorder=1)
        ax.set_axisbelow(True)
        for side in ("top", "right", "bottom"):
            ax.spines[side].set_visible(False)
        ax.set_xlabel(data["axis"], fontsize=10)
    if data.get("footnote"):
        fig.text(28 / width, 18 / height, data["footnote"], fontsize=9, color="#5f6368")

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    return buffer.getvalue()


def main():
    path = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    png = draw(data)  # warm-up: font cache, imports
    width, height = struct.unpack(">II", png[16:24])
    if (width, height) != (data["width"], data["height"]):
        sys.exit(f"matplotlib drew {width}x{height}, expected {data['width']}x{data['height']}")
    if len(sys.argv) > 3:
        with open(sys.argv[3], "wb") as f:
            f.write(png)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        draw(data)
        times.append(time.perf_counter() - start)
    median_ms = statistics.median(times) * 1000
    print(f"matplotlib {matplotlib.__version__}: median {median_ms:.2f} ms over {runs} runs, "
          f"{width}x{height} px, {len(png)} bytes")
    print(f"MEDIAN_MS={median_ms:.3f}")


if __name__ == "__main__":
    main()
