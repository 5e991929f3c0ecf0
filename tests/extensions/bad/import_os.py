import os

def init():
    return os.getcwd()
