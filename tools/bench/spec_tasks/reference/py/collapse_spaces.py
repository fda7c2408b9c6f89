def collapse_spaces(s):
    out = []
    for ch in s:
        if ch == ' ' and out and out[-1] == ' ':
            continue
        out.append(ch)
    return ''.join(out)
