import retry as m

calls = []
def flaky():
    calls.append(1)
    if len(calls) < 3:
        raise ValueError('x')
    return 'ok'
assert m.retry(flaky, 5) == 'ok' and len(calls) == 3
assert m.backoff_delays(3) == [0.5, 1.0, 2.0]
assert m.is_transient('Connection Timeout') and not m.is_transient('bad input')
print('ok')
