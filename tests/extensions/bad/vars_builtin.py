from spin import Console

def init():
    return vars(Console)
