"""make_spec_tasks.py - write the held-out spec tasks of tools/bench/spec_tasks/ (run once; the JSON files are
committed). Each task is a spec in octet's format (docs/specs.md) with examples that `octet check` runs, and a
reference solution under spec_tasks/reference/ that must pass it (tools/bench/spec_eval.py --verify).

These tasks were written for octet's model evaluation and are never trained on: tools/train reads only the
training machine's installed packages, not this repository."""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "spec_tasks")


def T(lang, name, desc, inputs, output, examples, ref):
    return {"language": lang, "name": name, "description": desc,
            "inputs": [{"name": n, "type": t} for n, t in inputs], "output": output,
            "examples": [{"input": i, "output": o} for i, o in examples]}, ref


PY = [
    T("python", "add_ints", "Return the sum of a and b.", [("a", "int"), ("b", "int")], "int",
      [([1, 2], 3), ([-5, 5], 0), ([100, 23], 123)], "def add_ints(a, b):\n    return a + b\n"),
    T("python", "is_even", "Return True if n is even, False otherwise.", [("n", "int")], "bool",
      [([4], True), ([7], False), ([0], True), ([-3], False), ([6], True), ([-2], True)],
      "def is_even(n):\n    return n % 2 == 0\n"),
    T("python", "max_of_list", "Return the largest number in the non-empty list xs.", [("xs", "list[int]")], "int",
      [([[3, 9, 2]], 9), ([[-4, -2, -7]], -2), ([[5]], 5)], "def max_of_list(xs):\n    return max(xs)\n"),
    T("python", "reverse_string", "Return the string s reversed.", [("s", "string")], "string",
      [(["abc"], "cba"), ([""], ""), (["racecar"], "racecar"), (["Hello, World"], "dlroW ,olleH")],
      "def reverse_string(s):\n    return s[::-1]\n"),
    T("python", "factorial", "Return n! (the product 1 * 2 * ... * n); 0! is 1.", [("n", "int")], "long",
      [([0], 1), ([1], 1), ([5], 120), ([10], 3628800)],
      "def factorial(n):\n    r = 1\n    for i in range(2, n + 1):\n        r *= i\n    return r\n"),
    T("python", "fibonacci", "Return the n-th Fibonacci number, with fibonacci(0) == 0 and fibonacci(1) == 1.",
      [("n", "int")], "long", [([0], 0), ([1], 1), ([2], 1), ([10], 55), ([30], 832040)],
      "def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n"),
    T("python", "is_palindrome", "Return True if s reads the same forwards and backwards.", [("s", "string")], "bool",
      [(["level"], True), (["hello"], False), ([""], True), (["abba"], True)],
      "def is_palindrome(s):\n    return s == s[::-1]\n"),
    T("python", "sum_list", "Return the sum of the numbers in xs (0 for an empty list).", [("xs", "list[int]")], "int",
      [([[1, 2, 3]], 6), ([[]], 0), ([[-1, 1, 10]], 10)], "def sum_list(xs):\n    return sum(xs)\n"),
    T("python", "average", "Return the arithmetic mean of the non-empty list xs.", [("xs", "list[double]")], "double",
      [([[1.0, 2.0, 3.0]], 2.0), ([[5.0]], 5.0), ([[1.5, 2.5]], 2.0)],
      "def average(xs):\n    return sum(xs) / len(xs)\n"),
    T("python", "celsius_to_fahrenheit", "Convert a temperature from degrees Celsius to degrees Fahrenheit.",
      [("c", "double")], "double", [([0.0], 32.0), ([100.0], 212.0), ([-40.0], -40.0)],
      "def celsius_to_fahrenheit(c):\n    return c * 9 / 5 + 32\n"),
    T("python", "count_words", "Return the number of words in s, where words are separated by whitespace.",
      [("s", "string")], "int", [(["hello world"], 2), ([""], 0), (["  one   two three "], 3)],
      "def count_words(s):\n    return len(s.split())\n"),
    T("python", "remove_duplicates", "Return the elements of xs without duplicates, keeping the first occurrence of "
      "each in the original order.", [("xs", "list[int]")], "list[int]",
      [([[1, 2, 1, 3, 2]], [1, 2, 3]), ([[]], []), ([[4, 4, 4]], [4])],
      "def remove_duplicates(xs):\n    seen = set()\n    out = []\n    for x in xs:\n        if x not in seen:\n"
      "            seen.add(x)\n            out.append(x)\n    return out\n"),
    T("python", "filter_positive", "Return the numbers of xs that are greater than zero, in order.",
      [("xs", "list[int]")], "list[int]", [([[1, -2, 3, 0]], [1, 3]), ([[-1]], []), ([[]], [])],
      "def filter_positive(xs):\n    return [x for x in xs if x > 0]\n"),
    T("python", "square_all", "Return a list with the square of each number of xs.", [("xs", "list[int]")],
      "list[int]", [([[1, 2, 3]], [1, 4, 9]), ([[-2]], [4]), ([[]], [])],
      "def square_all(xs):\n    return [x * x for x in xs]\n"),
    T("python", "gcd", "Return the greatest common divisor of the positive integers a and b.",
      [("a", "int"), ("b", "int")], "int", [([12, 18], 6), ([7, 13], 1), ([100, 25], 25)],
      "def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return a\n"),
    T("python", "is_prime", "Return True if n is a prime number.", [("n", "int")], "bool",
      [([2], True), ([1], False), ([17], True), ([21], False), ([0], False)],
      "def is_prime(n):\n    if n < 2:\n        return False\n    i = 2\n    while i * i <= n:\n        if n % i == 0:\n"
      "            return False\n        i += 1\n    return True\n"),
    T("python", "count_char", "Return how many times the character c occurs in s.", [("s", "string"), ("c", "string")],
      "int", [(["banana", "a"], 3), (["hello", "z"], 0), (["", "x"], 0)],
      "def count_char(s, c):\n    return s.count(c)\n"),
    T("python", "min_max_diff", "Return the difference between the largest and the smallest number of the non-empty "
      "list xs.", [("xs", "list[int]")], "int", [([[3, 9, 1]], 8), ([[5]], 0), ([[-2, 2]], 4)],
      "def min_max_diff(xs):\n    return max(xs) - min(xs)\n"),
    T("python", "second_largest", "Return the second largest distinct value in xs, which has at least two distinct "
      "values.", [("xs", "list[int]")], "int", [([[1, 3, 2]], 2), ([[5, 5, 4]], 4), ([[-1, -7, -3]], -3)],
      "def second_largest(xs):\n    return sorted(set(xs))[-2]\n"),
    T("python", "merge_sorted", "Merge the two sorted lists a and b into one sorted list.",
      [("a", "list[int]"), ("b", "list[int]")], "list[int]",
      [([[1, 4, 6], [2, 3, 7]], [1, 2, 3, 4, 6, 7]), ([[], [1]], [1]), ([[1, 1], [1]], [1, 1, 1])],
      "def merge_sorted(a, b):\n    return sorted(a + b)\n"),
    T("python", "running_sum", "Return the running sums of xs: element i is xs[0] + ... + xs[i].",
      [("xs", "list[int]")], "list[int]", [([[1, 2, 3]], [1, 3, 6]), ([[]], []), ([[5, -5]], [5, 0])],
      "def running_sum(xs):\n    out, t = [], 0\n    for x in xs:\n        t += x\n        out.append(t)\n    return out\n"),
    T("python", "digit_sum", "Return the sum of the decimal digits of the non-negative integer n.", [("n", "int")],
      "int", [([123], 6), ([0], 0), ([9999], 36)], "def digit_sum(n):\n    return sum(int(d) for d in str(n))\n"),
    T("python", "to_binary", "Return the binary representation of the non-negative integer n as a string of 0s "
      "and 1s, without a prefix.", [("n", "int")], "string", [([5], "101"), ([0], "0"), ([8], "1000")],
      "def to_binary(n):\n    return bin(n)[2:]\n"),
    T("python", "count_uppercase", "Return the number of uppercase letters in s.", [("s", "string")], "int",
      [(["Hello World"], 2), (["abc"], 0), (["ABC"], 3)],
      "def count_uppercase(s):\n    return sum(1 for ch in s if ch.isupper())\n"),
    T("python", "join_with_comma", "Join the strings of words with a comma and a space between them.",
      [("words", "list[string]")], "string", [([["a", "b", "c"]], "a, b, c"), ([["x"]], "x"), ([[]], "")],
      "def join_with_comma(words):\n    return ', '.join(words)\n"),
    T("python", "longest_word", "Return the longest word of the space-separated sentence s; the first one if "
      "several are equally long.", [("s", "string")], "string",
      [(["the quick brown fox"], "quick"), (["a bb cc"], "bb"), (["word"], "word")],
      "def longest_word(s):\n    best = ''\n    for w in s.split():\n        if len(w) > len(best):\n            best = w\n"
      "    return best\n"),
    T("python", "is_anagram", "Return True if a and b contain the same letters the same number of times.",
      [("a", "string"), ("b", "string")], "bool", [(["listen", "silent"], True), (["abc", "abd"], False),
                                                   (["aab", "aba"], True)],
      "def is_anagram(a, b):\n    return sorted(a) == sorted(b)\n"),
    T("python", "clamp", "Return x limited to the range [lo, hi]: lo if x < lo, hi if x > hi, else x.",
      [("x", "int"), ("lo", "int"), ("hi", "int")], "int", [([5, 0, 10], 5), ([-3, 0, 10], 0), ([42, 0, 10], 10)],
      "def clamp(x, lo, hi):\n    return max(lo, min(x, hi))\n"),
    T("python", "power", "Return base raised to the non-negative integer power exp.", [("base", "int"), ("exp", "int")],
      "long", [([2, 10], 1024), ([5, 0], 1), ([-3, 3], -27)], "def power(base, exp):\n    return base ** exp\n"),
    T("python", "absolute_values", "Return the absolute value of each number of xs.", [("xs", "list[int]")],
      "list[int]", [([[-1, 2, -3]], [1, 2, 3]), ([[]], [])],
      "def absolute_values(xs):\n    return [abs(x) for x in xs]\n"),
    T("python", "repeat_string", "Return s repeated n times.", [("s", "string"), ("n", "int")], "string",
      [(["ab", 3], "ababab"), (["x", 0], ""), (["", 5], "")], "def repeat_string(s, n):\n    return s * n\n"),
    T("python", "count_greater", "Return how many numbers of xs are greater than k.", [("xs", "list[int]"), ("k", "int")],
      "int", [([[1, 5, 7, 2], 3], 2), ([[], 0], 0), ([[4, 4], 4], 0)],
      "def count_greater(xs, k):\n    return sum(1 for x in xs if x > k)\n"),
    T("python", "index_of", "Return the index of the first occurrence of target in xs, or -1 if it is not there.",
      [("xs", "list[int]"), ("target", "int")], "int", [([[4, 2, 7], 7], 2), ([[1, 2], 5], -1), ([[3, 3], 3], 0)],
      "def index_of(xs, target):\n    for i, x in enumerate(xs):\n        if x == target:\n            return i\n"
      "    return -1\n"),
    T("python", "swap_case", "Return s with uppercase letters turned lowercase and lowercase letters turned uppercase.",
      [("s", "string")], "string", [(["Hello"], "hELLO"), (["abc DEF"], "ABC def"), (["123"], "123")],
      "def swap_case(s):\n    return s.swapcase()\n"),
    T("python", "sum_even", "Return the sum of the even numbers in xs.", [("xs", "list[int]")], "int",
      [([[1, 2, 3, 4]], 6), ([[1, 3]], 0), ([[-2, 2, 5]], 0)],
      "def sum_even(xs):\n    return sum(x for x in xs if x % 2 == 0)\n"),
    T("python", "product_list", "Return the product of the numbers in xs (1 for an empty list).",
      [("xs", "list[int]")], "long", [([[2, 3, 4]], 24), ([[]], 1), ([[-1, 5]], -5)],
      "def product_list(xs):\n    p = 1\n    for x in xs:\n        p *= x\n    return p\n"),
    T("python", "is_leap_year", "Return True if year is a leap year in the Gregorian calendar: divisible by 4, except "
      "years divisible by 100 that are not divisible by 400.", [("year", "int")], "bool",
      [([2024], True), ([1900], False), ([2000], True), ([2023], False)],
      "def is_leap_year(year):\n    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)\n"),
    T("python", "median", "Return the median of the non-empty list xs: the middle value after sorting, or the mean "
      "of the two middle values when the length is even.", [("xs", "list[double]")], "double",
      [([[3.0, 1.0, 2.0]], 2.0), ([[4.0, 1.0, 3.0, 2.0]], 2.5), ([[7.0]], 7.0)],
      "def median(xs):\n    s = sorted(xs)\n    n = len(s)\n    m = n // 2\n    return s[m] if n % 2 else (s[m - 1] + s[m]) / 2\n"),
    T("python", "chunk_sums", "Split xs into consecutive chunks of k elements (the last may be shorter) and return "
      "the sum of each chunk.", [("xs", "list[int]"), ("k", "int")], "list[int]",
      [([[1, 2, 3, 4, 5], 2], [3, 7, 5]), ([[1, 1, 1], 3], [3]), ([[], 2], [])],
      "def chunk_sums(xs, k):\n    return [sum(xs[i:i + k]) for i in range(0, len(xs), k)]\n"),
    T("python", "vowel_positions", "Return the indices of the vowels (a, e, i, o, u, lowercase) in s.",
      [("s", "string")], "list[int]", [(["hello"], [1, 4]), (["xyz"], []), (["aei"], [0, 1, 2])],
      "def vowel_positions(s):\n    return [i for i, ch in enumerate(s) if ch in 'aeiou']\n"),
    T("python", "dot_product", "Return the dot product of the equally long lists a and b.",
      [("a", "list[double]"), ("b", "list[double]")], "double",
      [([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], 32.0), ([[], []], 0.0), ([[0.5], [2.0]], 1.0)],
      "def dot_product(a, b):\n    return sum(x * y for x, y in zip(a, b))\n"),
    T("python", "rotate_left", "Rotate xs to the left by k positions (k may be larger than the length) and return "
      "the result.", [("xs", "list[int]"), ("k", "int")], "list[int]",
      [([[1, 2, 3, 4], 1], [2, 3, 4, 1]), ([[1, 2, 3], 5], [3, 1, 2]), ([[], 3], [])],
      "def rotate_left(xs, k):\n    if not xs:\n        return []\n    k %= len(xs)\n    return xs[k:] + xs[:k]\n"),
    T("python", "collapse_spaces", "Return s with every run of several spaces replaced by a single space.",
      [("s", "string")], "string", [(["a  b   c"], "a b c"), (["none"], "none"), (["  x "], " x ")],
      "def collapse_spaces(s):\n    out = []\n    for ch in s:\n        if ch == ' ' and out and out[-1] == ' ':\n"
      "            continue\n        out.append(ch)\n    return ''.join(out)\n"),
    T("python", "count_lines", "Return the number of lines in the text s: the number of newline characters, plus one "
      "if s does not end with a newline and is not empty.", [("s", "string")], "int",
      [(["a\nb\n"], 2), (["a\nb"], 2), ([""], 0), (["one"], 1)],
      "def count_lines(s):\n    n = s.count('\\n')\n    return n + (1 if s and not s.endswith('\\n') else 0)\n"),
    T("python", "first_word", "Return the first word of s (words are separated by spaces), or an empty string if s "
      "has no words.", [("s", "string")], "string", [(["hello world"], "hello"), (["  lead"], "lead"), ([""], "")],
      "def first_word(s):\n    parts = s.split()\n    return parts[0] if parts else ''\n"),
    T("python", "nth_largest", "Return the n-th largest element of xs (n = 1 is the largest), counting repeated "
      "values separately.", [("xs", "list[int]"), ("n", "int")], "int",
      [([[5, 1, 4, 2], 2], 4), ([[3, 3, 1], 2], 3), ([[9], 1], 9)],
      "def nth_largest(xs, n):\n    return sorted(xs, reverse=True)[n - 1]\n"),
    T("python", "mean_of_evens", "Return the mean of the even numbers of xs as a float, or 0.0 if there are none.",
      [("xs", "list[int]")], "double", [([[1, 2, 3, 4]], 3.0), ([[1, 3]], 0.0), ([[2]], 2.0)],
      "def mean_of_evens(xs):\n    e = [x for x in xs if x % 2 == 0]\n    return sum(e) / len(e) if e else 0.0\n"),
]

C = [
    T("c", "add_ints", "Return the sum of a and b.", [("a", "int"), ("b", "int")], "int",
      [([1, 2], 3), ([-5, 5], 0)], "int add_ints(int a, int b)\n{\n    return a + b;\n}\n"),
    T("c", "max_in_array", "Return the largest element of the non-empty array xs.", [("xs", "list[int]")], "int",
      [([[3, 9, 2]], 9), ([[-4, -2, -7]], -2)],
      "#include <stddef.h>\n\nint max_in_array(const int *xs, size_t xs_len)\n{\n    int m = xs[0];\n"
      "    for (size_t i = 1; i < xs_len; i++)\n        if (xs[i] > m)\n            m = xs[i];\n    return m;\n}\n"),
    T("c", "sum_array", "Return the sum of the elements of xs (0 for an empty array).", [("xs", "list[int]")], "long",
      [([[1, 2, 3]], 6), ([[]], 0), ([[-1, 1, 10]], 10)],
      "#include <stddef.h>\n\nlong sum_array(const int *xs, size_t xs_len)\n{\n    long s = 0;\n"
      "    for (size_t i = 0; i < xs_len; i++)\n        s += xs[i];\n    return s;\n}\n"),
    T("c", "is_prime", "Return true if n is a prime number.", [("n", "int")], "bool",
      [([2], True), ([1], False), ([17], True), ([21], False)],
      "#include <stdbool.h>\n\nbool is_prime(int n)\n{\n    if (n < 2)\n        return false;\n"
      "    for (int i = 2; i * i <= n; i++)\n        if (n % i == 0)\n            return false;\n    return true;\n}\n"),
    T("c", "factorial", "Return n! (the product 1 * 2 * ... * n); 0! is 1.", [("n", "int")], "long",
      [([0], 1), ([5], 120), ([10], 3628800)],
      "long factorial(int n)\n{\n    long r = 1;\n    for (int i = 2; i <= n; i++)\n        r *= i;\n    return r;\n}\n"),
    T("c", "gcd", "Return the greatest common divisor of the positive integers a and b.", [("a", "int"), ("b", "int")],
      "int", [([12, 18], 6), ([7, 13], 1)],
      "int gcd(int a, int b)\n{\n    while (b) {\n        int t = a % b;\n        a = b;\n        b = t;\n    }\n"
      "    return a;\n}\n"),
    T("c", "count_spaces", "Return the number of space characters in the string s.", [("s", "string")], "int",
      [(["a b c"], 2), (["none"], 0), ([""], 0)],
      "int count_spaces(const char *s)\n{\n    int n = 0;\n    for (; *s; s++)\n        n += *s == ' ';\n    return n;\n}\n"),
    T("c", "is_palindrome", "Return true if the string s reads the same forwards and backwards.", [("s", "string")],
      "bool", [(["level"], True), (["hello"], False), ([""], True)],
      "#include <stdbool.h>\n#include <string.h>\n\nbool is_palindrome(const char *s)\n{\n    size_t n = strlen(s);\n"
      "    for (size_t i = 0; i < n / 2; i++)\n        if (s[i] != s[n - 1 - i])\n            return false;\n"
      "    return true;\n}\n"),
    T("c", "reverse_string", "Return a new string holding the characters of s in reverse order.", [("s", "string")],
      "string", [(["abc"], "cba"), ([""], "")],
      "#include <stdlib.h>\n#include <string.h>\n\nchar *reverse_string(const char *s)\n{\n    size_t n = strlen(s);\n"
      "    char *r = malloc(n + 1);\n    if (!r)\n        return NULL;\n    for (size_t i = 0; i < n; i++)\n"
      "        r[i] = s[n - 1 - i];\n    r[n] = '\\0';\n    return r;\n}\n"),
    T("c", "count_digits", "Return the number of decimal digit characters ('0' to '9') in the string s.",
      [("s", "string")], "int", [(["a1b22"], 3), (["xyz"], 0)],
      "int count_digits(const char *s)\n{\n    int n = 0;\n    for (; *s; s++)\n        n += *s >= '0' && *s <= '9';\n"
      "    return n;\n}\n"),
    T("c", "average", "Return the arithmetic mean of the non-empty array xs.", [("xs", "list[double]")], "double",
      [([[1.0, 2.0, 3.0]], 2.0), ([[1.5, 2.5]], 2.0)],
      "#include <stddef.h>\n\ndouble average(const double *xs, size_t xs_len)\n{\n    double s = 0;\n"
      "    for (size_t i = 0; i < xs_len; i++)\n        s += xs[i];\n    return s / xs_len;\n}\n"),
    T("c", "power", "Return base raised to the non-negative integer power exp.", [("base", "int"), ("exp", "int")],
      "long", [([2, 10], 1024), ([5, 0], 1), ([-3, 3], -27)],
      "long power(int base, int exp)\n{\n    long r = 1;\n    while (exp-- > 0)\n        r *= base;\n    return r;\n}\n"),
    T("c", "fibonacci", "Return the n-th Fibonacci number, with fibonacci(0) == 0 and fibonacci(1) == 1.",
      [("n", "int")], "long", [([0], 0), ([1], 1), ([10], 55), ([30], 832040)],
      "long fibonacci(int n)\n{\n    long a = 0, b = 1;\n    while (n-- > 0) {\n        long t = a + b;\n        a = b;\n"
      "        b = t;\n    }\n    return a;\n}\n"),
    T("c", "to_upper", "Return a new string: s with every lowercase ASCII letter turned uppercase.", [("s", "string")],
      "string", [(["Hello, World"], "HELLO, WORLD"), ([""], "")],
      "#include <ctype.h>\n#include <stdlib.h>\n#include <string.h>\n\nchar *to_upper(const char *s)\n{\n"
      "    size_t n = strlen(s);\n    char *r = malloc(n + 1);\n    if (!r)\n        return NULL;\n"
      "    for (size_t i = 0; i <= n; i++)\n        r[i] = (char)toupper((unsigned char)s[i]);\n    return r;\n}\n"),
    T("c", "abs_diff", "Return the absolute value of a - b.", [("a", "int"), ("b", "int")], "int",
      [([3, 10], 7), ([10, 3], 7), ([-2, -2], 0)],
      "int abs_diff(int a, int b)\n{\n    return a > b ? a - b : b - a;\n}\n"),
    T("c", "count_positive", "Return how many elements of xs are greater than zero.", [("xs", "list[int]")], "int",
      [([[1, -2, 3, 0]], 2), ([[]], 0)],
      "#include <stddef.h>\n\nint count_positive(const int *xs, size_t xs_len)\n{\n    int n = 0;\n"
      "    for (size_t i = 0; i < xs_len; i++)\n        n += xs[i] > 0;\n    return n;\n}\n"),
    T("c", "squares", "Return a new array with the square of each element of xs.", [("xs", "list[int]")], "list[int]",
      [([[1, 2, 3]], [1, 4, 9]), ([[-2]], [4])],
      "#include <stdlib.h>\n\nint *squares(const int *xs, size_t xs_len, size_t *out_len)\n{\n"
      "    int *r = malloc((xs_len ? xs_len : 1) * sizeof *r);\n    if (!r)\n        return NULL;\n"
      "    for (size_t i = 0; i < xs_len; i++)\n        r[i] = xs[i] * xs[i];\n    *out_len = xs_len;\n    return r;\n}\n"),
    T("c", "min_in_array", "Return the smallest element of the non-empty array xs.", [("xs", "list[double]")], "double",
      [([[3.5, -1.0, 2.0]], -1.0), ([[7.0]], 7.0)],
      "#include <stddef.h>\n\ndouble min_in_array(const double *xs, size_t xs_len)\n{\n    double m = xs[0];\n"
      "    for (size_t i = 1; i < xs_len; i++)\n        if (xs[i] < m)\n            m = xs[i];\n    return m;\n}\n"),
    T("c", "is_sorted", "Return true if the elements of xs are in non-decreasing order.", [("xs", "list[int]")], "bool",
      [([[1, 2, 2, 5]], True), ([[3, 1]], False), ([[]], True)],
      "#include <stdbool.h>\n#include <stddef.h>\n\nbool is_sorted(const int *xs, size_t xs_len)\n{\n"
      "    for (size_t i = 1; i < xs_len; i++)\n        if (xs[i] < xs[i - 1])\n            return false;\n"
      "    return true;\n}\n"),
    T("c", "clamp", "Return x limited to the range [lo, hi]: lo if x < lo, hi if x > hi, else x.",
      [("x", "int"), ("lo", "int"), ("hi", "int")], "int", [([5, 0, 10], 5), ([-3, 0, 10], 0), ([42, 0, 10], 10)],
      "int clamp(int x, int lo, int hi)\n{\n    return x < lo ? lo : x > hi ? hi : x;\n}\n"),
    T("c", "digit_sum", "Return the sum of the decimal digits of the non-negative number n.", [("n", "long")], "int",
      [([123], 6), ([0], 0), ([9999], 36)],
      "int digit_sum(long n)\n{\n    int s = 0;\n    while (n > 0) {\n        s += (int)(n % 10);\n        n /= 10;\n    }\n"
      "    return s;\n}\n"),
]


def main():
    for lang, tasks, ext in (("py", PY, "py"), ("c", C, "c")):
        os.makedirs(os.path.join(OUT, lang), exist_ok=True)
        os.makedirs(os.path.join(OUT, "reference", lang), exist_ok=True)
        for spec, ref in tasks:
            with open(os.path.join(OUT, lang, spec["name"] + ".json"), "w") as f:
                json.dump(spec, f, indent=1)
                f.write("\n")
            with open(os.path.join(OUT, "reference", lang, spec["name"] + "." + ext), "w") as f:
                f.write(ref)
    print(f"{len(PY)} Python and {len(C)} C tasks written to {OUT}")


if __name__ == "__main__":
    main()
