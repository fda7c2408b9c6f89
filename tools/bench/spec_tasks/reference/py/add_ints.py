def add_ints(a, b):
    return a + b
