/* smoothquant.c - SmoothQuant factors and the built-in calibration text.
 * See smoothquant.h for the method; the engine applies the factors. */
#include <math.h>
#include <string.h>

#include "smoothquant.h"

void sq_absmax_update(float *col_max, const float *x, size_t n_rows, size_t n)
{
    for (size_t r = 0; r < n_rows; r++) {
        const float *row = x + r * n;
        for (size_t j = 0; j < n; j++) {
            float a = fabsf(row[j]);
            if (a > col_max[j])
                col_max[j] = a;
        }
    }
}

void sq_factors(const float *act_max, const float *w_max, size_t n, float alpha, float *s)
{
    for (size_t j = 0; j < n; j++) {
        float a = act_max[j], w = w_max[j];
        if (!(a > 0) || !(w > 0) || !isfinite(a) || !isfinite(w)) {
            s[j] = 1.0f;
            continue;
        }
        float v = powf(a, alpha) / powf(w, 1.0f - alpha);
        s[j] = v < 1e-4f ? 1e-4f : v > 1e4f ? 1e4f : v;
    }
}

/* Written for octet; varied on purpose (prose comments, numbers, strings,
 * deep nesting) so that the activation maxima see typical code tokens. */
static const char CALIB[] =
    "/* ring.c - a fixed-size ring buffer of bytes. */\n"
    "#include <stdlib.h>\n#include <string.h>\n\n"
    "struct ring { unsigned char *buf; size_t cap, head, len; };\n\n"
    "int ring_init(struct ring *r, size_t cap)\n{\n"
    "    r->buf = malloc(cap);\n    if (!r->buf)\n        return -1;\n"
    "    r->cap = cap;\n    r->head = r->len = 0;\n    return 0;\n}\n\n"
    "size_t ring_push(struct ring *r, const void *src, size_t n)\n{\n"
    "    const unsigned char *p = src;\n    size_t done = 0;\n"
    "    while (done < n && r->len < r->cap) {\n"
    "        r->buf[(r->head + r->len) % r->cap] = p[done++];\n        r->len++;\n    }\n"
    "    return done;\n}\n\n"
    "size_t ring_pop(struct ring *r, void *dst, size_t n)\n{\n"
    "    unsigned char *p = dst;\n    size_t k = n < r->len ? n : r->len;\n"
    "    for (size_t i = 0; i < k; i++)\n        p[i] = r->buf[(r->head + i) % r->cap];\n"
    "    r->head = (r->head + k) % r->cap;\n    r->len -= k;\n    return k;\n}\n\n"
    "# inventory.py - count items per category from a CSV export\n"
    "import csv\nimport sys\nfrom collections import Counter, defaultdict\n\n\n"
    "def load(path):\n    \"\"\"Read rows as dicts; skip rows without a category.\"\"\"\n"
    "    with open(path, newline='', encoding='utf-8') as f:\n"
    "        return [row for row in csv.DictReader(f) if row.get('category')]\n\n\n"
    "def summarize(rows):\n    totals = Counter()\n    prices = defaultdict(list)\n"
    "    for row in rows:\n        totals[row['category']] += int(row.get('count', 1))\n"
    "        try:\n            prices[row['category']].append(float(row['price']))\n"
    "        except (KeyError, ValueError):\n            continue\n"
    "    return {c: (n, sum(prices[c]) / len(prices[c]) if prices[c] else 0.0)\n"
    "            for c, n in totals.most_common()}\n\n\n"
    "class Report:\n    def __init__(self, title, width=72):\n"
    "        self.title = title\n        self.width = width\n        self.lines = []\n\n"
    "    def add(self, name, count, avg):\n"
    "        self.lines.append(f\"{name:<30} {count:>8d} {avg:>10.2f}\")\n\n"
    "    def __str__(self):\n        bar = '=' * self.width\n"
    "        return '\\n'.join([bar, self.title.center(self.width), bar, *self.lines])\n\n\n"
    "if __name__ == '__main__':\n    if len(sys.argv) != 2:\n"
    "        sys.exit('usage: inventory.py FILE.csv')\n"
    "    report = Report('Inventory by category')\n"
    "    for name, (n, avg) in summarize(load(sys.argv[1])).items():\n"
    "        report.add(name, n, avg)\n    print(report)\n\n"
    "#!/bin/sh\n# backup.sh - copy the newest 5 logs into a dated folder\nset -eu\n"
    "dest=\"$HOME/backup/$(date +%Y-%m-%d)\"\nmkdir -p \"$dest\"\n"
    "ls -t /var/log/app/*.log 2>/dev/null | head -n 5 | while read -r f; do\n"
    "    cp -p \"$f\" \"$dest/\" && echo \"saved $f\"\ndone\n\n"
    "// matrix.js - small dense matrix helpers\n"
    "export function multiply(a, b) {\n  const n = a.length, m = b[0].length, k = b.length;\n"
    "  const out = Array.from({ length: n }, () => new Array(m).fill(0));\n"
    "  for (let i = 0; i < n; i++)\n    for (let p = 0; p < k; p++)\n"
    "      for (let j = 0; j < m; j++) out[i][j] += a[i][p] * b[p][j];\n  return out;\n}\n\n"
    "export const identity = (n) =>\n"
    "  Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));\n\n"
    "-- orders.sql\nSELECT c.name, COUNT(o.id) AS orders, SUM(o.total) AS spent\n"
    "FROM customers c LEFT JOIN orders o ON o.customer_id = c.id\n"
    "WHERE o.created_at >= DATE '2024-01-01'\nGROUP BY c.name\nHAVING COUNT(o.id) > 3\n"
    "ORDER BY spent DESC\nLIMIT 20;\n\n"
    "fn parse_pair(s: &str) -> Option<(i64, i64)> {\n    let (a, b) = s.split_once(',')?;\n"
    "    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))\n}\n";

const char *sq_builtin_calib(size_t *len)
{
    *len = sizeof CALIB - 1;
    return CALIB;
}
