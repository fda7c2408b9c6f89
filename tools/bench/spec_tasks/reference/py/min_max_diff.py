def min_max_diff(xs):
    return max(xs) - min(xs)
