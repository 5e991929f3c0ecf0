def init():
    try:
        1 / 0
    except ZeroDivisionError as e:
        return e.__traceback__
