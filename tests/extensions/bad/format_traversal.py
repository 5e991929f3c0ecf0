from spin import Console

def init():
    s = "{0.__init__.__globals__}".format(Console)
    Console.Print(s)
