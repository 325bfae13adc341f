#!/usr/bin/env bash
# Prints the package dependency graph of relaybox's main code (what each package imports of the
# others, read from the compiled classes by the JDK's jdeps) and fails when the packages form a
# cycle, naming it. The README's "How a message flows" shows its output.
#
# Usage (from anywhere in the checkout):  .ci/package-graph.sh [--no-build]
#   --no-build   use the classes already in */target/classes instead of compiling first
#   MVN="mvn -o" .ci/package-graph.sh   to build offline
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != "--no-build" ]; then
  ${MVN:-mvn} -q -B -pl queue,relay,admin-cli -am compile
fi
classes=(queue/target/classes relay/target/classes admin-cli/target/classes)
for c in "${classes[@]}"; do
  [ -d "$c" ] || { echo "no $c: build first (or drop --no-build)" >&2; exit 2; }
done

edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
# -filter:none keeps dependencies inside one jar/directory, which jdeps hides by default.
jdeps -verbose:package -filter:none "${classes[@]}" \
  | awk '$2 == "->" && $1 ~ /^relaybox/ && $3 ~ /^relaybox/ && $1 != $3 { print $1, $3 }' \
  | sed 's/relaybox\.//g' | sort -u > "$edges"

# One line a package: what it depends on (names without the "relaybox." prefix).
awk '{ deps[$1] = deps[$1] " " $2; seen[$1] = 1; seen[$2] = 1 }
     END { for (p in seen) printf "%-20s ->%s\n", p, (p in deps ? deps[p] : "") }' "$edges" | sort

# tsort exits non-zero and names the packages of a loop when there is one.
if ! loops=$(tsort < "$edges" 2>&1 >/dev/null); then
  echo "CYCLE between packages:" >&2
  echo "$loops" | sed 's/^tsort: //' >&2
  exit 1
fi
echo "no cycle"
