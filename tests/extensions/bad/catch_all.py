def init():
    try:
        init()
    except:
        pass
