set terminal pngcairo size 600,440 font 'sans,10'
set output "iospec-bound.png"
set termoption noenhanced
set datafile missing '?'
set grid
set format y '%g'
set multiplot layout 1,1 title "bench_iospec: the QD-16 io_uring bound's time / this case's" font ',13'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
unset logscale
set xrange [*:*]; set yrange [*:*]
set title "cold cache"
set xlabel ""; set ylabel "of_qd16"
set key below font ',8'
set yrange [0:*]
set xtics rotate by -35 font ',8'
$p0 << EOD
"random_4k" 1.224723950624389 1.2446572010116286 1.0498607716522788
"btree_lookup" 1.0464830172691157 0.8049179786482746 0.8596895725251963
"btree_scan" 1.200087608523328 1.2595703817701247 1.2072756919525485
"sst_get" 0.757284112502601 0.7304509036446416 0.6967795649543405
EOD
plot $p0 using 2:xtic(1) lc rgb '#1f77b4' title "io_uring_one_by_one/qd:16", \
     $p0 using 3:xtic(1) lc rgb '#d62728' title "speculative/depth:-1", \
     $p0 using 4:xtic(1) lc rgb '#2ca02c' title "speculative/depth:16", \
     1.0 with lines dt 2 lw 1.5 lc 'black' title "QD-16 bound", \
     0.7 with lines dt 3 lw 1.5 lc 'black' title "goal 0.7"
unset multiplot
