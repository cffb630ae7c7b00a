"""``kernels benchmark``: time a kernel's ``benchmarks/benchmark*.py`` workloads."""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "benchmark",
        help="run a kernel's benchmarks (benchmarks/benchmark*.py)",
        description="Load the kernel, run every benchmark_<workload> of the Benchmark subclasses in its "
        "benchmarks/benchmark*.py scripts (warm-up calls, then timed iterations with device "
        "synchronisation), check verify_<workload> references, and report. TARGET is a local kernel "
        "directory (repository root with build/ and benchmarks/, or its build/) or ORG/NAME on the Hub "
        "(also ORG/NAME@v<N> or ORG/NAME@<branch>; default: the highest v<N> branch). Exit status 1 "
        "when a verification fails.",
    )
    p.add_argument("target", metavar="REPO_OR_DIR", help="ORG/NAME[@REF] or a local kernel directory")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--version", type=int, help="major version (branch v<N>)")
    which.add_argument("--revision", "--branch", dest="revision", help="branch, tag or commit")
    p.add_argument("--warmup", type=int, default=10, help="untimed calls before timing (default 10)")
    p.add_argument("--iterations", type=int, default=100, help="timed calls per workload (default 100)")
    p.add_argument("--device", help="run on this device instead of each benchmark class's own")
    p.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    p.add_argument("--output", metavar="FILE", help="also write the JSON results to FILE")
    p.add_argument("--plot", metavar="FILE", help="write an SVG chart of the results to FILE")
    p.add_argument("--trust-remote-code", action="store_true",
                   help="run a Hub kernel (and its benchmark scripts) whose publisher is not a trusted kernel "
                        "publisher; review its code first")
    p.set_defaults(handler=_benchmark)


def _benchmark(args: argparse.Namespace) -> int:
    from ..benchmark_run import BenchmarkError, format_table, load_target, run_benchmarks

    if args.warmup < 0 or args.iterations < 1:
        raise BenchmarkError(f"--warmup must be >= 0 and --iterations >= 1 (got {args.warmup}, {args.iterations})")
    kernel, bench_dir = load_target(args.target, version=args.version, revision=args.revision,
                                    trust_remote_code=args.trust_remote_code)
    report = run_benchmarks(
        kernel, bench_dir, warmup=args.warmup, iterations=args.iterations, device=args.device,
        progress=None if args.json else (lambda name: print(f"running {name} ...", file=sys.stderr)),
    )
    data = report.to_json()
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(format_table(report))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
    if args.plot:
        from ..benchmark_plot import write_svg

        write_svg(report.results, args.plot, title=f"kernels benchmark: {args.target}")
        if not args.json:
            print(f"plot written to {args.plot}")
    failed = [r.workload for r in report.results if r.verified is False]
    if failed:
        print(f"kernels benchmark: verification failed: {', '.join(failed)} "
              f"(output differs from the verify_ reference beyond atol=1e-2)", file=sys.stderr)
        return 1
    return 0
