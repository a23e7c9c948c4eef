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


def _defined_flags(module):
    proc = subprocess.run([sys.executable, "-m", module, "--helpfull"], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    flags = set(re.findall(r"^\s+--(?:\[no\])?([a-z_0-9]+)", proc.stdout, flags=re.M))   # absl exits 1 here
    assert "flagfile" in flags, f"python -m {module} --helpfull listed no flags:\n{proc.stderr[-2000:]}"
    return flags


def test_every_readme_command_and_flag_exists():
    used = _commands()
    assert {"cf_tf.train", "cf_tf.evaluate", "cf_tf.export", "cf_tf.predict"} <= set(used), used
    missing = {}
    for module, flags in used.items():
        assert (REPO / (module.replace(".", "/") + ".py")).is_file(), f"README names python -m {module}"
        unknown = flags - _defined_flags(module) - {"helpfull", "help"}
        if unknown:
            missing[module] = sorted(unknown)
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
