"""scripts/bench-report's parts: Google Benchmark JSON (gbench), gnuplot plots (plot) and
the benchmark suites it runs and draws (suites)."""
