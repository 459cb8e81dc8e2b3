set terminal pngcairo size 1800,880 font 'sans,10'
set output "sync-spin-cs_ns0-out_ns200.png"
set termoption noenhanced
set datafile missing '?'
set grid
set format y '%g'
set multiplot layout 2,3 title "bench_sync: spin locks, acquisitions/s (cs_ns:0/out_ns:200)" font ',13'
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
1.0 5.0028684831392365
2.0 9.95230970832279
EOD
$p0s1 << EOD
1.0 5.013944755030832
2.0 9.95656944100561
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
1.0 5.0121304434686635
2.0 9.917804622710909
EOD
$p1s1 << EOD
1.0 5.009867649057249
2.0 9.973265454853435
EOD
$p1s2 << EOD
1.0 5.007278558142105
2.0 9.936579204819472
EOD
$p1s3 << EOD
1.0 5.01031022613176
2.0 9.944052965184389
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
1.0 4.968288104906711
2.0 9.861374294875823
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
1.0 5.0145802511538315
2.0 10.005929479141749
EOD
$p3s1 << EOD
1.0 5.014989285554722
2.0 9.994804734284626
EOD
$p3s2 << EOD
1.0 5.0088519136853655
2.0 9.920076260309113
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
1.0 5.013244442617704
2.0 9.996667183641188
EOD
$p4s1 << EOD
1.0 4.996123233470058
2.0 9.988324521040445
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
1.0 5.015457541473664
2.0 9.981928263462406
EOD
$p5s1 << EOD
1.0 5.015656240140102
2.0 9.943390593051829
EOD
$p5s2 << EOD
1.0 5.013973081945287
2.0 9.821499310399469
EOD
$p5s3 << EOD
1.0 5.0101619093390575
2.0 9.995260000637705
EOD
plot $p5s0 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#1f77b4' title "keel", \
     $p5s1 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#e377c2' title "keel_b2", \
     $p5s2 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#7f7f7f' title "keel_noyield", \
     $p5s3 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#d62728' title "ck"
unset multiplot
