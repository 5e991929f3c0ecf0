from spin import Console

def init():
    Console.Print = init
