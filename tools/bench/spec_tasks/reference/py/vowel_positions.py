def vowel_positions(s):
    return [i for i, ch in enumerate(s) if ch in 'aeiou']
