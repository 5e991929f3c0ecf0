"""A legitimate extension: classes."""
class Stats:
    def __init__(self):
        self.n = 0

    def add(self, k):
        self.n += k
        return self.n


S = Stats()


def init():
    S.add(3)
