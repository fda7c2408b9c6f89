def first_word(s):
    parts = s.split()
    return parts[0] if parts else ''
