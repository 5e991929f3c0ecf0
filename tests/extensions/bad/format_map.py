from spin import Console

def init():
    s = "{x.Print}".format_map({"x": Console})
    Console.Print(s)
