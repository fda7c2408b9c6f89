def product_list(xs):
    p = 1
    for x in xs:
        p *= x
    return p
