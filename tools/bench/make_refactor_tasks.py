"""make_refactor_tasks.py - write the held-out refactoring tasks of tools/bench/refactor_tasks/ (run once; the
files are committed). Each task is a small Python module (NAME/module.py), a test script written against the
module as it must be AFTER the change (NAME/test_module.py, plain asserts), and task.json: the instruction
given to `octet refactor --path module.py` and a check that the change was made (refactor_eval.py).

Written for octet's model evaluation and never trained on (tools/train reads only installed packages)."""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "refactor_tasks")

INVENTORY = '''"""A small inventory of items with quantities and prices."""


def total_value(items):
    """Return the total value of ITEMS, a list of (name, quantity, price) tuples."""
    total = 0.0
    for name, quantity, price in items:
        total += quantity * price
    return total


def low_stock(items, threshold):
    """Names of the items whose quantity is below THRESHOLD."""
    result = []
    for name, quantity, price in items:
        if quantity < threshold:
            result.append(name)
    return result


def apply_discount(items, percent):
    """Items with every price reduced by PERCENT percent."""
    factor = 1 - percent / 100
    return [(name, quantity, round(price * factor, 2)) for name, quantity, price in items]


def report(items):
    """A one-line summary of ITEMS."""
    value = total_value(items)
    low = low_stock(items, 5)
    return f"{len(items)} items, value {value:.2f}, {len(low)} low"
'''

TEXTUTIL = '''"""Helpers for cleaning and measuring text."""

import re


def normalize_spaces(text):
    """Collapse runs of white space into single spaces and strip the ends."""
    return re.sub(r"\\s+", " ", text).strip()


def word_count(text):
    """The number of words in TEXT."""
    words = normalize_spaces(text).split(" ")
    return len([w for w in words if w])


def truncate(text, width):
    """TEXT cut to WIDTH characters, ending with '...' when it was cut."""
    if len(text) <= width:
        return text
    return text[:width - 3] + "..."


def initials(name):
    """The upper-case initials of a person's NAME."""
    parts = normalize_spaces(name).split(" ")
    return "".join(p[0].upper() for p in parts if p)
'''

GEOMETRY = '''"""Plane geometry on points given as (x, y) tuples."""

import math


def distance(p, q):
    """Euclidean distance between the points P and Q."""
    dx = q[0] - p[0]
    dy = q[1] - p[1]
    return math.sqrt(dx * dx + dy * dy)


def perimeter(points):
    """Perimeter of the closed polygon through POINTS."""
    total = 0.0
    for i in range(len(points)):
        total += distance(points[i], points[(i + 1) % len(points)])
    return total


def circle_area(radius):
    """Area of a circle of RADIUS."""
    return 3.14159 * radius * radius


def centroid(points):
    """The average of POINTS."""
    n = len(points)
    sx = sum(p[0] for p in points)
    sy = sum(p[1] for p in points)
    return (sx / n, sy / n)
'''

RETRY = '''"""Retrying flaky operations."""

import time


def retry(func, attempts):
    """Call FUNC until it returns without raising, at most ATTEMPTS times; return its result."""
    last_error = None
    for attempt in range(attempts):
        try:
            return func()
        except Exception as exc:
            last_error = exc
            time.sleep(0.001 * attempt)
    raise last_error


def backoff_delays(count):
    """The delays, in seconds, of COUNT retries with exponential backoff."""
    delays = []
    for i in range(count):
        delays.append(0.5 * 2 ** i)
    return delays


def is_transient(message):
    """Whether an error MESSAGE describes a temporary failure."""
    lowered = message.lower()
    return "timeout" in lowered or "temporarily" in lowered
'''

GRADES = '''"""Course grades."""


def average(scores):
    """Mean of SCORES, 0.0 for none."""
    if not scores:
        return 0.0
    return sum(scores) / len(scores)


def letter(score):
    """The letter grade of a numeric SCORE out of 100."""
    if score >= 90:
        return "A"
    if score >= 80:
        return "B"
    if score >= 70:
        return "C"
    return "F"


def passed(scores):
    """Whether the average of SCORES reaches the pass mark."""
    return average(scores) >= 60


def summary(students):
    """Lines 'name: letter' for a dict of name -> list of scores."""
    lines = []
    for name, scores in sorted(students.items()):
        lines.append(f"{name}: {letter(average(scores))}")
    return lines
'''

MODULES = {"inventory": INVENTORY, "textutil": TEXTUTIL, "geometry": GEOMETRY, "retry": RETRY, "grades": GRADES}

BASE_TESTS = {
    "inventory": ("items = [('apple', 3, 0.5), ('pear', 10, 0.25), ('fig', 1, 2.0)]\n",
                  ["assert abs(m.{total_value}(items) - 6.0) < 1e-9",
                   "assert m.{low_stock}(items, 5) == ['apple', 'fig']",
                   "assert m.{apply_discount}(items, 50)[0] == ('apple', 3, 0.25)",
                   "assert m.{report}(items) == '3 items, value 6.00, 2 low'"]),
    "textutil": ("", ["assert m.{normalize_spaces}('  a   b ') == 'a b'", "assert m.{word_count}(' one two  three ') == 3",
                      "assert m.{truncate}('abcdefghij', 6) == 'abc...'", "assert m.{truncate}('abc', 6) == 'abc'",
                      "assert m.{initials}('ada  lovelace') == 'AL'"]),
    "geometry": ("", ["assert m.{distance}((0, 0), (3, 4)) == 5.0",
                      "assert abs(m.{perimeter}([(0, 0), (1, 0), (1, 1), (0, 1)]) - 4.0) < 1e-9",
                      "assert abs(m.{circle_area}(2) - 12.56636) < 1e-9",
                      "assert m.{centroid}([(0, 0), (2, 0), (2, 2), (0, 2)]) == (1.0, 1.0)"]),
    "retry": ("", ["calls = []\ndef flaky():\n    calls.append(1)\n    if len(calls) < 3:\n        raise ValueError('x')\n"
                   "    return 'ok'\nassert m.{retry}(flaky, 5) == 'ok' and len(calls) == 3",
                   "assert m.{backoff_delays}(3) == [0.5, 1.0, 2.0]",
                   "assert m.{is_transient}('Connection Timeout') and not m.{is_transient}('bad input')"]),
    "grades": ("", ["assert m.{average}([80, 90]) == 85.0 and m.{average}([]) == 0.0",
                    "assert m.{letter}(95) == 'A' and m.{letter}(72) == 'C' and m.{letter}(10) == 'F'",
                    "assert m.{passed}([60, 70]) and not m.{passed}([10, 20])",
                    "assert m.{summary}({{'bo': [95], 'al': [81, 79]}}) == ['al: B', 'bo: A']"]),
}
FUNCS = {"inventory": ["total_value", "low_stock", "apply_discount", "report"],
         "textutil": ["normalize_spaces", "word_count", "truncate", "initials"],
         "geometry": ["distance", "perimeter", "circle_area", "centroid"],
         "retry": ["retry", "backoff_delays", "is_transient"],
         "grades": ["average", "letter", "passed", "summary"]}

# (module, kind, instruction, check, extra test lines run after the change)
TASKS = [
    ("inventory", "rename_function", "Rename the function low_stock to items_below", {"old": "low_stock", "new": "items_below"}, []),
    ("textutil", "rename_function", "Rename the function normalize_spaces to squeeze_whitespace",
     {"old": "normalize_spaces", "new": "squeeze_whitespace"}, []),
    ("geometry", "rename_function", "Rename the function distance to euclidean_distance",
     {"old": "distance", "new": "euclidean_distance"}, []),
    ("grades", "rename_function", "Rename the function average to mean_score", {"old": "average", "new": "mean_score"}, []),
    ("inventory", "rename_variable", "Rename the variable total in total_value to running_total",
     {"function": "total_value", "old": "total", "new": "running_total"}, []),
    ("geometry", "rename_variable", "Rename the variable sx in centroid to sum_x",
     {"function": "centroid", "old": "sx", "new": "sum_x"}, []),
    ("retry", "rename_variable", "Rename the variable last_error in retry to previous_error",
     {"function": "retry", "old": "last_error", "new": "previous_error"}, []),
    ("grades", "rename_variable", "Rename the variable lines in summary to rows",
     {"function": "summary", "old": "lines", "new": "rows"}, []),
    ("textutil", "rename_parameter", "Rename the parameter width of truncate to max_len",
     {"function": "truncate", "old": "width", "new": "max_len"}, ["assert m.truncate('abcdefghij', max_len=6) == 'abc...'"]),
    ("inventory", "rename_parameter", "Rename the parameter percent of apply_discount to rate",
     {"function": "apply_discount", "old": "percent", "new": "rate"},
     ["assert m.apply_discount([('a', 1, 10.0)], rate=10) == [('a', 1, 9.0)]"]),
    ("retry", "rename_parameter", "Rename the parameter attempts of retry to max_attempts",
     {"function": "retry", "old": "attempts", "new": "max_attempts"}, ["assert m.retry(lambda: 7, max_attempts=1) == 7"]),
    ("grades", "rename_parameter", "Rename the parameter score of letter to points",
     {"function": "letter", "old": "score", "new": "points"}, ["assert m.letter(points=85) == 'B'"]),
    ("geometry", "extract_constant", "Extract the constant 3.14159 in circle_area into a module-level constant PI",
     {"function": "circle_area", "name": "PI", "value": 3.14159}, ["assert m.PI == 3.14159"]),
    ("grades", "extract_constant", "Extract the constant 60 in passed into a module-level constant PASS_MARK",
     {"function": "passed", "name": "PASS_MARK", "value": 60}, ["assert m.PASS_MARK == 60"]),
    ("retry", "extract_constant", "Extract the constant 0.5 in backoff_delays into a module-level constant BASE_DELAY",
     {"function": "backoff_delays", "name": "BASE_DELAY", "value": 0.5}, ["assert m.BASE_DELAY == 0.5"]),
    ("inventory", "extract_constant", "Extract the constant 5 in report into a module-level constant LOW_STOCK_LIMIT",
     {"function": "report", "name": "LOW_STOCK_LIMIT", "value": 5}, ["assert m.LOW_STOCK_LIMIT == 5"]),
    ("textutil", "add_parameter", "Add a parameter suffix with default \"...\" to truncate",
     {"function": "truncate", "name": "suffix", "default": "..."}, []),
    ("geometry", "add_parameter", "Add a parameter scale with default 1.0 to distance",
     {"function": "distance", "name": "scale", "default": 1.0}, []),
    ("grades", "add_parameter", "Add a parameter strict with default False to passed",
     {"function": "passed", "name": "strict", "default": False}, []),
    ("inventory", "add_parameter", "Add a parameter currency with default \"EUR\" to report",
     {"function": "report", "name": "currency", "default": "EUR"}, []),
]


def main():
    counts = {}
    for mod, kind, instr, check, extra in TASKS:
        counts[mod] = counts.get(mod, 0) + 1
        d = os.path.join(OUT, f"{mod}-{kind}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"{mod}.py"), "w") as f:
            f.write(MODULES[mod])
        names = {fn: fn for fn in FUNCS[mod]}
        if kind == "rename_function":
            names[check["old"]] = check["new"]
        setup, lines = BASE_TESTS[mod]
        test = f"import {mod} as m\n\n" + setup + "\n".join(l.format(**names) for l in lines) + "\n"
        test += "".join(e + "\n" for e in extra) + "print('ok')\n"
        with open(os.path.join(d, f"test_{mod}.py"), "w") as f:
            f.write(test)
        with open(os.path.join(d, "task.json"), "w") as f:
            json.dump({"instruction": instr, "path": f"{mod}.py", "test": f"test_{mod}.py", "kind": kind,
                       "check": check}, f, indent=1)
            f.write("\n")
    print(f"{len(TASKS)} tasks written to {OUT}")


if __name__ == "__main__":
    main()
