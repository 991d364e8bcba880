#!/usr/bin/env python3
"""Lists the functions in src/ longer than a limit (default 100 lines), as the project's style
asks (../shared/STYLE.md: no function over ~80 lines without a reason; issue 14: none over 100).

usage: check-function-size.py [--limit N] [ROOT]   (exit 1 when any function is longer)

A function is a definition whose header ends a line with '{' at namespace depth (column 0 or
inside a class body), measured from that line to its closing brace, with string and character
literals and comments stripped before braces are counted.
"""
import argparse
import pathlib
import re
import sys

LITERALS = re.compile(r'R"(?P<d>[^(]*)\(.*?\)(?P=d)"|"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|//[^\n]*',
                      re.S)
HEADER = re.compile(r'^\s*[A-Za-z_~][^;{}]*\)\s*(const)?\s*(noexcept)?\s*(override)?\s*(->[^{]*)?\{\s*$')
NOT_FUNCTION = re.compile(r'^\s*(namespace|struct|class|enum|union|if|for|while|switch|else|do|try|catch)\b')


def blank_literals(text):
    # Keep line breaks so that line numbers hold.
    return LITERALS.sub(lambda m: re.sub(r'[^\n]', ' ', m.group(0)), text)


def long_functions(path, limit):
    lines = blank_literals(path.read_text()).split('\n')
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        if HEADER.match(line) and not NOT_FUNCTION.match(line) and '=' not in line.split('(')[0]:
            depth, j = 0, i
            while j < len(lines):
                depth += lines[j].count('{') - lines[j].count('}')
                if depth <= 0 and j > i or (depth == 0 and '}' in lines[j]):
                    break
                j += 1
            if j - i + 1 > limit:
                out.append((j - i + 1, i + 1, line.strip()[:70]))
            i = j
        i += 1
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--limit', type=int, default=100)
    p.add_argument('root', nargs='?', default=str(pathlib.Path(__file__).resolve().parent.parent / 'src'))
    a = p.parse_args()
    found = False
    for f in sorted(pathlib.Path(a.root).rglob('*.cpp')):
        for n, line, head in long_functions(f, a.limit):
            print(f'{f}:{line}: {n} lines: {head}')
            found = True
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main())
