from spin import Console

def init():
    for c in [].__class__.__mro__[1].__subclasses__():
        Console.Print(c)
