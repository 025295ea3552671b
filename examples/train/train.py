#!/usr/bin/env python3
"""Small deterministic training program for xisuan examples.

  train.py gen --out DIR [--mb 200] [--seed 7]
  train.py train [--steps N] [--checkpoint-every N] [--batch N] [--hidden N]
                 [--lr X] [--seed N] [--slow-ms N]
                 [--input-dir D] [--checkpoint-dir D] [--output-dir D]

See README.md next to this file.
"""
import os

# Single-threaded math keeps results bit-for-bit reproducible.
# Must happen before numpy is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

try:
    import numpy as np  # noqa: E402
except ImportError:
    sys.exit("error: numpy is required (e.g. apt install python3-numpy)")

FEATURES = 64
DATASET_FILE = "dataset.npy"
MANIFEST = "xisuan-checkpoint.json"
STEP_DIR_RE = re.compile(r"^step-(\d{8})(\.tmp)?$")
PARAM_NAMES = ("W1", "b1", "W2", "b2")
GEN_CHUNK_ROWS = 16384
EVAL_CHUNK_ROWS = 16384
TEACHER_HIDDEN = 16


def die(msg, code=2):
    print(f"error: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_synced(path, data):
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def save_npy_synced(path, arr):
    with open(path, "wb") as f:
        np.save(f, arr, allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())


# ---------------------------------------------------------------- gen


def teacher(seed):
    """Random teacher MLP that defines the target. Fixed by the seed."""
    rng = np.random.default_rng([seed, 0x7EAC8E])
    a = rng.standard_normal((FEATURES, TEACHER_HIDDEN)) / np.sqrt(FEATURES)
    v = rng.standard_normal(TEACHER_HIDDEN) / np.sqrt(TEACHER_HIDDEN)
    return a, v


def cmd_gen(args):
    if args.mb <= 0:
        die("--mb must be positive")
    cols = FEATURES + 1
    n = int(args.mb * 1e6 // (4 * cols))
    if n < 10:
        die("--mb too small")
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, DATASET_FILE)
    tmp = path + ".tmp"
    a, v = teacher(args.seed)
    t0 = time.time()
    with open(tmp, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f4", "fortran_order": False, "shape": (n, cols)})
        for c, start in enumerate(range(0, n, GEN_CHUNK_ROWS)):
            rows = min(GEN_CHUNK_ROWS, n - start)
            rng = np.random.default_rng([args.seed, c])
            chunk = np.empty((rows, cols), dtype=np.float32)
            chunk[:, :FEATURES] = rng.standard_normal((rows, FEATURES))
            x = chunk[:, :FEATURES].astype(np.float64)
            y = np.tanh(x @ a) @ v + 0.05 * rng.standard_normal(rows)
            chunk[:, FEATURES] = y
            f.write(chunk.astype("<f4", copy=False).tobytes())
        f.flush()
        os.fsync(f.fileno())
        size = f.tell()
    os.replace(tmp, path)
    fsync_dir(args.out)
    print(f"wrote {path}: {n} rows x {cols} cols float32, {size} bytes "
          f"in {time.time() - t0:.1f}s", flush=True)


# ---------------------------------------------------------------- train


def init_params(seed, hidden):
    rng = np.random.default_rng([seed, 0xC0FFEE])
    return {
        "W1": rng.standard_normal((FEATURES, hidden)) / np.sqrt(FEATURES),
        "b1": np.zeros(hidden),
        "W2": rng.standard_normal((hidden, 1)) / np.sqrt(hidden),
        "b2": np.zeros(1),
    }


def forward(p, x):
    h = np.tanh(x @ p["W1"] + p["b1"])
    return h, h @ p["W2"] + p["b2"]


def sgd_step(p, x, y, lr):
    """One SGD step on 0.5*mean((pred-y)^2). Returns the batch MSE."""
    h, pred = forward(p, x)
    err = pred[:, 0] - y
    n = x.shape[0]
    g_out = (err / n)[:, None]                    # (B, 1)
    g_w2 = h.T @ g_out                            # (H, 1)
    g_b2 = g_out.sum(axis=0)                      # (1,)
    g_h = (g_out @ p["W2"].T) * (1.0 - h * h)     # (B, H)
    g_w1 = x.T @ g_h                              # (F, H)
    g_b1 = g_h.sum(axis=0)                        # (H,)
    p["W1"] -= lr * g_w1
    p["b1"] -= lr * g_b1
    p["W2"] -= lr * g_w2
    p["b2"] -= lr * g_b2
    return float(np.mean(err * err))


def heldout_loss(p, data, n_train):
    total = 0.0
    n = data.shape[0]
    for start in range(n_train, n, EVAL_CHUNK_ROWS):
        chunk = np.asarray(data[start:min(start + EVAL_CHUNK_ROWS, n)],
                           dtype=np.float64)
        _, pred = forward(p, chunk[:, :FEATURES])
        err = pred[:, 0] - chunk[:, FEATURES]
        total += float(np.sum(err * err))
    return total / (n - n_train)


def step_dir_name(step):
    return "step-%08d" % step


def write_checkpoint(ckdir, p, step, total, cfg):
    name = step_dir_name(step)
    final = os.path.join(ckdir, name)
    tmp = final + ".tmp"
    for stale in (tmp, final):
        if os.path.lexists(stale):
            shutil.rmtree(stale)
    os.makedirs(tmp)
    for k in PARAM_NAMES:
        save_npy_synced(os.path.join(tmp, k + ".npy"), p[k])
    state = dict(cfg, step=step, total_steps=total)
    write_file_synced(os.path.join(tmp, "state.json"),
                      (json.dumps(state, sort_keys=True) + "\n").encode())
    fsync_dir(tmp)
    os.rename(tmp, final)
    fsync_dir(ckdir)

    manifest = {"step": step, "total_steps": total,
                "progress": step / total, "path": name}
    mpath = os.path.join(ckdir, MANIFEST)
    write_file_synced(mpath + ".tmp", (json.dumps(manifest) + "\n").encode())
    os.replace(mpath + ".tmp", mpath)
    fsync_dir(ckdir)

    # Keep the manifest's directory and the newest one before it.
    older = []
    for entry in os.listdir(ckdir):
        m = STEP_DIR_RE.match(entry)
        if not m or entry == name:
            continue
        s = int(m.group(1))
        if m.group(2) is None and s < step:
            older.append((s, entry))
        else:
            shutil.rmtree(os.path.join(ckdir, entry), ignore_errors=True)
    older.sort()
    for _, entry in older[:-1]:
        shutil.rmtree(os.path.join(ckdir, entry), ignore_errors=True)


def load_checkpoint(ckdir):
    """Returns (manifest, params, state) or None when there is no manifest."""
    mpath = os.path.join(ckdir, MANIFEST)
    if not os.path.exists(mpath):
        return None
    try:
        with open(mpath) as f:
            manifest = json.load(f)
        d = os.path.join(ckdir, manifest["path"])
        with open(os.path.join(d, "state.json")) as f:
            state = json.load(f)
        p = {k: np.load(os.path.join(d, k + ".npy"), allow_pickle=False)
             for k in PARAM_NAMES}
    except (OSError, ValueError, KeyError) as e:
        die(f"cannot load checkpoint named by {mpath}: {e}")
    if state.get("step") != manifest["step"]:
        die(f"checkpoint {manifest['path']} holds step {state.get('step')}, "
            f"manifest says {manifest['step']}")
    return manifest, p, state


def write_outputs(outdir, p, data, n_train):
    os.makedirs(outdir, exist_ok=True)
    whole = hashlib.sha256()
    lines = []
    for k in PARAM_NAMES:
        path = os.path.join(outdir, k + ".npy")
        save_npy_synced(path, p[k])
        with open(path, "rb") as f:
            b = f.read()
        whole.update(b)
        lines.append(f"{hashlib.sha256(b).hexdigest()}  {k}.npy\n")
    write_file_synced(os.path.join(outdir, "sha256.txt"),
                      "".join(lines).encode())
    fsync_dir(outdir)
    loss = heldout_loss(p, data, n_train)
    print(f"held-out loss {loss:.10f} on {data.shape[0] - n_train} rows",
          flush=True)
    print(f"final sha256 {whole.hexdigest()}", flush=True)


def cmd_train(args):
    # Install first: SIGUSR1's default action would kill the process.
    usr1 = {"pending": False}

    def on_usr1(signum, frame):
        usr1["pending"] = True

    signal.signal(signal.SIGUSR1, on_usr1)

    indir = args.input_dir or os.environ.get("XISUAN_INPUT_DIR")
    ckdir = args.checkpoint_dir or os.environ.get("XISUAN_CHECKPOINT_DIR")
    outdir = args.output_dir or os.environ.get("XISUAN_OUTPUT_DIR")
    for flag, val in (("--input-dir / XISUAN_INPUT_DIR", indir),
                      ("--checkpoint-dir / XISUAN_CHECKPOINT_DIR", ckdir),
                      ("--output-dir / XISUAN_OUTPUT_DIR", outdir)):
        if not val:
            die(f"{flag} is not set")
    if args.steps < 1 or args.checkpoint_every < 1 or args.batch < 1 \
            or args.hidden < 1:
        die("--steps, --checkpoint-every, --batch and --hidden must be >= 1")

    print(f"job {os.environ.get('XISUAN_JOB_ID', '-')} "
          f"attempt {os.environ.get('XISUAN_ATTEMPT', '-')} pid {os.getpid()}",
          flush=True)
    print(f"input {indir} checkpoints {ckdir} output {outdir}", flush=True)

    dpath = os.path.join(indir, DATASET_FILE)
    if not os.path.isfile(dpath):
        die(f"dataset not found: {dpath} (create it with: train.py gen --out DIR)")
    try:
        data = np.load(dpath, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as e:
        die(f"cannot read dataset {dpath}: {e}")
    if data.ndim != 2 or data.shape[1] != FEATURES + 1 or data.shape[0] < 10:
        die(f"dataset {dpath} has shape {data.shape}, "
            f"want (N>=10, {FEATURES + 1})")
    n_train = data.shape[0] - data.shape[0] // 10
    print(f"dataset {data.shape[0]} rows ({n_train} train, "
          f"{data.shape[0] - n_train} held out); steps {args.steps} "
          f"batch {args.batch} hidden {args.hidden} lr {args.lr} "
          f"seed {args.seed} checkpoint-every {args.checkpoint_every}",
          flush=True)

    cfg = {"seed": args.seed, "batch": args.batch, "hidden": args.hidden,
           "lr": args.lr, "rows": int(data.shape[0])}
    os.makedirs(ckdir, exist_ok=True)
    total = args.steps
    loaded = load_checkpoint(ckdir)
    if loaded is None:
        p = init_params(args.seed, args.hidden)
        start = 1
        print("starting fresh", flush=True)
    else:
        manifest, p, state = loaded
        for k, v in cfg.items():
            if k in state and state[k] != v:
                die(f"checkpoint {manifest['path']} was made with {k}={state[k]}, "
                    f"this run has {k}={v}; use the same settings")
        if p["W1"].shape != (FEATURES, args.hidden):
            die(f"checkpoint W1 has shape {p['W1'].shape}")
        done = manifest["step"]
        print(f"resumed from step {done} ({manifest['path']})", flush=True)
        if done >= manifest.get("total_steps", total) or done >= total:
            write_outputs(outdir, p, data, n_train)
            return
        start = done + 1

    t0 = time.time()
    for s in range(start, total + 1):
        idx = np.sort(np.random.default_rng([args.seed, s])
                      .integers(0, n_train, size=args.batch))
        batch = np.asarray(data[idx], dtype=np.float64)
        loss = sgd_step(p, batch[:, :FEATURES], batch[:, FEATURES], args.lr)
        if args.slow_ms > 0:
            time.sleep(args.slow_ms / 1000.0)
        if s == 1:
            print(f"step 1/{total} loss {loss:.10f} (first step)", flush=True)
        if s % args.checkpoint_every == 0 or s == total:
            write_checkpoint(ckdir, p, s, total, cfg)
            print(f"step {s}/{total} loss {loss:.10f} "
                  f"({time.time() - t0:.1f}s)", flush=True)
            if usr1["pending"]:
                usr1["pending"] = False
                print(f"SIGUSR1: checkpoint at step {s}", flush=True)
        elif usr1["pending"]:
            usr1["pending"] = False
            write_checkpoint(ckdir, p, s, total, cfg)
            print(f"SIGUSR1: checkpoint at step {s}", flush=True)

    write_outputs(outdir, p, data, n_train)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    g = sub.add_parser("gen", help="write a synthetic dataset")
    g.add_argument("--out", required=True, help="folder for dataset.npy")
    g.add_argument("--mb", type=float, default=200, help="size in MB (1e6 bytes)")
    g.add_argument("--seed", type=int, default=7)

    t = sub.add_parser("train", help="train the MLP (resumes from checkpoints)")
    t.add_argument("--steps", type=int, default=3000)
    t.add_argument("--checkpoint-every", type=int, default=150)
    t.add_argument("--batch", type=int, default=256)
    t.add_argument("--hidden", type=int, default=256)
    t.add_argument("--lr", type=float, default=0.05)
    t.add_argument("--seed", type=int, default=1)
    t.add_argument("--slow-ms", type=float, default=0,
                   help="sleep this many ms per step (for tests)")
    t.add_argument("--input-dir", help="default: $XISUAN_INPUT_DIR")
    t.add_argument("--checkpoint-dir", help="default: $XISUAN_CHECKPOINT_DIR")
    t.add_argument("--output-dir", help="default: $XISUAN_OUTPUT_DIR")

    args = ap.parse_args()
    if args.cmd == "gen":
        cmd_gen(args)
    else:
        cmd_train(args)


if __name__ == "__main__":
    main()
