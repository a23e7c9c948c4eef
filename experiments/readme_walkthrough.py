r"""The README, top to bottom, as a new user runs it: every command of its code blocks, as written, on the
bundled data, in quick mode.

  git clone REPO fresh && cd fresh && python3 experiments/readme_walkthrough.py   # ../shared beside it

Run it in a fresh clone (runs/ must not exist: the README's commands write there). `make demo` runs as
`make demo DEMO_STEPS=300` (the whole demo, 300 training steps instead of tiny.flags' own); the
README's placeholders (A.json, DIR, FILE_OR_DIR, a.jpg, ...) become the bundled COCO sample; optional
`[--flag]` parts are left out. Commands that need what this machine lacks (COCO 2017, a GPU, the full
test suite) are listed as skipped, with the reason. Stops at the first command that fails, naming it;
prints each command's time.
"""

import os
import pathlib
import re
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
PICTURE = "../shared/data/coco_sample/images/000000000790.jpg"
# README placeholder -> what the walkthrough passes (each key names its flag, so no key is part of another)
PLACEHOLDERS = {
    "A.json": "../shared/data/coco_sample/person_keypoints.json",
    "--images=DIR": "--images=../shared/data/coco_sample/images",
    "--output=PREFIX": "--output=runs/walkthrough/records",
    "--output=DIR": "--output=runs/walkthrough/synth",
    "--num_images=N": "--num_images=4",
    "FILE_OR_DIR": PICTURE,
    '"a.jpg"': f'"{PICTURE}"',
}
ACTIVATE = "source .venv/bin/activate"
QUICK = {"make demo": "make demo DEMO_STEPS=300"}
SKIP = {
    "make test": "the whole test suite: run it on its own (`make test`, about an hour here)",
    "make tfrecords COCO_DIR=": "needs COCO 2017 on disk",
    "--flagfile=experiments/r101.flags": "needs COCO 2017 records and GPUs",
    "experiments/device_check.sh": "needs a GPU machine",
    "cf_tf.benchmark": "the full benchmark takes long; `python -m cf_tf.benchmark --quick` is in make test",
}


def blocks(text):
    """(language, code) of each fenced block."""
    return re.findall(r"^```([a-z]*)\n(.*?)^```", text, flags=re.S | re.M)


def as_run(line):
    """A README shell line as the walkthrough runs it."""
    line = line.split("  #")[0].strip()
    line = re.sub(r"\s*\[[^\]]*\]", "", line)           # optional parts
    for written, quick in QUICK.items():
        if line == written:
            return quick
    for written, value in PLACEHOLDERS.items():
        line = line.replace(written, value)
    return line


def steps(text):
    """(what the README says, what runs or None, why skipped), in README order."""
    out = []
    for lang, code in blocks(text):
        if lang == "python":
            snippet = code
            for written, value in PLACEHOLDERS.items():
                snippet = snippet.replace(written, value)
            out.append(("python snippet", ["python", "-c", snippet + "\nprint({k: v.shape for k, v in out.items()})"], None))
            continue
        for line in code.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            reason = next((why for key, why in SKIP.items() if key in line), None)
            cmd = None if reason else as_run(line)
            out.append((line.split("  #")[0].strip(), cmd, reason))
    return out


def main():
    if (REPO / "runs").exists():
        sys.exit(f"error: {REPO / 'runs'} exists: run this in a fresh clone (the README's commands write there)")
    env = dict(os.environ)
    for written, cmd, reason in steps((REPO / "README.md").read_text()):
        if reason:
            print(f"SKIP  {written}\n      ({reason})", flush=True)
            continue
        print(f"RUN   {written}", flush=True)
        if cmd == ACTIVATE:   # what `source` does to the shells of the commands after it
            venv = REPO / ".venv"
            if not (venv / "bin" / "python").exists():
                sys.exit(f"FAILED: {cmd}: no {venv} (the README's `make` commands create it)")
            env.update(VIRTUAL_ENV=str(venv), PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}")
            continue
        t0 = time.time()
        proc = subprocess.run(cmd if isinstance(cmd, list) else ["bash", "-c", cmd], cwd=REPO,
                              capture_output=True, text=True, env=env)
        took = time.time() - t0
        # absl ends --help / --helpfull with exit status 1 after printing every flag
        listed = "--help" in written and "--flagfile" in proc.stdout
        if proc.returncode != 0 and not listed:
            sys.exit(f"FAILED ({took:.0f} s, exit {proc.returncode}): {cmd}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
        print(f"      ok, {took:.0f} s: {proc.stdout.strip().splitlines()[-1][:200] if proc.stdout.strip() else ''}", flush=True)
    print("every README command ran as written (quick mode)")


if __name__ == "__main__":
    main()
