from spin import Console

while True:
    Console.Print("spin")
