"""Prints and raises terminal escape sequences: clear screen, OSC 52 (set the clipboard),
carriage return, bell, a C1 CSI and rich markup; the exception also holds a lone surrogate."""

EXPECT = {"exception"}

NASTY = (
    "\x1b[2J\x1b[H cleared"
    " \x1b]52;c;cm0gLXJmIH4=\x07 clipboard"
    " over\rwrite \x07 bell \x9b31m c1"
    " [/] [bold red]markup[/bold red]"
)


class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        print("PRINTED " + NASTY)
        raise ValueError("RAISED " + NASTY + " \ud800 lone surrogate")
