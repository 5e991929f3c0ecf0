from spin import *

def init():
    pass
