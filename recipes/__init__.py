"""The scripts that produce this repository's own reports (reports/minilm-cpu, minilm-qemu-arm, sst2-minilm): each
runs the user-facing commands (bench.sweep, dynabert train/evaluate, bench.pareto) and writes a README whose prose
is generated from the records and the run's settings. Nothing in bench/, dynabert/ or devices/ imports this.
"""
