"""The README's commands are the commands there are: every `python -m MODULE --flag` in its code
blocks names a command of this repository and flags that command defines (its --helpfull), every
`make` target exists and every file it names is in the repository. A renamed flag or command fails
here instead of in a new user's first minute."""

import re
import subprocess
import sys

from conftest import REPO

README = REPO / "README.md"


def _code_lines():
    text = README.read_text()
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.S | re.M)
    lines = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line]


def _commands():
    """{module: flags used} over the README's `python -m` lines."""
    used = {}
    for line in _code_lines():
        m = re.match(r"python -m ([\w.]+)(.*)", line)
        if m:
            used.setdefault(m.group(1), set()).update(re.findall(r"--(?:no)?([a-z_0-9]+)", m.group(2)))
    return used


def _defined_flags(modules):
    """{module: the flags its --helpfull lists}, the commands run side by side (each is mostly the
    interpreter and TensorFlow starting)."""
    procs = {m: subprocess.Popen([sys.executable, "-m", m, "--helpfull"], cwd=REPO, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for m in modules}
    try:
        outputs = {m: proc.communicate(timeout=300) for m, proc in procs.items()}   # absl exits 1 after --helpfull
    finally:   # none left running when one times out
        for proc in procs.values():
            proc.kill()
    defined = {}
    for module, (out, err) in outputs.items():
        defined[module] = set(re.findall(r"^\s+--(?:\[no\])?([a-z_0-9]+)", out, flags=re.M))
        assert "flagfile" in defined[module], f"python -m {module} --helpfull listed no flags:\n{err[-2000:]}"
    return defined


def test_every_readme_command_and_flag_exists():
    used = _commands()
    assert {"cf_tf.train", "cf_tf.evaluate", "cf_tf.export", "cf_tf.predict"} <= set(used), used
    for module in used:
        assert (REPO / (module.replace(".", "/") + ".py")).is_file(), f"README names python -m {module}"
    defined = _defined_flags(used)
    unknown = {module: flags - defined[module] - {"helpfull", "help"} for module, flags in used.items()}
    missing = {module: sorted(flags) for module, flags in unknown.items() if flags}
    assert not missing, f"README uses flags these commands do not define: {missing}"


def test_every_readme_make_target_and_file_exists():
    makefile = (REPO / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z_]+):", makefile, flags=re.M))
    for line in _code_lines():
        if line.startswith("make "):
            assert line.split()[1] in targets, line
        for path in re.findall(r"(?:experiments|models|docs)/[\w./-]+", line):
            assert (REPO / path).exists(), f"README names {path}, which is not in the repository"
    for link in re.findall(r"\]\(((?:docs|models)/[^)#]+)", README.read_text()):
        assert (REPO / link).exists(), f"README links {link}, which is not in the repository"
