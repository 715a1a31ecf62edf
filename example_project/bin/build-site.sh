#!/bin/sh
# build-site.sh SRC OUT TITLE: one HTML page per SRC/*.txt (first line = heading),
# an index linking them all, and /healthz. Fails on an empty page or a leftover TODO.
set -eu
src=$1 out=$2 title=$3
mkdir -p "$out"
index="$out/index.html"
printf '<!doctype html>\n<title>%s</title>\n<h1>%s</h1>\n<ul>\n' "$title" "$title" > "$index"
for page in "$src"/*.txt; do
    name=$(basename "$page" .txt)
    if [ ! -s "$page" ]; then echo "build-site: $page is empty" >&2; exit 1; fi
    if grep -q TODO "$page"; then echo "build-site: $page still has a TODO" >&2; exit 1; fi
    heading=$(head -n 1 "$page")
    {
        printf '<!doctype html>\n<title>%s - %s</title>\n<h1>%s</h1>\n' "$heading" "$title" "$heading"
        tail -n +2 "$page" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/^$/<p>/'
    } > "$out/$name.html"
    printf '<li><a href="%s.html">%s</a></li>\n' "$name" "$heading" >> "$index"
done
printf '</ul>\n' >> "$index"
echo ok > "$out/healthz"
find "$out" -type d -exec chmod 0755 {} +
find "$out" -type f -exec chmod 0644 {} +
echo "build-site: $(ls "$out" | wc -l) files in $out"
