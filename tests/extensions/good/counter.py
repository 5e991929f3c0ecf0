"""A legitimate extension: counter."""
from spin import Dispatcher, UDP, Console

count = 0


def on_packet(pkt):
    global count
    count += 1
    Console.Print("packets:", count)


def init():
    Dispatcher.InstallHandler(UDP.PacketArrived, on_packet)
