#!/usr/bin/env python3
"""mpi_scaling.py - a scaling model of `mille train` over MPI (docs/mpi.md), built from the
numbers bench/mpi_bench.sh measures on one machine, predicting the parallel efficiency on
2..64 nodes at 10 and 100 Gb/s.

    sh bench/mpi_bench.sh > bench.txt && python3 bench/mpi_scaling.py bench.txt

What one step costs on N nodes (weak scaling: each node keeps its per-node batch b, so the
global batch is G = N*b and --shards a multiple of N; every term is per step):

  compute   b * c                    c: measured compute per utterance on one node (its threads)
  dsum      the sums of the node's own shards' dense gradients (measured, constant)
  dense     reduce-scatter of the dense gradient, M bytes: the chain 0 -> 1 -> ... -> N-1 in
            pieces of s bytes (mille: about 2(N-1) pieces of at least 64 KiB), a pipeline N-1
            hops deep, (ceil(M/s) + N - 2) * (alpha + s/beta); then the last node sends each
            node its slice: (N-1) * alpha + (N-1)/N * M / beta out of its link
  sparse    ring all-gather of every shard's word gradients, p bytes per utterance:
            (N-1) * alpha + (N-1)/N * G*p / beta
  rows      every node reads the word gradients of all G utterances (to list the touched rows
            and their owners) and sums the rows it owns: G * r * (f + (1-f)/N), r the row work
            per utterance of one node, f the part of it that is the read (from the measured
            time in add_rows of 1 and of P processes: adds_P = adds_1 * (f + (1-f)/P))
  norm      all-gather of the gradient norm's 2 * 1024 group sums (16 KB: MPI gathers small
            messages in log2(N) rounds, Bruck's algorithm): ceil(log2 N) * alpha + 16 KB/beta
  update    AdamW over 1/N of the dense parameters and of the touched rows of the global batch
            (e per element, measured): e * (M/4 + rows(G) * D) / N
  gather    ring all-gathers of the updated weights: the dense slices (M bytes in all) and the
            touched rows' values (rows(G) * D * 4 bytes): 2 * (N-1) * alpha + (N-1)/N *
            (M + rows(G) * D * 4) / beta

  efficiency(N) = step time on 1 node / step time on N nodes (same per-node batch).

Assumptions (stated, not measured here): beta = 90% of the line rate; alpha = 25 us per
message on 10 Gb/s Ethernet (TCP), 3 us on 100 Gb/s (RDMA); one process per node using the
node's cores as threads (a node = this machine's cores: the compute, row and update times
are the ones measured here); the all-gathers as rings, the reduce-scatter as the chain
mille runs; communication not overlapped with compute (it is not, in mille); no stragglers;
the rows touched per step grow as batch^gamma (gamma fitted to measured batch sizes).

For comparison the table also shows the update as it was before it was sharded (every node
summing all rows and updating every parameter, the dense gradient broadcast instead of
scattered and nothing gathered), from the same measured rates.
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


def model(meas, nodes, gbps, alpha, b, sharded=True):
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
    # mille's rule (loop.c): about 2 (N-1) pieces of at least 64 KiB, one for 2 nodes
    chunk = M if nodes == 2 else max(1 << 16, math.ceil(M / (2 * (nodes - 1))))
    k = math.ceil(M / chunk)
    chain = (k + nodes - 2) * (alpha + min(chunk, M) / beta)
    sparse = (nodes - 1) * alpha + (nodes - 1) / nodes * G * meas["p"] / beta
    agree = 2 * math.ceil(math.log2(nodes)) * alpha  # the step's two small all-reduces
    if sharded:
        scatter = (nodes - 1) * alpha + (nodes - 1) / nodes * M / beta
        norm = math.ceil(math.log2(nodes)) * alpha + 2 * 1024 * 8 / beta  # small: Bruck
        gather = 2 * (nodes - 1) * alpha + \
            (nodes - 1) / nodes * (M + rows(G) * meas["dim"] * 4) / beta
        comm = chain + scatter + sparse + agree + norm + gather
        f = meas["f_scan"]
        work = G * meas["r"] * (f + (1 - f) / nodes) + upd(G) / nodes
    else:  # before: the total broadcast by the last node, all rows and weights everywhere
        comm = 2 * chain + sparse + agree
        work = G * meas["r"] + upd(G)
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
    # bytes of all ranks per step (mille counts what each rank hands to MPI): the chain
    # (P-1)*M, the scatter of the slices (P-1)/P*M, the updated dense slices M, the norm's
    # group sums 2*1024*8, the updated rows' values, and the word gradients (the rest)
    rows_bytes = many["rows_step"] * DIM * 4
    fixed = ((P - 1) + (P - 1) / P + 1) * dense_bytes + 2 * 1024 * 8 + rows_bytes
    word_bytes = max(0.0, many["bytes_step"] - fixed)
    upd_ms = one["update_ms"]
    # the share of the row work that every node repeats (reading all word gradients):
    # rows_P = rows_1 * (f + (1 - f) / P)
    f_scan = (many["adds_ms"] / one["adds_ms"] - 1 / P) / (1 - 1 / P)
    meas = {
        "c": one["compute_ms"] / 1e3 / B,
        "r": one["rows_ms"] / 1e3 / B,
        "dsum": max(0.0, one["exchange_ms"] - one["rows_ms"]) / 1e3,
        "e": upd_ms / 1e3 / (one["dense_floats"] + one["rows_step"] * DIM),
        "p": word_bytes / B,
        "f_scan": min(1.0, max(0.0, f_scan)),
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
    print("measured (bench/mpi_bench.sh, batch %d, 1 process x %d threads): compute %.3f ms/utt, "
          "row sums %.4f ms/utt (of it read by every node: f = %.2f, from the %d-process row "
          "time), dense shard sums %.2f ms/step, update %.2f ms/step (%.1f ns per element), "
          "dense gradient %.2f MB, word gradients %.0f bytes/utt, %.0f rows/utt" % (
              B, one["threads"], meas["c"] * 1e3, meas["r"] * 1e3, meas["f_scan"], P,
              meas["dsum"] * 1e3, upd_ms, meas["e"] * 1e9, dense_bytes / 1e6, meas["p"],
              meas["rows_per_utt"]))
    per_rank = many["bytes_step"] / P
    print("measured here: %d processes x 1 thread %.0f utt/s vs 1 process x %d threads %.0f utt/s "
          "(%.1f%%); bytes per step, all ranks %.2f MB (%.2f MB per rank) = %.2f x the dense "
          "gradient + %.2f MB updated rows + %.1f KB word gradients + 16 KB norm; the dense "
          "model plus the touched rows is %.2f MB: the bytes each rank sends are %.0f%% of it" % (
              P, many["utt_per_s"], one["threads"], one["utt_per_s"],
              100 * many["utt_per_s"] / one["utt_per_s"], many["bytes_step"] / 1e6,
              per_rank / 1e6, ((P - 1) + (P - 1) / P + 1), rows_bytes / 1e6, word_bytes / 1e3,
              (dense_bytes + one["rows_step"] * (4 + 4 * DIM)) / 1e6,
              100 * per_rank / (dense_bytes + one["rows_step"] * (4 + 4 * DIM))))
    nodes = [2, 4, 8, 16, 32, 64]
    cases = [  # name, Gb/s, latency, per-node batch, sharded update
        ("10 Gb/s, b=%d" % B, 10, 25e-6, B, True),
        ("10 Gb/s, b=256", 10, 25e-6, 256, True),
        ("100 Gb/s, b=%d" % B, 100, 3e-6, B, True),
        ("100 Gb/s, b=256", 100, 3e-6, 256, True),
        ("10 Gb/s, b=%d, update not sharded (before)" % B, 10, 25e-6, B, False),
        ("100 Gb/s, b=%d, update not sharded (before)" % B, 100, 3e-6, B, False),
    ]
    print()
    print("predicted parallel efficiency (step time on 1 node / on N nodes, per-node batch b)")
    print("%-46s" % "case" + "".join("%8s" % ("N=%d" % n) for n in nodes))
    lines = []
    for name, gbps, alpha, b, sharded in cases:
        row = []
        for n in nodes:
            tn, t1, _ = model(meas, n, gbps, alpha, b, sharded)
            row.append(t1 / tn)
        print("%-46s" % name + "".join("%7.0f%%" % (100 * e) for e in row))
        tn, t1, comm = model(meas, 16, gbps, alpha, b, sharded)
        lines.append("mpi_scaling case=%s nodes=16 efficiency=%.3f step_ms=%.2f comm_ms=%.2f" % (
            re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_"), t1 / tn, tn * 1e3, comm * 1e3))
    print("(above 100%: each node updates 1/N of the parameters one node updates in full)")
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
