def join_with_comma(words):
    return ', '.join(words)
