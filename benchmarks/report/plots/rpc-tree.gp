set terminal pngcairo size 600,440 font 'sans,10'
set output "rpc-tree.png"
set termoption noenhanced
set datafile missing '?'
set grid
set format y '%g'
set multiplot layout 1,1 title "bench_rpc: 1,000-node tree per call (log scale)" font ',13'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
unset logscale
set xrange [*:*]; set yrange [*:*]
set title "mean ns per call"
set xlabel ""; set ylabel "ns per call"
set key below font ',8'
set logscale y
set xtics norotate font ',8'
$p0 << EOD
"tree, prebuilt" 314240.99220476515 2695.2553185044294 36492.59179992441 32386.190400029594
"tree, built per call" ? 69684.81442531363 112329.09456968545 109847.34668546185
EOD
plot $p0 using 2:xtic(1) lc rgb '#1f77b4' title "serialise + uds", \
     $p0 using 3:xtic(1) lc rgb '#d62728' title "keel busy_poll", \
     $p0 using 4:xtic(1) lc rgb '#2ca02c' title "keel hybrid", \
     $p0 using 5:xtic(1) lc rgb '#ff7f0e' title "keel futex"
unset multiplot
