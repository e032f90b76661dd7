"""`replicate rebuild` (what `make reproduce` runs): re-make every step of the study graph that is not
current, and each step that reads what those make unless it is still current when its turn comes (their outputs
came out the same), in the graph's order, one ``dvc repro --single-item`` at a time, and time each one.

``dvc repro`` alone would do the same work but says nothing of how long each step took, which the
reproducibility page needs. Each finished step adds a row to ``results/rebuild/times.csv`` (written atomically:
a kill loses at most the running step, and ``dvc.lock`` holds every step that finished, so the same command goes
on): how warm the caches were at its start, the machine's load, and the VAEs it trained or got from the cache
(each step runs with ``REPLICATE_STEP`` naming it, which the latent store's ledger notes). ``--cold`` measures a
rebuild from nothing: every step, one at a time, from an empty cache folder, over as many sittings as it takes
(:mod:`replicate.publish.cold`); its budget reads the recorded times, so a cold step may run past it.

**In landings**: ``--budget 90m`` starts a step only while its recorded time fits what is left (a never-timed
step: the longest timed step of its kind, e.g. the pages for a page) and stops cleanly before the first that
does not; ``--commit`` commits each finished step (outputs, ``dvc.lock`` entry, measured time), so a rebuild
of many hours is a series of ordinary landings. Trained VAEs and finished grid cells are cached as they finish,
so a step killed part-way goes on from them. One rebuild at a time in a checkout.

**Side by side**: ``--jobs N`` runs up to N steps at once, each as soon as the steps whose outputs it reads
(directly or through others) are made, on a Dask ``LocalCluster``; ``--scheduler ADDRESS`` sends them to a
running Dask scheduler instead (its workers must see this checkout at the same path, e.g. a shared file
system). A step runs its ``dvc.yaml`` command as ``dvc repro`` would (its outputs removed first), and this
process records it in ``dvc.lock`` (``dvc commit``), times and commits it, one step at a time, so the lock,
the times table and the history are written by one process only. The numbers are those of one at a time: each
step computes the same thing from the same inputs; only the order of independent steps changes.

**One CPU family per run**: a section of the paper run is re-made only on the CPU family that made the
run's other sections (its ``manifest.json`` records each one's), since the same seed trains another VAE on
another family (``benchmarks/results/cpu_family-*.json``) and a run whose sections saw different latents
contradicts itself, and only on a machine that trains its seed 0 alike (:mod:`.trains_alike`: one family does
not settle it); ``--other-family`` re-makes it anyway (to re-make the whole run there).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd
import psutil
import yaml
from dask.distributed import Client, LocalCluster, as_completed

from ..io.errors import ReplicateError
from ..io.paths import project_root
from ..io.progress import follow
from ..io.provenance import machine
from ..method.latents import STEP_VARIABLE
from . import trains_alike
from .budget import estimate, fits, need
from .cold import begin, remaining
from .order import downstream, waits
from .sections import HEARTBEAT, HEARTBEAT_S
from .status import dvc_status, status
from .times import TIMES, latest, snapshot, timed_row, written

__all__ = ["pending", "run_family", "section_families", "rebuild"]

def pending(steps: Sequence[str] = (), *, machine_specific: bool = False, every: bool = False) -> list[str]:
    """The steps to re-make, in the graph's order: ``steps`` when named (each must exist), else every
    step that is not current (``every``: current or not); machine-specific steps (benchmarks) only when named or
    asked for."""
    table = status()
    unknown = sorted(set(steps) - set(table["step"]))
    if unknown:
        raise ReplicateError(f"no step {', '.join(unknown)} in dvc.yaml; `replicate status` lists them.")
    if steps:
        return [s for s in table["step"] if s in steps]
    todo = table[((table["state"] != "current") | every) & (machine_specific | ~table["machine_specific"])]
    return list(todo["step"])


def _manifest(step: str) -> Path | None:
    """The ``manifest.json`` of the run a step's outputs belong to (a section's folder, or a file in it)."""
    for out in _outs(step):
        for folder in list(Path(out).parents)[:2]:
            if (project_root() / folder / "manifest.json").is_file():
                return folder / "manifest.json"
    return None


def run_family(step: str) -> str:
    """The CPU family that made most of the other sections of the run ``step`` belongs to ('' for none)."""
    path = _manifest(step)
    if path is None:
        return ""
    first = Path(_outs(step)[0])
    families = section_families(json.loads((project_root() / path).read_text()),
                                skip=first.parent.name if first.suffix else first.name)
    families.pop("", None)
    return families.most_common(1)[0][0] if families else ""


def section_families(manifest: dict, skip: str = "") -> Counter:
    """How many finished sections of a run (its ``manifest.json``) each CPU family made ('' where none is
    recorded), leaving out the section ``skip``."""
    return Counter(e.get("machine", {}).get("family", "") for n, e in manifest.get("sections", {}).items()
                   if n != skip and e.get("status") == "done")


def _same_family(todo: list[str], family: str) -> None:
    """Refuse to re-make a section of a run made on another CPU family (see the module)."""
    for step in todo:
        made = run_family(step)
        if made and made != family:
            raise ReplicateError(
                f"{step} is a section of a run made on {made}; this machine is {family}. The same seed trains "
                "another VAE here (benchmarks/results/cpu_family-*.json), so the run would mix latents of two "
                "families. Re-make it on that family, or re-make the whole run here with --other-family.")


def _commit(step: str, seconds: float, outs: list[str], times: Path) -> None:
    """One commit holding the step's outputs, its ``dvc.lock`` entry and its measured time; for a section of a
    run (a folder beside the run's ``manifest.json``), the manifest too: it records the section's machine and
    code, which ``replicate verify`` reads."""
    root = project_root()
    manifests = [str(Path(o).parent / "manifest.json") for o in outs
                 if (root / o).is_dir() and (root / o).parent.joinpath("manifest.json").is_file()]
    # a section's tables or page (files in its folder): the run's manifest is one folder up
    manifests += [str(Path(o).parents[1] / "manifest.json") for o in outs
                  if (root / o).is_file() and len(Path(o).parents) > 1 and (root / o).parents[1].joinpath(
                      "manifest.json").is_file()]
    paths = ([o for o in outs if (root / o).exists()] + list(dict.fromkeys(manifests))
             + ["dvc.lock"] + [str(p.relative_to(root)) for p in written(times)])
    message = f"Rebuild {step} ({seconds:.0f} s, replicate rebuild)"
    # a section's kernel log and any dot-file a run leaves in a folder it made (never a result)
    debris = [f":(glob){o}/**/.*" for o in outs if (root / o).is_dir()] or [":(glob).nothing-to-remove"]
    for attempt in range(30):  # another git command (a person's commit) may hold the index for a moment
        added = subprocess.run(["git", "add", "-f", "--", *paths], cwd=root, capture_output=True, text=True, check=False)
        if not added.returncode:  # results are ignored by default (hence -f), a run's own logs stay out
            added = subprocess.run(["git", "rm", "-r", "-q", "--cached", "--ignore-unmatch", "--", *debris],
                                   cwd=root, capture_output=True, text=True, check=False)
        done = added if added.returncode else subprocess.run(
            ["git", "commit", "-q", "-m", message, "--", *paths], cwd=root, capture_output=True, text=True, check=False)
        text = done.stdout + done.stderr
        if not done.returncode or "nothing to commit" in text:
            return
        if "index.lock" not in text:
            break
        time.sleep(2)
    raise ReplicateError(f"committing {step} failed: {text.strip()[-500:]}")


#: Names the process of the rebuild running in this checkout (removed when it ends).
LOCK = ".dvc/tmp/replicate-rebuild.pid"


@contextlib.contextmanager
def _only_one() -> Iterator[None]:
    """Hold :data:`LOCK` while a rebuild runs; refuse if another live rebuild holds it (a dead one's is taken)."""
    path = project_root() / LOCK
    other = path.read_text(encoding="utf-8").strip() if path.is_file() else ""
    if other.isdigit() and int(other) != os.getpid() and psutil.pid_exists(int(other)):
        raise ReplicateError(f"another `replicate rebuild` (pid {other}, named in {LOCK}) is running in this checkout; "
                             f"two would make the same steps at once. Wait for it to end, or stop it (kill {other}) "
                             "and run this again: it goes on from the steps already made.")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(os.getpid()), encoding="utf-8")
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def rebuild(steps: Sequence[str] = (), *, machine_specific: bool = False, times: str | os.PathLike | None = None,
            dry_run: bool = False, budget: float | None = None, commit: bool = False,
            other_family: bool = False, jobs: int = 1, scheduler: str = "", cold: bool = False) -> list[str]:
    """Re-make the :func:`pending` steps in order with DVC, recording each one's wall time; return those made.

    ``budget`` (seconds): a step starts only while its recorded time fits what is left (never timed: the longest
    timed step of its kind); ``commit``: each finished step is committed (outputs, ``dvc.lock``, its time). Stops at
    the first step that fails (the steps before it are recorded). A section of a run made on another CPU family, or
    on a machine that trains other VAEs, is refused unless ``other_family``. ``jobs`` > 1 or a Dask ``scheduler``:
    independent steps side by side (see the module). One rebuild at a time in a checkout (:data:`LOCK`).
    ``cold``: every step that the cold rebuild of this cache folder has not made yet (:mod:`.cold`).
    """
    if jobs < 1:
        raise ReplicateError(f"--jobs {jobs}: give 1 or more steps at a time.")
    if cold and (jobs > 1 or scheduler):
        raise ReplicateError("--cold makes one step at a time: side by side, steps share the cores and each "
                             "other's trainings, so no step's time would be its own. Leave out --jobs/--scheduler.")
    todo = pending(steps, machine_specific=machine_specific, every=cold)
    todo, then = (todo, frozenset()) if steps or cold else _with_downstream(todo, machine_specific)
    path = Path(times) if times else project_root() / TIMES
    name, part = begin(create=not dry_run, steps=todo, times=path) if cold else ("", 0)
    if name:
        todo = remaining(name, todo, path)
    info, made, start = machine(), [], time.perf_counter()
    if not other_family:  # the CPU's name first, then (where that passes) a measured training
        _same_family(todo, info["family"]) or trains_alike.check([] if dry_run else todo)
    recorded = latest(times, longest=cold)  # a cold step takes what it took with nothing cached
    # DVC runs each step's command through the shell: this environment's `python` and `replicate` first
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    with contextlib.nullcontext() if dry_run else _only_one():
        if (jobs > 1 or scheduler) and not dry_run:
            return _side_by_side(todo, jobs, scheduler, env, info, path, budget, commit, recorded, then)
        spent = 0.0  # a dry run spends the recorded times instead of waiting them out
        for i, step in enumerate(todo, 1):
            if step in then and not dry_run and _still_current(step):
                continue
            left = None if budget is None else budget - (time.perf_counter() - start) - spent
            if left is not None and not fits(step, left, not made, recorded):
                print(f"budget: {step} is next ({need(step, recorded)}), {left / 60:.0f} min of the budget left: "
                      f"stopping here; the same command goes on from it", flush=True)
                break
            print(f"[{i}/{len(todo)}] {step}", flush=True)
            if dry_run:
                made.append(step)
                spent += estimate(step, recorded) or 0.0
                continue
            seconds = _make(step, env, info, path, (name, part))
            made.append(step)
            if commit:
                _commit(step, seconds, _outs(step), path)
            print(f"    {step}: {seconds:.0f} s" + (" (committed)" if commit else ""), flush=True)
    return made


def _with_downstream(todo: list[str], machine_specific: bool) -> tuple[list[str], frozenset[str]]:
    """``todo`` with the current steps that read, directly or through others, what one of its steps makes (stale
    once it is re-made, unless its outputs come out the same: a rebuild checks each before starting it), in the
    graph's order; and those steps."""
    stages = yaml.safe_load((project_root() / "dvc.yaml").read_text())["stages"]
    then = frozenset(s for s in downstream(todo, stages)
                     if machine_specific or not stages[s].get("meta", {}).get("machine_specific"))
    return [s for s in stages if s in set(todo) | then], then


def _still_current(step: str) -> bool:
    """Whether ``step`` is current now (its inputs re-made the same); says so when it is."""
    if current := step not in dvc_status(step):
        print(f"    {step}: still current after the steps it reads were re-made: left as it is", flush=True)
    return current


def _outs(step: str) -> list[str]:
    stage = yaml.safe_load((project_root() / "dvc.yaml").read_text())["stages"][step]
    return [next(iter(o)) if isinstance(o, dict) else o for o in stage.get("outs", [])]


def _make(step: str, env: dict, info: dict, path: Path, cold: tuple[str, int] = ("", 0)) -> float:
    """``dvc repro --force --single-item step``, timed and recorded; its seconds."""
    snap, load = snapshot(), os.getloadavg()[0]
    t0 = time.perf_counter()
    # --force: a step named on the command line is made even when current (DVC would skip it and the time
    # recorded would be that of the skip)
    code, _ = _stream([sys.executable, "-m", "dvc", "repro", "--force", "--single-item", step], step, project_root(),
                      {**env, STEP_VARIABLE: step})
    seconds = time.perf_counter() - t0
    if code:
        raise ReplicateError(f"`dvc repro --single-item {step}` failed (exit {code}); the steps "
                             "before it are made and recorded: fix it and run the same command again.")
    timed_row(step, seconds, snap, load, info, path, cold)
    return seconds


def _stream(cmd: str | list[str], step: str, root: str | Path, env: dict) -> tuple[int, str]:
    """Run ``cmd``, passing its lines on with the step's name and a heartbeat in every silence of 15 s (a long
    computation that prints nothing still shows it runs): (exit status, its last lines)."""
    t0, log = time.perf_counter(), Path(tempfile.mkdtemp(prefix="replicate-step-")) / "output.log"
    beat = lambda: f"{HEARTBEAT}, {time.perf_counter() - t0:.0f} s"  # noqa: E731
    with follow(log, lambda line: print(f"    {step} | {line}", flush=True), heartbeat_s=HEARTBEAT_S, heartbeat=beat):
        with open(log, "a", encoding="utf-8") as out:
            code = subprocess.run(cmd, shell=isinstance(cmd, str), cwd=root, env=env, stdout=out,
                                  stderr=subprocess.STDOUT, check=False).returncode
    tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:])
    shutil.rmtree(log.parent, ignore_errors=True)
    return code, tail


def _run_step(step: str, cmd: str, outs: list[str], root: str, env: dict) -> tuple[int, float, str]:
    """A step's command as ``dvc repro`` runs it (outputs removed first), on a Dask worker: (exit, seconds, tail)."""
    for out in outs:
        target = Path(root) / out
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    t0 = time.perf_counter()
    code, tail = _stream(cmd, step, root, env)
    return code, time.perf_counter() - t0, tail


def _finish(step: str, result: tuple[int, float, str], env: dict, timing: tuple, commit: bool) -> tuple | None:
    """Record a step that ran on a worker (``dvc commit``, its time, a git commit); (step, exit, tail) if it failed."""
    code, seconds, tail = result
    if code:
        print(f"    {step}: failed (exit {code}); starting nothing more, waiting for the steps running", flush=True)
        return step, code, tail
    done = subprocess.run([sys.executable, "-m", "dvc", "commit", "--force", "--quiet", step], cwd=project_root(),
                          env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        return step, done.returncode, (done.stdout + done.stderr).strip()[-1500:]
    snap, load, info, path = timing
    timed_row(step, seconds, snap, load, info, path)
    if commit:
        _commit(step, seconds, _outs(step), path)
    print(f"    {step}: {seconds:.0f} s" + (" (committed)" if commit else ""), flush=True)
    return None


def _side_by_side(todo: list[str], jobs: int, scheduler: str, env: dict, info: dict, path: Path,
                  budget: float | None, commit: bool, recorded: pd.DataFrame,
                  then: frozenset[str] = frozenset()) -> list[str]:
    """:func:`rebuild` with up to ``jobs`` steps at once (see the module); the steps made, in the order they finished.
    A step of ``then`` is left out when it is still current once the steps it waits for are made."""
    root = project_root()
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    wait, queue, made, failed, skipped = waits(todo, stages), list(todo), [], [], set()
    cluster = None if scheduler else LocalCluster(n_workers=jobs, threads_per_worker=1, processes=False,
                                                  dashboard_address=None)
    client = Client(scheduler or cluster)
    running: dict = {}
    finished = as_completed()
    start, stopped = time.perf_counter(), False
    try:
        while queue or running:
            while queue and not stopped and not failed and len(running) < jobs:
                ready = [s for s in queue if not wait[s] - set(made) - skipped]
                if not ready:
                    break
                step = ready[0]
                if step in then and _still_current(step):
                    queue.remove(step)
                    skipped.add(step)
                    continue
                left = None if budget is None else budget - (time.perf_counter() - start)
                if left is not None and not fits(step, left, not made and not running, recorded):
                    print(f"budget: {step} is next ({need(step, recorded)}), {left / 60:.0f} min of the budget "
                          "left: starting nothing more; the same command goes on from it", flush=True)
                    stopped = True
                    break
                queue.remove(step)
                print(f"[{len(todo) - len(queue)}/{len(todo)}] {step} (with {len(running)} other"
                      f"{'' if len(running) == 1 else 's'} running)", flush=True)
                future = client.submit(_run_step, step, stages[step]["cmd"], _outs(step), str(root),
                                       {**env, STEP_VARIABLE: step}, pure=False)
                running[future] = (step, snapshot(), os.getloadavg()[0])
                finished.add(future)
            if not running:
                break
            future = next(finished)
            step, snap, load = running.pop(future)
            trouble = _finish(step, future.result(), env, (snap, load, info, path), commit)
            failed += [trouble] if trouble else []
            made += [] if trouble else [step]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    if failed:
        step, code, tail = failed[0]
        raise ReplicateError(f"{step} failed (exit {code}); the steps that finished are made and recorded "
                             f"({', '.join(made) or 'none'}): fix it and run the same command again.\n{tail}")
    return made
