from spin import Console

def hijack():
    global Console
    Console = None
