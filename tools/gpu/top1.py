#!/usr/bin/env python3
"""top1.py A B - how often two `octet ppl --top1` files name the same token.

Prints "top-1 agreement X% (N of M positions)"; exit 1 when the files have
different lengths or are empty (a run that failed), 0 otherwise."""
import sys


def read(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: top1.py A B")
    a, b = read(sys.argv[1]), read(sys.argv[2])
    if not a or len(a) != len(b):
        print("top-1: %d vs %d positions, not comparable" % (len(a), len(b)))
        sys.exit(1)
    same = sum(x == y for x, y in zip(a, b))
    print("top-1 agreement %.2f%% (%d of %d positions)" % (100.0 * same / len(a), same, len(a)))


if __name__ == "__main__":
    main()
