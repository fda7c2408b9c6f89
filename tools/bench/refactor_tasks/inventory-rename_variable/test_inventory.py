import inventory as m

items = [('apple', 3, 0.5), ('pear', 10, 0.25), ('fig', 1, 2.0)]
assert abs(m.total_value(items) - 6.0) < 1e-9
assert m.low_stock(items, 5) == ['apple', 'fig']
assert m.apply_discount(items, 50)[0] == ('apple', 3, 0.25)
assert m.report(items) == '3 items, value 6.00, 2 low'
print('ok')
