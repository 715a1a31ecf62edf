#!/bin/sh
# Creates entries whose names stress tar headers: unicode, spaces, odd bytes, long names.
set -eu
mkdir -p /names && cd /names
echo cafe > 'café.txt'
mkdir -p '日本語' && echo nihongo > '日本語/ファイル.txt'
echo whale > '🐳'
echo spaced > 'with space'
echo trailing > 'trailing space '
echo dash > ./-leading-dash
echo quote > "it's \"quoted\""
echo back > 'back\slash'
echo star > 'star*?[x]'
echo nl > 'new
line'
touch .hidden ..dots
# A 255-byte component, the longest ext4 allows.
long=$(printf 'n%.0s' $(seq 1 255))
echo long > "$long"
# Paths of exactly 100 and 101 bytes (the ustar name field is 100 bytes).
d=/names/p
mkdir -p $d
n100=$(printf 'a%.0s' $(seq 1 $((100 - 9))))
echo a > "$d/$n100"
n101=$(printf 'b%.0s' $(seq 1 $((101 - 9))))
echo b > "$d/$n101"
# A deep tree whose paths exceed 255 and 1024 bytes.
deep=/names/deep
i=0
while [ $i -lt 12 ]; do
  deep="$deep/$(printf 'd%.0s' $(seq 1 100))$i"
  i=$((i + 1))
done
mkdir -p "$deep"
echo deep > "$deep/file-at-the-bottom"
# Symlink and hardlink with long targets.
ln -s "$deep/file-at-the-bottom" /names/long-symlink
ln "$deep/file-at-the-bottom" /names/long-hardlink
ln -s "$long" /names/link-to-long
# Unicode in a symlink target and in a directory chain.
ln -s '日本語/ファイル.txt' /names/unicode-link
mkdir -p '/names/ünï/çødé' && echo x > '/names/ünï/çødé/ß'
