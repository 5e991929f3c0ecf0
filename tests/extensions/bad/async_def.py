async def init():
    pass
