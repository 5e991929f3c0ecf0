from spin import Console

def init():
    base = ().__class__.__base__
    Console.Print(base)
