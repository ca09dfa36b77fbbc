#!/usr/bin/env python3
"""mpi_scaling.py - a scaling model of `mille train` over MPI (docs/mpi.md), built from the
numbers bench/mpi_bench.sh measures on one machine, predicting the parallel efficiency on
2..64 nodes at 10 and 100 Gb/s.

    sh bench/mpi_bench.sh > bench.txt && python3 bench/mpi_scaling.py bench.txt

What one step costs on N nodes (weak scaling: each node keeps its per-node batch b, so the
global batch is N*b and --shards a multiple of N; every term is per step):

  compute   b * c                    c: measured compute per utterance on one node (its threads)
  dense     chain reduce + broadcast of the dense gradient, M bytes, in pieces of s bytes
            (mille: about N-1 pieces of at least 256 KiB):
            2 * (ceil(M/s) + N - 2) * (alpha + s/beta)   (a pipeline N-1 hops deep; the
            broadcast is modelled as the same pipeline, which OpenMPI's pipelined broadcast
            of large messages is close to)
  sparse    ring all-gather of every shard's word gradients, p bytes per utterance:
            (N-1) * alpha + (N-1)/N * N*b*p / beta
  dsum      the sums of the node's own shards' dense gradients (measured, constant)
  replay    every node adds the word gradients of all N*b utterances to the embedding rows
            itself (for bit-identical results): N * b * r, r measured per utterance
  update    AdamW over the dense parameters and the touched rows of the global batch, on
            every node

  efficiency(N) = step time on 1 node / step time on N nodes (same per-node batch).

Assumptions (stated, not measured here): beta = 90% of the line rate; alpha = 25 us per
message on 10 Gb/s Ethernet (TCP), 3 us on 100 Gb/s (RDMA); one process per node using the
node's cores as threads; compute per utterance as measured on this machine's cores;
communication not overlapped with compute (it is not, in mille); no stragglers.

Levers, each shown in the table: a larger per-node batch (b = 256: more compute per byte; the
global batch grows, which changes the optimization: the learning rate needs re-tuning, not
done here); bf16 dense gradients (half the dense bytes; NOT implemented, because rounding
partial sums breaks the bit-identity with one process); a sharded update (each node sums the
rows and runs AdamW for 1/N of the rows and dense weights, then the updated weights are
all-gathered; NOT implemented; element-wise, so it would keep the bit-identity).
"""
import math
import re
import sys


DIM = BUCKETS = 0


def parse(path):
    runs = {}
    with open(path) as f:
        for line in f:
            if not line.startswith("mpi_bench procs="):
                continue
            kv = dict(x.split("=", 1) for x in line.split()[1:])
            runs[(int(kv["procs"]), int(kv["threads"]))] = {k: float(v) for k, v in kv.items()}
    return runs


def model(meas, nodes, gbps, alpha, b, chunk=None, bf16=False, sharded=False):
    """(step time on `nodes` nodes, step time on 1 node, communication time), in seconds."""
    beta = 0.9 * gbps * 1e9 / 8
    M = meas["dense_bytes"]
    G = nodes * b  # the global batch

    def rows(g):  # touched rows of a batch of g utterances: rows_b * (g / b0) ** gamma
        return min(meas["buckets"], meas["rows_step"] * (g / meas["batch"]) ** meas["gamma"])

    def upd(g):
        return meas["e"] * (meas["dense_floats"] + rows(g) * meas["dim"])

    t1 = b * meas["c"] + meas["dsum"] + b * meas["r"] + upd(b)
    if nodes == 1:
        return t1, t1, 0.0
    Mw = M * (0.5 if bf16 else 1.0)  # bytes of the dense gradient on the wire
    if chunk is None:  # mille's rule (loop.c): about N-1 pieces of at least 256 KiB
        chunk = max(1 << 18, math.ceil(Mw / (nodes - 1)))
    k = math.ceil(Mw / chunk)
    dense = 2 * (k + nodes - 2) * (alpha + min(chunk, Mw) / beta)
    sparse = (nodes - 1) * alpha + (nodes - 1) / nodes * G * meas["p"] / beta
    agree = 2 * math.ceil(math.log2(nodes)) * alpha  # the step's two small all-reduces
    work = G * meas["r"] + upd(G)  # every node sums all rows and updates everything
    if sharded:  # each node sums and updates 1/N of the rows and dense weights, then the
        # updated weights are all-gathered (NOT implemented in mille)
        work /= nodes
        sparse += (nodes - 1) / nodes * (M + rows(G) * meas["dim"] * 4) / beta
    comm = dense + sparse + agree
    tn = b * meas["c"] + meas["dsum"] + work + comm
    return tn, t1, comm


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: mpi_scaling.py BENCH_OUTPUT [BATCH:ROWS,BATCH:ROWS,...]\n"
                 "  BENCH_OUTPUT: the lines of bench/mpi_bench.sh; BATCH:ROWS: embedding rows\n"
                 "  touched per step at other batch sizes (`mille train --batch B` prints them),\n"
                 "  fitted as rows ~ batch^gamma; without them gamma = 1 (no overlap: pessimistic)")
    runs = parse(sys.argv[1])
    pts = [tuple(float(x) for x in kv.split(":")) for kv in sys.argv[2].split(",")] \
        if len(sys.argv) == 3 else []
    one = [v for (p, t), v in runs.items() if p == 1]
    many = [v for (p, t), v in runs.items() if p > 1]
    if not one or not many:
        sys.exit("mpi_scaling: need a 1-process and a multi-process line of mpi_bench")
    one, many = one[0], many[0]
    global DIM, BUCKETS  # the model's shape, from the bench lines
    DIM, BUCKETS = one["dim"], one["buckets"]
    B = one["batch"]
    P = many["procs"]
    dense_bytes = one["dense_floats"] * 4
    # bytes of all ranks per step = dense chain (P-1)*M + broadcast M + the gathered word grads
    word_bytes = max(0.0, many["bytes_step"] - P * dense_bytes)
    upd_ms = max(0.0, one["ms_step"] - one["compute_ms"] - one["wait_ms"] - one["exchange_ms"])
    meas = {
        "c": one["compute_ms"] / 1e3 / B,
        "r": one["rows_ms"] / 1e3 / B,
        "dsum": max(0.0, one["exchange_ms"] - one["rows_ms"]) / 1e3,
        "e": upd_ms / 1e3 / (one["dense_floats"] + one["rows_step"] * DIM),
        "p": word_bytes / B,
        "dense_floats": one["dense_floats"],
        "dense_bytes": dense_bytes,
        "rows_per_utt": one["rows_step"] / B,
        "rows_step": one["rows_step"],
        "batch": B,
        "gamma": 1.0,
        "dim": DIM,
        "buckets": BUCKETS,
    }
    if pts:  # least squares on log-log, with the bench's own point
        xs = [math.log(b) for b, _ in pts] + [math.log(B)]
        ys = [math.log(r) for _, r in pts] + [math.log(one["rows_step"])]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        meas["gamma"] = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / \
            sum((x - mx) ** 2 for x in xs)
    print("rows touched per step grow as batch^%.2f (%s)" % (
        meas["gamma"], "fitted to %d batch sizes" % (len(pts) + 1) if pts else "assumed"))
    print("measured (bench/mpi_bench.sh, batch %d, 1 process): compute %.3f ms/utt, row sums "
          "%.3f ms/utt, dense shard sums %.2f ms/step, update %.2f ms/step, dense gradient "
          "%.2f MB, word gradients %.0f bytes/utt, %.0f rows/utt" % (
              B, meas["c"] * 1e3, meas["r"] * 1e3, meas["dsum"] * 1e3, upd_ms, dense_bytes / 1e6,
              meas["p"], meas["rows_per_utt"]))
    print("measured here: %d processes x 1 thread %.0f utt/s vs 1 process x %d threads %.0f utt/s "
          "(%.1f%%); bytes per step %.2f MB = %.2f x (dense gradient, all ranks) + %.1f KB word "
          "gradients (the touched rows would be %.2f MB)" % (
              P, many["utt_per_s"], one["threads"], one["utt_per_s"],
              100 * many["utt_per_s"] / one["utt_per_s"], many["bytes_step"] / 1e6,
              many["bytes_step"] / dense_bytes, word_bytes / 1e3,
              one["rows_step"] * (4 + 4 * DIM) / 1e6))
    nodes = [2, 4, 8, 16, 32, 64]
    cases = [  # name, Gb/s, latency, per-node batch, bf16, sharded update
        ("10 Gb/s, b=%d" % B, 10, 25e-6, B, False, False),
        ("10 Gb/s, b=256", 10, 25e-6, 256, False, False),
        ("10 Gb/s, b=%d, bf16 dense*" % B, 10, 25e-6, B, True, False),
        ("10 Gb/s, b=%d, sharded update*" % B, 10, 25e-6, B, False, True),
        ("10 Gb/s, b=256, sharded update*" % (), 10, 25e-6, 256, False, True),
        ("100 Gb/s, b=%d" % B, 100, 3e-6, B, False, False),
        ("100 Gb/s, b=256", 100, 3e-6, 256, False, False),
        ("100 Gb/s, b=256, sharded update*", 100, 3e-6, 256, False, True),
    ]
    print()
    print("predicted parallel efficiency (step time on 1 node / on N nodes, per-node batch b)")
    print("%-46s" % "case" + "".join("%8s" % ("N=%d" % n) for n in nodes))
    lines = []
    for name, gbps, alpha, b, bf16, sharded in cases:
        row = []
        for n in nodes:
            tn, t1, _ = model(meas, n, gbps, alpha, b, None, bf16, sharded)
            row.append(t1 / tn)
        print("%-46s" % name + "".join("%7.0f%%" % (100 * e) for e in row))
        tn, t1, comm = model(meas, 16, gbps, alpha, b, None, bf16, sharded)
        lines.append("mpi_scaling case=%s nodes=16 efficiency=%.3f step_ms=%.2f comm_ms=%.2f" % (
            re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_"), t1 / tn, tn * 1e3, comm * 1e3))
    print("* not implemented in mille (bf16: rounding breaks the bit-identity with one process;")
    print("  sharded update: each node sums and updates 1/N of the rows and weights, then")
    print("  all-gathers the updated weights; element-wise, so it would keep the identity)")
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
