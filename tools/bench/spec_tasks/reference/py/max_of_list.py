def max_of_list(xs):
    return max(xs)
