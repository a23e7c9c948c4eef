"""What every command-line tool of cf_tf and data_prep shares: absl's app.run, quieter, and Ctrl-C."""

import contextlib
import os
import signal
import sys

from absl import app, flags, logging

from cf_tf import files


def run(main):
    """app.run(main), but TensorFlow's INFO log lines (app.run turns them on) stay off unless
    --verbosity is given, so a user sees cf_tf's own messages."""
    def quiet_main(argv):
        if not flags.FLAGS["verbosity"].present:
            logging.set_verbosity(logging.WARNING)
        return main(argv)

    app.run(quiet_main)


@contextlib.contextmanager
def exit_on_interrupt(message, own_errors=()):
    """Ctrl-C (SIGINT) or SIGTERM (`kill`, a job scheduler, the end of a session) inside the block
    exits with status 1 and `message`, whatever the KeyboardInterrupt raised for either became: landing
    in TensorFlow's tracing it can resurface as an unrelated error. Both go the same way, so a stopped
    command cleans up (training saves its step) however it was stopped; what the unwinding prints is muted.
    The block's own one-line exits (SystemExit) and `own_errors` (which already say what happened) pass
    through, printed after the block."""
    seen, stderr = [], []

    def handler(signum, frame):
        seen.append(signum)
        if not stderr:
            # What unwinds after the interrupt may print a traceback itself: TensorFlow's C++ prints the
            # error of a Python callback it was in (a SystemError) before re-raising. The command's one
            # line says what happened, so stderr is muted from here to the end of the block. At the file
            # descriptor, with no flush: sys.stderr may be in the middle of a write (a progress bar).
            stderr.append(os.dup(2))
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        raise KeyboardInterrupt

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    # not a signal the shell started us ignoring (Ctrl-C in a background job), nor one a caller handles
    if previous[signal.SIGINT] is signal.default_int_handler:
        signal.signal(signal.SIGINT, handler)
    if previous[signal.SIGTERM] is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, handler)
    try:
        yield
    except (SystemExit, *own_errors):
        raise
    except BaseException:
        if seen:
            sys.exit(message)
        raise
    finally:
        for sig, was in previous.items():
            signal.signal(sig, was)
        if stderr:
            sys.stderr.flush()
            os.dup2(stderr[0], 2)
            os.close(stderr[0])


def output_folder(path, flag):
    """Exits with one line, before any work, if `path` (the value of `flag`) cannot be an output
    folder (cf_tf/files.output_folder says why); else returns it."""
    try:
        files.output_folder(path, flag)
    except files.OutputPathError as e:
        sys.exit(f"error: {e}")
    return path
