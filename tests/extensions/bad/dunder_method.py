class Key:
    def __eq__(self, other):
        while True:
            pass
