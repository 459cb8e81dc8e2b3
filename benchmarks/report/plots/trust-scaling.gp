set terminal pngcairo size 1800,440 font 'sans,10'
set output "trust-scaling.png"
set termoption noenhanced
set datafile missing '?'
set grid
set format y '%g'
set multiplot layout 1,3 title "bench_trust: delegation vs locks, ops/s (log scale)" font ',13'
unset logscale
set xrange [*:*]; set yrange [*:*]
set title "counter"
set xlabel "threads"; set ylabel "Mops/s (all threads)"
set key below font ',8'
set logscale y
set logscale x 2
set xtics ("1" 1, "2" 2)
set xrange [0.8695652173913044:2.3]
$p0s0 << EOD
1.0 6.498615755924298
2.0 6.440094340338759
EOD
$p0s1 << EOD
1.0 32.177130892556946
2.0 35.885144817784266
EOD
$p0s2 << EOD
1.0 174.451709161924
2.0 51.573019119696745
EOD
$p0s3 << EOD
1.0 460.22589156417195
2.0 424.9706559000776
EOD
$p0s4 << EOD
1.0 208.8843769774377
2.0 16.342536066732194
EOD
$p0s5 << EOD
1.0 229.40904442942497
2.0 51.328414776240884
EOD
$p0s6 << EOD
1.0 228.12186464328877
2.0 15.927331273977533
EOD
$p0s7 << EOD
1.0 494.0032435297426
2.0 220.57725026008097
EOD
plot $p0s0 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#1f77b4' title "trust_apply", \
     $p0s1 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#d62728' title "trust_then", \
     $p0s2 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#2ca02c' title "std_mutex", \
     $p0s3 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#ff7f0e' title "ttas", \
     $p0s4 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#9467bd' title "mcs", \
     $p0s5 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#8c564b' title "futex", \
     $p0s6 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#e377c2' title "tbb_queuing", \
     $p0s7 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#7f7f7f' title "atomic"
unset logscale
set xrange [*:*]; set yrange [*:*]
set title "kv/shards:8"
set xlabel "threads"; set ylabel "Mops/s (all threads)"
set key below font ',8'
set logscale y
set logscale x 2
set xtics ("1" 1, "2" 2)
set xrange [0.8695652173913044:2.3]
$p1s0 << EOD
1.0 1.7990750954809627
2.0 1.9532539796260155
EOD
$p1s1 << EOD
1.0 0.06950276642871067
2.0 0.10230446430305613
EOD
$p1s2 << EOD
1.0 5.938813156011244
2.0 6.89653496753481
EOD
$p1s3 << EOD
1.0 3.2064068258759812
2.0 4.152303237136049
EOD
$p1s4 << EOD
1.0 3.139859255233382
2.0 3.0566238681955507
EOD
plot $p1s0 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#bcbd22' title "trust_t1", \
     $p1s1 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#17becf' title "trust_t2", \
     $p1s2 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#000000' title "trust_then_t1", \
     $p1s3 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#aec7e8' title "trust_then_t2", \
     $p1s4 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#98df8a' title "mutex"
unset logscale
set xrange [*:*]; set yrange [*:*]
set title "map"
set xlabel "threads"; set ylabel "Mops/s (all threads)"
set key below font ',8'
set logscale y
set logscale x 2
set xtics ("1" 1, "2" 2)
set xrange [0.8695652173913044:2.3]
$p2s0 << EOD
1.0 5.701661831905325
2.0 6.931859341467544
EOD
$p2s1 << EOD
1.0 31.846579144350777
2.0 37.04416597332884
EOD
$p2s2 << EOD
1.0 126.37605687640578
2.0 19.49069017376271
EOD
$p2s3 << EOD
1.0 217.73020512451527
2.0 217.6421814832972
EOD
$p2s4 << EOD
1.0 96.64981138850412
2.0 9.336569565100007
EOD
$p2s5 << EOD
1.0 177.4816380359559
2.0 22.696256763697583
EOD
plot $p2s0 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#1f77b4' title "trust_apply", \
     $p2s1 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#d62728' title "trust_then", \
     $p2s2 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#2ca02c' title "std_mutex", \
     $p2s3 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#ff7f0e' title "ttas", \
     $p2s4 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#9467bd' title "mcs", \
     $p2s5 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#8c564b' title "futex"
unset multiplot
