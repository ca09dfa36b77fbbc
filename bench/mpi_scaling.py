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
  replay    every node adds the word gradients of all N*b utterances to the embedding rows
            itself (for bit-identical results): N * b * r, r measured per utterance (upper
            bound: the whole one-process reduction time of a step, divided by b)
  update    AdamW over the dense parameters and the touched rows, on every node: the rows of
            the global batch grow at most linearly with N (no overlap assumed: pessimistic)

  efficiency(N) = step time on 1 node / step time on N nodes (same per-node batch).

Assumptions (stated, not measured here): beta = 90% of the line rate; alpha = 25 us per
message on 10 Gb/s Ethernet (TCP), 3 us on 100 Gb/s (RDMA); one process per node using the
node's cores as threads; compute per utterance as measured on this machine's cores;
communication not overlapped with compute (it is not, in mille); no stragglers.

Levers, each shown in the table: a larger per-node batch (b = 256: more compute per byte; the
global batch grows, which changes the optimization: the learning rate needs re-tuning, not
done here); bf16 dense gradients (half the dense bytes; NOT implemented, because rounding
partial sums breaks the bit-identity with one process).
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


def model(meas, nodes, gbps, alpha, b, chunk, bf16=False):
    """Step time (s) on `nodes` nodes and on 1 node; meas holds per-utterance costs."""
    beta = 0.9 * gbps * 1e9 / 8
    M = meas["dense_bytes"] * (0.5 if bf16 else 1.0)
    comp = b * meas["c"]
    rows = min(meas["buckets"], nodes * b * meas["rows_per_utt"])
    upd = meas["e"] * (meas["dense_floats"] + rows * meas["dim"])
    upd1 = meas["e"] * (meas["dense_floats"] + min(meas["buckets"], b * meas["rows_per_utt"]) * meas["dim"])
    replay = nodes * b * meas["r"]
    t1 = comp + upd1 + b * meas["r"]
    if nodes == 1:
        return t1, t1, 0.0
    if chunk is None:  # mille's rule (loop.c): about N-1 pieces of at least 256 KiB
        chunk = max(1 << 18, math.ceil(M / (nodes - 1)))
    k = math.ceil(M / chunk)
    dense = 2 * (k + nodes - 2) * (alpha + chunk / beta)
    sparse = (nodes - 1) * alpha + (nodes - 1) / nodes * nodes * b * meas["p"] / beta
    tn = comp + upd + replay + dense + sparse
    return tn, t1, dense + sparse


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: mpi_scaling.py BENCH_OUTPUT (the lines of bench/mpi_bench.sh)")
    runs = parse(sys.argv[1])
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
        "r": one["exchange_ms"] / 1e3 / B,
        "e": upd_ms / 1e3 / (one["dense_floats"] + one["rows_step"] * DIM),
        "p": word_bytes / B,
        "dense_floats": one["dense_floats"],
        "dense_bytes": dense_bytes,
        "rows_per_utt": one["rows_step"] / B,
        "dim": DIM,
        "buckets": BUCKETS,
    }
    print("measured (bench/mpi_bench.sh, batch %d): compute %.3f ms/utt, reduction %.3f ms/utt, "
          "update %.2f ms/step, dense gradient %.2f MB, word gradients %.0f bytes/utt, "
          "%.0f rows/utt" % (B, meas["c"] * 1e3, meas["r"] * 1e3, upd_ms, dense_bytes / 1e6,
                             meas["p"], meas["rows_per_utt"]))
    print("measured here: %d processes x 1 thread %.0f utt/s vs 1 process x %d threads %.0f utt/s "
          "(%.1f%%); bytes per step %.2f MB = %.2f x (dense gradient, all ranks) + %.1f KB word "
          "gradients (the touched rows would be %.2f MB)" % (
              P, many["utt_per_s"], one["threads"], one["utt_per_s"],
              100 * many["utt_per_s"] / one["utt_per_s"], many["bytes_step"] / 1e6,
              many["bytes_step"] / dense_bytes, word_bytes / 1e3,
              one["rows_step"] * (4 + 4 * DIM) / 1e6))
    nodes = [2, 4, 8, 16, 32, 64]
    cases = [
        ("10 Gb/s, b=%d" % B, 10, 25e-6, B, None, False),
        ("10 Gb/s, b=256" , 10, 25e-6, 256, None, False),
        ("10 Gb/s, b=512" , 10, 25e-6, 512, None, False),
        ("10 Gb/s, b=256, bf16 dense (not implemented)", 10, 25e-6, 256, None, True),
        ("100 Gb/s, b=%d" % B, 100, 3e-6, B, None, False),
        ("100 Gb/s, b=256", 100, 3e-6, 256, None, False),
    ]
    print()
    print("predicted parallel efficiency (step time on 1 node / on N nodes, per-node batch b)")
    print("%-46s" % "case" + "".join("%8s" % ("N=%d" % n) for n in nodes))
    for name, gbps, alpha, b, chunk, bf16 in cases:
        row = []
        for n in nodes:
            tn, t1, _ = model(meas, n, gbps, alpha, b, chunk, bf16)
            row.append(t1 / tn)
        print("%-46s" % name + "".join("%7.0f%%" % (100 * e) for e in row))
        tn, t1, comm = model(meas, 16, gbps, alpha, b, chunk, bf16)
        print("mpi_scaling case=%s nodes=16 efficiency=%.3f step_ms=%.2f comm_ms=%.2f" % (
            re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_"), t1 / tn, tn * 1e3, comm * 1e3))


if __name__ == "__main__":
    main()
