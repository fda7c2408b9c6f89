import grades as m

assert m.average([80, 90]) == 85.0 and m.average([]) == 0.0
assert m.letter(95) == 'A' and m.letter(72) == 'C' and m.letter(10) == 'F'
assert m.passed([60, 70]) and not m.passed([10, 20])
assert m.summary({'bo': [95], 'al': [81, 79]}) == ['al: B', 'bo: A']
assert m.PASS_MARK == 60
print('ok')
