class Evil(metaclass=print):
    pass
