# Steady kernel rate of one `busy` program: completed kernels per second between its first and last "AT" report
# (start-up and the final drain excluded). Usage: awk -f steady-rate.awk FILE
$1 == "AT" { if (!n++) { t0 = $2; k0 = $3 } t1 = $2; k1 = $3 }
END { if (n >= 2 && t1 > t0) printf "%.1f\n", (k1 - k0) / ((t1 - t0) / 1e9) }
