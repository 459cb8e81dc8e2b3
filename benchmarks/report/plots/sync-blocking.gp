set terminal pngcairo size 1800,880 font 'sans,10'
set output "sync-blocking.png"
set termoption noenhanced
set datafile missing '?'
set grid
set format y '%g'
set multiplot layout 2,3 title "bench_sync: blocking primitives, operations/s" font ',13'
unset logscale
set xrange [*:*]; set yrange [*:*]
set title "bounded/semaphore/units:2"
set xlabel "threads"; set ylabel "Mops/s (all threads)"
set key below font ',8'
set yrange [0:*]
set logscale x 2
set xtics ("1" 1, "2" 2)
set xrange [0.8695652173913044:2.3]
$p0s0 << EOD
1.0 3.2975148029088657
2.0 5.5391762533085
EOD
$p0s1 << EOD
1.0 3.345771107513811
2.0 6.645013004657926
EOD
plot $p0s0 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#1f77b4' title "std", \
     $p0s1 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#d62728' title "keel"
unset logscale
set xrange [*:*]; set yrange [*:*]
set title "read_mostly/shared_mutex/write_pct:10"
set xlabel "threads"; set ylabel "Mops/s (all threads)"
set key below font ',8'
set yrange [0:*]
set logscale x 2
set xtics ("1" 1, "2" 2)
set xrange [0.8695652173913044:2.3]
$p1s0 << EOD
1.0 3.985621550173809
2.0 7.6328832988116595
EOD
$p1s1 << EOD
1.0 3.935903690543456
2.0 7.814126351768367
EOD
$p1s2 << EOD
1.0 3.9571744652543104
2.0 7.296540762014558
EOD
plot $p1s0 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#1f77b4' title "std", \
     $p1s1 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#2ca02c' title "keel_writers", \
     $p1s2 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#ff7f0e' title "keel_readers"
unset logscale
set xrange [*:*]; set yrange [*:*]
set title "throughput/mutex/cs_ns:0/out_ns:200"
set xlabel "threads"; set ylabel "Mops/s (all threads)"
set key below font ',8'
set yrange [0:*]
set logscale x 2
set xtics ("1" 1, "2" 2)
set xrange [0.8695652173913044:2.3]
$p2s0 << EOD
1.0 4.991689584935765
2.0 5.7353554296265035
EOD
$p2s1 << EOD
1.0 4.994836013864756
2.0 7.236727500187592
EOD
$p2s2 << EOD
1.0 5.0046871977549365
2.0 9.95815422607537
EOD
$p2s3 << EOD
1.0 5.00599709656933
2.0 9.961935093216217
EOD
$p2s4 << EOD
1.0 5.0020836480396955
2.0 9.954314043034442
EOD
plot $p2s0 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#1f77b4' title "std", \
     $p2s1 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#9467bd' title "keel_futex", \
     $p2s2 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#8c564b' title "keel_hybrid", \
     $p2s3 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#e377c2' title "keel_futex_spin0", \
     $p2s4 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#7f7f7f' title "keel_futex_spin100"
unset logscale
set xrange [*:*]; set yrange [*:*]
set title "throughput/mutex/cs_ns:100/out_ns:200"
set xlabel "threads"; set ylabel "Mops/s (all threads)"
set key below font ',8'
set yrange [0:*]
set logscale x 2
set xtics ("1" 1, "2" 2)
set xrange [0.8695652173913044:2.3]
$p3s0 << EOD
1.0 3.322396926417093
2.0 4.975032182633143
EOD
$p3s1 << EOD
1.0 3.3449465739218103
2.0 6.587246242979065
EOD
$p3s2 << EOD
1.0 3.339265263507529
2.0 6.456288531333335
EOD
$p3s3 << EOD
1.0 3.3462920392245836
2.0 6.233977726653353
EOD
$p3s4 << EOD
1.0 3.3455549313921136
2.0 6.609395614593966
EOD
plot $p3s0 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#1f77b4' title "std", \
     $p3s1 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#9467bd' title "keel_futex", \
     $p3s2 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#8c564b' title "keel_hybrid", \
     $p3s3 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#e377c2' title "keel_futex_spin0", \
     $p3s4 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#7f7f7f' title "keel_futex_spin100"
unset multiplot
