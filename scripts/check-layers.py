#!/usr/bin/env python3
"""Checks the architecture's two rules for src/ (docs/ARCHITECTURE.md):

1. Dependencies point downward: a folder includes headers only from folders in lower layers
   (or its own layer's peers that the table allows).
2. Each library links exactly what it includes: the llmtune_* libraries named in a folder's
   target_link_libraries are the folders its sources include, no more and no fewer.

usage: check-layers.py [SRC_DIR]    (prints each violation; exit 1 when there is one)
"""
import pathlib
import re
import sys

# Layers, bottom first. A folder may include from any folder of a lower layer; folders of one
# layer do not include each other.
LAYERS = [
    ["core"],
    ["backend"],
    ["model"],
    ["io", "parallel", "text"],
    ["data", "config", "track", "export"],
    ["eval", "train"],
    ["experiment", "server"],
    ["cli"],
]
LAYER_OF = {folder: i for i, layer in enumerate(LAYERS) for folder in layer}
TARGET = {"cli": "llmtune"}  # every other folder's library is llmtune_<folder>

INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/', re.M)


def includes_of(folder):
    used = set()
    for f in list(folder.rglob("*.cpp")) + list(folder.rglob("*.h")):
        used.update(INCLUDE.findall(f.read_text()))
    used.discard(folder.name)
    return used


def links_of(folder):
    text = (folder / "CMakeLists.txt").read_text()
    target = TARGET.get(folder.name, "llmtune_" + folder.name)
    links = set()
    for m in re.finditer(r"target_link_libraries\(\s*(\S+)([^)]*)\)", text, re.S):
        if m.group(1) == target:
            links.update(re.findall(r"\bllmtune_([a-z_]+)", m.group(2)))
    return links


def main():
    src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else
                       pathlib.Path(__file__).resolve().parent.parent / "src")
    problems = []
    for folder in sorted(p for p in src.iterdir() if (p / "CMakeLists.txt").exists()):
        name = folder.name
        if name not in LAYER_OF:
            problems.append(f"src/{name}: not in the layer table of scripts/check-layers.py")
            continue
        used, linked = includes_of(folder), links_of(folder)
        for dep in sorted(used):
            if dep not in LAYER_OF or LAYER_OF[dep] >= LAYER_OF[name]:
                problems.append(f"src/{name} includes {dep}/, which is not in a lower layer")
        for dep in sorted(used - linked):
            problems.append(f"src/{name} includes {dep}/ but does not link llmtune_{dep}")
        for dep in sorted(linked - used):
            problems.append(f"src/{name} links llmtune_{dep} but includes nothing of {dep}/")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
