def init():
    exec("import os")
