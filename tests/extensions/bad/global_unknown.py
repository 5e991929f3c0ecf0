def init():
    global kernel_state
    kernel_state = 1
