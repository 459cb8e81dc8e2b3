set terminal pngcairo size 1800,880 font 'sans,10'
set output "sync-spin-cs_ns100-out_ns200.png"
set termoption noenhanced
set datafile missing '?'
set grid
set format y '%g'
set multiplot layout 2,3 title "bench_sync: spin locks, acquisitions/s (cs_ns:100/out_ns:200)" font ',13'
unset logscale
set xrange [*:*]; set yrange [*:*]
set title "clh"
set xlabel "threads"; set ylabel "Mops/s (all threads)"
set key below font ',8'
set yrange [0:*]
set logscale x 2
set xtics ("1" 1, "2" 2)
set xrange [0.8695652173913044:2.3]
$p0s0 << EOD
1.0 3.3465785737001323
2.0 6.670207644633438
EOD
$p0s1 << EOD
1.0 3.331920407572953
2.0 6.661476915810031
EOD
plot $p0s0 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#1f77b4' title "keel", \
     $p0s1 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#d62728' title "ck"
unset logscale
set xrange [*:*]; set yrange [*:*]
set title "mcs"
set xlabel "threads"; set ylabel "Mops/s (all threads)"
set key below font ',8'
set yrange [0:*]
set logscale x 2
set xtics ("1" 1, "2" 2)
set xrange [0.8695652173913044:2.3]
$p1s0 << EOD
1.0 3.347980128659631
2.0 6.646596713810214
EOD
$p1s1 << EOD
1.0 3.3466065972905383
2.0 6.66736664882222
EOD
$p1s2 << EOD
1.0 3.3478928631005953
2.0 6.672143695927409
EOD
$p1s3 << EOD
1.0 3.3504602895933226
2.0 6.593276755933743
EOD
plot $p1s0 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#1f77b4' title "keel", \
     $p1s1 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#2ca02c' title "keel_node", \
     $p1s2 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#d62728' title "ck", \
     $p1s3 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#ff7f0e' title "tbb"
unset logscale
set xrange [*:*]; set yrange [*:*]
set title "mutex"
set xlabel "threads"; set ylabel "Mops/s (all threads)"
set key below font ',8'
set yrange [0:*]
set logscale x 2
set xtics ("1" 1, "2" 2)
set xrange [0.8695652173913044:2.3]
$p2s0 << EOD
1.0 3.3298789029231735
2.0 5.068068915729114
EOD
plot $p2s0 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#9467bd' title "std"
unset logscale
set xrange [*:*]; set yrange [*:*]
set title "tas"
set xlabel "threads"; set ylabel "Mops/s (all threads)"
set key below font ',8'
set yrange [0:*]
set logscale x 2
set xtics ("1" 1, "2" 2)
set xrange [0.8695652173913044:2.3]
$p3s0 << EOD
1.0 3.348057426711063
2.0 6.683882351474512
EOD
$p3s1 << EOD
1.0 3.3485583852966845
2.0 6.690532939492128
EOD
$p3s2 << EOD
1.0 3.34514499836949
2.0 6.663398694323603
EOD
plot $p3s0 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#1f77b4' title "keel", \
     $p3s1 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#8c564b' title "pthread", \
     $p3s2 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#ff7f0e' title "tbb"
unset logscale
set xrange [*:*]; set yrange [*:*]
set title "ticket"
set xlabel "threads"; set ylabel "Mops/s (all threads)"
set key below font ',8'
set yrange [0:*]
set logscale x 2
set xtics ("1" 1, "2" 2)
set xrange [0.8695652173913044:2.3]
$p4s0 << EOD
1.0 3.343345871521456
2.0 6.669297042165806
EOD
$p4s1 << EOD
1.0 3.2892478126105167
2.0 6.645927476312025
EOD
plot $p4s0 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#1f77b4' title "keel", \
     $p4s1 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#d62728' title "ck"
unset logscale
set xrange [*:*]; set yrange [*:*]
set title "ttas"
set xlabel "threads"; set ylabel "Mops/s (all threads)"
set key below font ',8'
set yrange [0:*]
set logscale x 2
set xtics ("1" 1, "2" 2)
set xrange [0.8695652173913044:2.3]
$p5s0 << EOD
1.0 3.3487567118760087
2.0 6.657051283698535
EOD
$p5s1 << EOD
1.0 3.342499988709946
2.0 6.664029751849394
EOD
$p5s2 << EOD
1.0 3.3478691577424846
2.0 6.666577420504294
EOD
$p5s3 << EOD
1.0 3.346995160260655
2.0 6.586577373457723
EOD
plot $p5s0 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#1f77b4' title "keel", \
     $p5s1 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#e377c2' title "keel_b2", \
     $p5s2 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#7f7f7f' title "keel_noyield", \
     $p5s3 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#d62728' title "ck"
unset multiplot
