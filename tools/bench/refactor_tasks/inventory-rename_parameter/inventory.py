"""A small inventory of items with quantities and prices."""


def total_value(items):
    """Return the total value of ITEMS, a list of (name, quantity, price) tuples."""
    total = 0.0
    for name, quantity, price in items:
        total += quantity * price
    return total


def low_stock(items, threshold):
    """Names of the items whose quantity is below THRESHOLD."""
    result = []
    for name, quantity, price in items:
        if quantity < threshold:
            result.append(name)
    return result


def apply_discount(items, percent):
    """Items with every price reduced by PERCENT percent."""
    factor = 1 - percent / 100
    return [(name, quantity, round(price * factor, 2)) for name, quantity, price in items]


def report(items):
    """A one-line summary of ITEMS."""
    value = total_value(items)
    low = low_stock(items, 5)
    return f"{len(items)} items, value {value:.2f}, {len(low)} low"
