# Plots of bench/run.sh's results: gnuplot -e "dir='DATA'; plots='PNGS'" bench/plot.gp
# (run.sh does this). Reads the .dat files report.py wrote; writes bench-*.png into plots.
set terminal pngcairo size 1400,640 font "DejaVu Sans,11"
set datafile separator whitespace
set key top right
set grid ytics

# --- the main table, each path relative to direct (latency inverted: higher is better everywhere) ---
if (system("test -s ".dir."/main-ratios.dat && echo y") eq "y") {
    set output plots."/bench-main.png"
    set title "Relative to direct nbdkit (= 1.0; higher is better; latency shown as direct/path)"
    set style data histograms
    set style histogram clustered gap 1
    set style fill solid 0.85 border -1
    set boxwidth 0.9
    set xtics rotate by -25 scale 0 nomirror
    set yrange [0:*]
    set offsets 0, 0, 0.1, 0   # room above the direct bars, which are all 1.0
    set ylabel "ratio to direct"
    set key outside right top vertical
    plot for [c=2:7] dir."/main-ratios.dat" using c:xtic(1) title columnheader(c)
    unset output
}

# --- scaling: 4K random read IOPS by queue depth, sequential read MiB/s by request size ---
if (system("test -s ".dir."/scaling-qd.dat && echo y") eq "y") {
    set output plots."/bench-scaling.png"
    reset
    set terminal pngcairo size 1400,560 font "DejaVu Sans,11"
    set multiplot layout 1,2
    set grid
    set logscale x 2
    set key top left
    set style data linespoints
    set title "4K random read (fio, nbd engine)"
    set xlabel "queue depth"; set ylabel "IOPS"
    set xrange [0.7:360]
    set yrange [0:*]
    plot for [c=2:4] dir."/scaling-qd.dat" using 1:c title columnheader(c) lw 2 pt 7
    set title "Sequential read at QD16 (fio)"
    set xlabel "request size"; set ylabel "MiB/s"
    set xrange [2.8:46000]
    plot for [c=3:5] dir."/scaling-bs.dat" using 2:c:xtic(1) title columnheader(c) lw 2 pt 7
    unset multiplot
    unset output
}

# --- memory: the proxy's RSS with a client far faster than its upstream, one line style per heap setting ---
variants = system("cd '".dir."' && ls memory-slow-rss-*.tsv 2>/dev/null | sed 's/^memory-slow-rss-//; s/[.]tsv$//'")
if (words(variants) > 0) {
    set output plots."/bench-memory.png"
    reset
    set terminal pngcairo size 1000,520 font "DejaVu Sans,11"
    set grid
    set title "flexnbd-proxy VmRSS, fio writing at QD256 into a 100 MiB/s upstream"
    set xlabel "seconds"; set ylabel "VmRSS (MiB)"
    set yrange [0:*]
    set key top left
    series(i) = dir."/memory-slow-rss-".word(variants, i).".tsv"
    plot for [i=1:words(variants)] series(i) index 0 using 1:2 with lines lw 2 lc 1 dt i \
             title word(variants, i).": 1 client, 1 MiB writes", \
         for [i=1:words(variants)] series(i) index 1 using 1:2 with lines lw 2 lc 2 dt i \
             title word(variants, i).": 4 clients, 256 KiB writes"
    unset output
}
