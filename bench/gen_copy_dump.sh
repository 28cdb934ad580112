#!/bin/bash
# Usage: bench/gen_copy_dump.sh OUT ROWS   (e.g. 8000000 rows: 416 MiB). For BENCHMARKS.md,
# "Counting tables while decoding": the table scanner's worst case.
# pg_dump-like text: one COPY block of short rows (the scanner's worst case: a newline every ~60 bytes)
set -e
out=$1; rows=$2
{
printf -- '--\n-- PostgreSQL database dump\n--\n\nSET statement_timeout = 0;\n\nCREATE TABLE public.log (\n    id integer NOT NULL,\n    ts timestamp without time zone NOT NULL,\n    message character varying(200) NOT NULL\n);\n\nCOPY public.log (id, ts, message) FROM stdin;\n'
awk -v n="$rows" 'BEGIN { for (i = 1; i <= n; i++) printf "%d\t2026-11-%02d %02d:%02d:%02d\torder %d payment captured\n", i, 1 + i % 28, i % 24, i % 60, (i * 7) % 60, i % 300 }'
printf '\\.\n\n\n--\n-- PostgreSQL database dump complete\n--\n\n'
} > "$out"
