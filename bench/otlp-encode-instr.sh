#!/bin/sh
# Instructions per request (two spans) to queue them on the worker and to make
# the body on the exporter, for OTLP JSON (do_pack, enc_json) and protobuf
# (do_pb, enc_pb): callgrind counts each of bench/otlp-encode.c's functions
# (--toggle-collect), no server, no network.
#   sh bench/otlp-encode-instr.sh
set -e
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cc -std=c11 -O2 -g -D_GNU_SOURCE -Wall -Wextra -Werror -o "$out/enc" bench/otlp-encode.c \
  shared/trace.c shared/otlp_pb.c shared/buf.c shared/num_text.c -lm
"$out/enc"
# copies as the vector loop, not `rep movsb` counted per byte (as bench/gateway-instr.mjs)
export GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=4294967295:glibc.cpu.x86_rep_stosb_threshold=4294967295
for f in do_pack enc_json do_pb enc_pb; do
  valgrind --tool=callgrind --callgrind-out-file="$out/cg.$f" --toggle-collect=$f "$out/enc" >/dev/null 2>&1
  echo "$f: $(grep -E '^(summary|totals):' "$out/cg.$f" | head -1 | awk '{printf "%.0f", $2 / 1000}') instructions/request"
done
