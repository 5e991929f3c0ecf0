from spin import Console


@Console.Print
def init():
    pass
