"""clvlib's speed and memory benchmarks, measured against the tools users would otherwise pick.

One command runs them all and writes ``benchmarks/RESULTS.md``::

    make bench                 # everything (about an hour on 2 cores)
    make bench BENCH=quick     # a few minutes: smaller data, peers on the CDNOW sample only
    python -m benchmarks.run --quick --only fit   # a subset, by case-name substring

Every case runs in a fresh Python subprocess (imports, compilation and memory measured as a user
would meet them), with its own PyTensor/numba compile cache under a temporary folder, so "cold"
means an empty cache and "warm" a second run on the cache the first one left. clvlib's
log-density kernels are C compiled when clvlib is installed: no run compiles them, and
installing clvlib (`make`) takes the few seconds that compiling them costs. Peak memory is the
largest resident set size of the subprocess and all its children (sampler workers, notebook
kernels), sampled every 50 ms.

Modules: :mod:`benchmarks.run` (the command and the tables), :mod:`benchmarks.cases` (what each
subprocess does), :mod:`benchmarks.data` (the data every case shares), :mod:`benchmarks.probe`
(subprocesses, time limits and peak memory).
"""
