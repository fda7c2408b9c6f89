def is_anagram(a, b):
    return sorted(a) == sorted(b)
