from . import secrets

def init():
    return secrets
