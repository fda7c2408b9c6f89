def count_lines(s):
    n = s.count('\n')
    return n + (1 if s and not s.endswith('\n') else 0)
