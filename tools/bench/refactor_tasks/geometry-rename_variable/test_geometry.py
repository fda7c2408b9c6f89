import geometry as m

assert m.distance((0, 0), (3, 4)) == 5.0
assert abs(m.perimeter([(0, 0), (1, 0), (1, 1), (0, 1)]) - 4.0) < 1e-9
assert abs(m.circle_area(2) - 12.56636) < 1e-9
assert m.centroid([(0, 0), (2, 0), (2, 2), (0, 2)]) == (1.0, 1.0)
print('ok')
