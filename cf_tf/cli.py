"""What every command-line tool of cf_tf and data_prep shares: absl's app.run, quieter."""

from absl import app, flags, logging


def run(main):
    """app.run(main), but TensorFlow's INFO log lines (app.run turns them on) stay off unless
    --verbosity is given, so a user sees cf_tf's own messages."""
    def quiet_main(argv):
        if not flags.FLAGS["verbosity"].present:
            logging.set_verbosity(logging.WARNING)
        return main(argv)

    app.run(quiet_main)
