"""SPIN's cross-address-space call: an in-kernel IPC extension (SOSP'95 §5.2, Table 2).

"SPIN's cross-address space procedure call is implemented as an extension
that uses system calls to transfer control in and out of the kernel and
cross-domain procedure calls within the kernel to transfer control between
address spaces." This is that extension. A server process waits in
xcall_receive; a client traps into xcall_call with a one-word request; the
handler (a procedure call inside the kernel) hands the word to the server
strand blocked in its receive, unblocks it and blocks the client; the
server answers with xcall_reply_receive, which hands the reply word back,
unblocks the client and waits for the next request. No socket, no buffer,
no copy: the words travel in registers, as Table 2's null call has none to
pass.

    0x7500 xcall_receive()              wait for a request; its word
    0x7501 xcall_call(word)             a request; the server's reply word
    0x7502 xcall_reply_receive(word)    answer the current request, wait for the next
    0x7503 xcall_reply(word)            answer the current request, 0

A call that must wait blocks its strand and sets Trap.Restart: the call runs
again when the strand is woken and then finds its word (the workbench's way
of returning a value to a woken strand; it costs the woken strand one more
trip across the boundary). One service per machine: the first strand to
receive is the server. A request made before the server waits is queued.

Against hostile callers (tests/attacks/test_lesson_surfaces.py): only the
server may answer (xcall_reply from anyone else is -EINVAL, so a third
process cannot forge the answer to another's call); a second server gets
-EBUSY; a server that exits -- seen at its exit call, or at the next xcall
after it was killed -- gives up the service, and the client it was serving
gets -EPIPE; a client woken before its answer (a signal) waits again
without queueing its request twice; requests and answers of strands that
have ended are dropped, not kept.
"""

from spin import Dispatcher, Strand, Trap

BASE = 0x7500
EINVAL = 22
EBUSY = 16
EPIPE = 32
EXIT = (1, 405)  # exit, exit_group: the server's exit gives up the service

server = [None]  # the serving strand
waiting = [False]  # it is blocked in its receive
queue = []  # [client strand, word], oldest first
current = [None]  # the client being served
replies = {}  # client strand id -> its reply word, until its call runs again
requests = {}  # server strand id -> the word it was handed, until its receive runs again
pending = {}  # client strand id -> True: its request is made (queued or being served), not yet answered
stats = [0, 0, 0]  # calls, handoffs to a server already waiting in its receive, replies


def ours(strand, state):
    return BASE <= state.v0 < BASE + 4 or (state.v0 in EXIT and server[0] is not None and strand.id == server[0].id)


def server_gone():
    """The server ended: the service is free again, and its client gets -EPIPE."""
    client = current[0]
    server[0] = None
    waiting[0] = False
    current[0] = None
    requests.clear()
    if client is not None and client.id in pending:
        del pending[client.id]
    if client is not None and client.state != "done":
        replies[client.id] = -EPIPE
        Strand.Unblock(client)


def hand_over():
    """A queued request to the waiting server: it runs when the client blocks."""
    while queue and queue[0][0].state == "done":  # (no function call: the path costs the fuel it did)
        pending.pop(queue.pop(0)[0].id, None)  # a client that ended while it waited
    if waiting[0] and queue and current[0] is None:
        client, word = queue.pop(0)
        current[0] = client
        requests[server[0].id] = word
        waiting[0] = False
        stats[1] += 1
        Strand.Unblock(server[0])


def reply(word):
    client = current[0]
    if client is None:
        return False
    current[0] = None
    if client.id in pending:
        del pending[client.id]
    if client.state == "done":
        return True
    replies[client.id] = word
    stats[2] += 1
    Strand.Unblock(client)
    return True


def receive(strand, state):
    if server[0] is None:
        server[0] = strand
    if server[0].id != strand.id:
        state.result = -EBUSY
        return
    if strand.id in requests:  # woken with a request: the call runs again and takes it
        state.result = requests.pop(strand.id)
        return
    while queue and queue[0][0].state == "done":
        pending.pop(queue.pop(0)[0].id, None)  # a client that ended while it waited
    if queue and current[0] is None:  # a client was already waiting
        client, word = queue.pop(0)
        current[0] = client
        state.result = word
        return
    waiting[0] = True
    Strand.Block(strand)
    state.result = Trap.Restart


def call(strand, state):
    if strand.id in replies:  # woken with the reply
        state.result = replies.pop(strand.id)
        return
    if server[0] is not None and server[0].id == strand.id:
        state.result = -EINVAL  # the server cannot call itself
        return
    if strand.id in pending:
        Strand.Block(strand)  # woken before its answer: wait again, the request is already made
        state.result = Trap.Restart
        return
    stats[0] += 1
    pending[strand.id] = True
    queue.append([strand, state.a0])
    hand_over()
    Strand.Block(strand)
    state.result = Trap.Restart


def handle(strand, state):
    if server[0] is not None and (server[0].state == "done" or state.v0 in EXIT):
        server_gone()
        if state.v0 in EXIT:
            return
    n = state.v0 - BASE
    if n == 0:
        receive(strand, state)
    elif n == 1:
        call(strand, state)
    elif n == 2:
        if server[0] is not None and server[0].id == strand.id and strand.id not in requests:
            reply(state.a0)
        receive(strand, state)
    elif server[0] is not None and server[0].id == strand.id:
        state.result = 0 if reply(state.a0) else -EINVAL
    else:
        state.result = -EINVAL  # only the server answers: no one forges another's reply


def init():
    Dispatcher.InstallHandler(Trap.SystemCall, handle, ours)
