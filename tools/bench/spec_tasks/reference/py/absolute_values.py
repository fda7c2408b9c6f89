def absolute_values(xs):
    return [abs(x) for x in xs]
