"""The web driver a browser's workbench runs under (``spinwb serve``): Textual's
own, except that the workbench ends when the server is gone.

Textual's WebDriver keeps the app running when its input ends: if the server
dies (killed, crashed) the browser's workbench reads end-of-file on stdin and
then lives on, re-parented, for ever. And it asks the app to quit on SIGTERM
through the event loop, which never hears it while the loop is busy. Here the
end of input quits the app, SIGTERM is a plain signal handler, and either arms
a last resort: the process ends ``GRACE`` seconds later whatever the app is
doing. textual-serve starts the app with ``TEXTUAL_DRIVER`` naming this class.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

from textual import messages
from textual.drivers.web_driver import WebDriver

DRIVER = "workbench.cli.web_driver:ClassroomDriver"
GRACE = 3.0  # seconds an app has to quit cleanly once told to, before the process ends


class ClassroomDriver(WebDriver):
    """WebDriver whose app cannot outlive its server."""

    _deadline: threading.Timer | None = None

    def start_application_mode(self) -> None:
        super().start_application_mode()
        signal.signal(signal.SIGTERM, self._on_sigterm)  # a Python handler runs even while the loop is busy

    def run_input_thread(self) -> None:
        super().run_input_thread()
        if not self.exit_event.is_set():  # the input ended, not the app: the server is gone
            self.leave()

    def _on_sigterm(self, _signum: int, _frame: FrameType | None) -> None:
        if self._deadline is not None:
            os._exit(128 + signal.SIGTERM)  # told twice
        self.leave()

    def leave(self) -> None:
        """Ask the app to quit, and end the process if it has not within GRACE seconds."""
        if self._deadline is None:
            self._deadline = threading.Timer(GRACE, os._exit, (128 + signal.SIGTERM,))
            self._deadline.daemon = True
            self._deadline.start()
        self._app.post_message(messages.ExitApp())
