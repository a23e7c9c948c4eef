"""What every command-line tool of cf_tf and data_prep shares: absl's app.run, quieter, and Ctrl-C."""

import contextlib
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
    """Ctrl-C inside the block exits with status 1 and `message`, whatever the KeyboardInterrupt
    became: landing in TensorFlow's tracing it can resurface as an unrelated error. The block's own
    one-line exits (SystemExit) and `own_errors` (which already say what happened) pass through."""
    seen = []

    def handler(signum, frame):
        seen.append(signum)
        raise KeyboardInterrupt

    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.default_int_handler:   # not when the shell started us with Ctrl-C ignored
        signal.signal(signal.SIGINT, handler)
    try:
        yield
    except (SystemExit, *own_errors):
        raise
    except BaseException:
        if seen:
            sys.exit(message)
        raise
    finally:
        signal.signal(signal.SIGINT, previous)


def output_folder(path, flag):
    """Exits with one line, before any work, if `path` (the value of `flag`) cannot be an output
    folder (cf_tf/files.output_folder says why); else returns it."""
    try:
        files.output_folder(path, flag)
    except files.OutputPathError as e:
        sys.exit(f"error: {e}")
    return path
