def init():
    _spin_fuel = iter(range(10 ** 9))
    return _spin_fuel
