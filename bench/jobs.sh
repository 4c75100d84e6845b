#!/usr/bin/env bash
# The job queue's figures (issue 12), as recorded in bench/README.md ("Job queue"): the drain at three worker
# concurrencies, pickup latency and cross-instance event latency on a fresh PostgreSQL database, then the drain on
# SQLite. Usage: bench/jobs.sh [runs]. PG_ADMIN_URL names a database to create the benchmark's database from.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-3}
admin=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/alx-release}

cargo build --release --quiet --example jobs
bench=$CARGO_TARGET_DIR/release/examples/jobs

psql "$admin" -qc "DROP DATABASE IF EXISTS alx_bench_jobs" -c "CREATE DATABASE alx_bench_jobs"
export DATABASE_URL=${admin%/*}/alx_bench_jobs
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for concurrency in 100 500 2000; do
  "$bench" drain --runs "$runs" --concurrency "$concurrency"
done
"$bench" latency --runs "$runs"
"$bench" latency --runs "$runs" --elsewhere   # no handoff: enqueued where no worker runs
"$bench" events --runs "$runs"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

sqlite=$(mktemp -d)
trap 'rm -rf "$sqlite"' EXIT
DATABASE_URL=sqlite://$sqlite/jobs.db "$bench" drain --runs "$runs"
