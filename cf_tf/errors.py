"""One-line reasons from TensorFlow errors, for the one-line messages of the command-line tools."""


def op_error_reason(error, limit=200):
    """The op's own sentence from a TensorFlow OpError (not its graph stack-trace boilerplate)."""
    lines = [line.strip() for line in error.message.splitlines()]
    useful = [line for line in lines if line and not line.startswith(("Graph execution", "Detected at",
                                                                       "<stack", "[[", "File ", "Additional GRPC"))]
    return (useful[0] if useful else lines[0] if lines else type(error).__name__)[:limit]
