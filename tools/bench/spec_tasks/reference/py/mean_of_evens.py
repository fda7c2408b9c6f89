def mean_of_evens(xs):
    e = [x for x in xs if x % 2 == 0]
    return sum(e) / len(e) if e else 0.0
