def count_char(s, c):
    return s.count(c)
