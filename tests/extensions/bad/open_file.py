def init():
    return open("/etc/passwd").read()
