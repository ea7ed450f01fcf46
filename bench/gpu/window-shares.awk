# Shares of concurrent `busy` programs over the window in which all of them ran: each file's "AT <ns> <kernels>"
# lines give its completed kernels over time; the window runs from the latest first report to the earliest last
# one, and each program's kernels in it are interpolated at both ends. Prints the shares in %, slash-separated,
# or nothing when the programs did not overlap.
# Usage: awk -f window-shares.awk FILE...
$1 == "AT" { n[FILENAME]++; t[FILENAME, n[FILENAME]] = $2; k[FILENAME, n[FILENAME]] = $3
             if (!(FILENAME in seen)) { seen[FILENAME] = 1; order[++files] = FILENAME } }
function at(f, time,    i) {
  for (i = 1; i < n[f]; i++)
    if (t[f, i + 1] >= time) return k[f, i] + (k[f, i + 1] - k[f, i]) * (time - t[f, i]) / (t[f, i + 1] - t[f, i])
  return k[f, n[f]]
}
END {
  if (files == 0) exit
  lo = 0; hi = -1
  for (i = 1; i <= files; i++) { f = order[i]; if (n[f] < 2) exit
    if (lo == 0 || t[f, 1] > lo) lo = t[f, 1]
    if (hi < 0 || t[f, n[f]] < hi) hi = t[f, n[f]] }
  if (hi <= lo) exit
  total = 0
  for (i = 1; i <= files; i++) { f = order[i]; got[i] = at(f, hi) - at(f, lo); total += got[i] }
  if (total <= 0) exit
  out = ""
  for (i = 1; i <= files; i++) out = out (i > 1 ? "/" : "") sprintf("%.1f", 100 * got[i] / total)
  printf "%s %% (over %.1f s)\n", out, (hi - lo) / 1e9
}
