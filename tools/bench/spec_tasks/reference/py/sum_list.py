def sum_list(xs):
    return sum(xs)
