def filter_positive(xs):
    return [x for x in xs if x > 0]
