from spin import Console


def init():
    g = init.__globals__
    Console.Print(g)
