import textutil as m

assert m.squeeze_whitespace('  a   b ') == 'a b'
assert m.word_count(' one two  three ') == 3
assert m.truncate('abcdefghij', 6) == 'abc...'
assert m.truncate('abc', 6) == 'abc'
assert m.initials('ada  lovelace') == 'AL'
print('ok')
