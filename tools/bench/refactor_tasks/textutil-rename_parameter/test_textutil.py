import textutil as m

assert m.normalize_spaces('  a   b ') == 'a b'
assert m.word_count(' one two  three ') == 3
assert m.truncate('abcdefghij', 6) == 'abc...'
assert m.truncate('abc', 6) == 'abc'
assert m.initials('ada  lovelace') == 'AL'
assert m.truncate('abcdefghij', max_len=6) == 'abc...'
print('ok')
