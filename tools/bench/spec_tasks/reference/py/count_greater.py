def count_greater(xs, k):
    return sum(1 for x in xs if x > k)
