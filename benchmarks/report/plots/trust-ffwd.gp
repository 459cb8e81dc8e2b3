set terminal pngcairo size 1800,880 font 'sans,10'
set output "trust-ffwd.png"
set termoption noenhanced
set datafile missing '?'
set grid
set format y '%g'
set multiplot layout 2,3 title "bench_trust: g independent counters, ops/s (log scale)" font ',13'
unset logscale
set xrange [*:*]; set yrange [*:*]
set title "ffwd/g:1"
set xlabel "threads"; set ylabel "Mops/s (all threads)"
set key below font ',8'
set logscale y
set logscale x 2
set xtics ("1" 1, "2" 2)
set xrange [0.8695652173913044:2.3]
$p0s0 << EOD
1.0 6.817832521454087
2.0 7.543114794344322
EOD
$p0s1 << EOD
1.0 6.970366985104253
2.0 7.485442943784535
EOD
$p0s2 << EOD
1.0 30.86832471048092
2.0 34.66259442891478
EOD
$p0s3 << EOD
1.0 166.52712870532625
2.0 54.663862838443286
EOD
$p0s4 << EOD
1.0 508.7687603509005
2.0 197.0494713548432
EOD
plot $p0s0 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#1f77b4' title "trust_apply_t1", \
     $p0s1 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#d62728' title "trust_apply_t2", \
     $p0s2 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#2ca02c' title "trust_then_t2", \
     $p0s3 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#ff7f0e' title "mutex", \
     $p0s4 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#9467bd' title "atomic"
unset logscale
set xrange [*:*]; set yrange [*:*]
set title "ffwd/g:4"
set xlabel "threads"; set ylabel "Mops/s (all threads)"
set key below font ',8'
set logscale y
set logscale x 2
set xtics ("1" 1, "2" 2)
set xrange [0.8695652173913044:2.3]
$p1s0 << EOD
1.0 6.979782109228996
2.0 7.464835103289687
EOD
$p1s1 << EOD
1.0 0.06713335097802232
2.0 0.09132739987426232
EOD
$p1s2 << EOD
1.0 13.576452354981615
2.0 17.830981084602787
EOD
$p1s3 << EOD
1.0 159.46101341643438
2.0 39.71390829007847
EOD
$p1s4 << EOD
1.0 485.8290802425567
2.0 116.11515398792814
EOD
plot $p1s0 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#1f77b4' title "trust_apply_t1", \
     $p1s1 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#d62728' title "trust_apply_t2", \
     $p1s2 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#2ca02c' title "trust_then_t2", \
     $p1s3 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#ff7f0e' title "mutex", \
     $p1s4 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#9467bd' title "atomic"
unset logscale
set xrange [*:*]; set yrange [*:*]
set title "ffwd/g:16"
set xlabel "threads"; set ylabel "Mops/s (all threads)"
set key below font ',8'
set logscale y
set logscale x 2
set xtics ("1" 1, "2" 2)
set xrange [0.8695652173913044:2.3]
$p2s0 << EOD
1.0 6.895791826191158
2.0 7.584708740928687
EOD
$p2s1 << EOD
1.0 0.06104569509681942
2.0 0.10701414219966231
EOD
$p2s2 << EOD
1.0 12.545811753099448
2.0 16.32043991619199
EOD
$p2s3 << EOD
1.0 159.32592010531607
2.0 51.48305544702867
EOD
$p2s4 << EOD
1.0 485.86836296104207
2.0 162.3618982744032
EOD
plot $p2s0 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#1f77b4' title "trust_apply_t1", \
     $p2s1 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#d62728' title "trust_apply_t2", \
     $p2s2 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#2ca02c' title "trust_then_t2", \
     $p2s3 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#ff7f0e' title "mutex", \
     $p2s4 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#9467bd' title "atomic"
unset logscale
set xrange [*:*]; set yrange [*:*]
set title "ffwd/g:64"
set xlabel "threads"; set ylabel "Mops/s (all threads)"
set key below font ',8'
set logscale y
set logscale x 2
set xtics ("1" 1, "2" 2)
set xrange [0.8695652173913044:2.3]
$p3s0 << EOD
1.0 6.8879190351312705
2.0 7.832349453833057
EOD
$p3s1 << EOD
1.0 0.0719748706860498
2.0 0.12149598055435508
EOD
$p3s2 << EOD
1.0 5.693241968488418
2.0 7.512100966708695
EOD
$p3s3 << EOD
1.0 159.30693196191964
2.0 46.012439209641926
EOD
$p3s4 << EOD
1.0 485.3688098303361
2.0 209.9893494565438
EOD
plot $p3s0 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#1f77b4' title "trust_apply_t1", \
     $p3s1 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#d62728' title "trust_apply_t2", \
     $p3s2 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#2ca02c' title "trust_then_t2", \
     $p3s3 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#ff7f0e' title "mutex", \
     $p3s4 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#9467bd' title "atomic"
unset logscale
set xrange [*:*]; set yrange [*:*]
set title "ffwd/g:256"
set xlabel "threads"; set ylabel "Mops/s (all threads)"
set key below font ',8'
set logscale y
set logscale x 2
set xtics ("1" 1, "2" 2)
set xrange [0.8695652173913044:2.3]
$p4s0 << EOD
1.0 6.51135396806457
2.0 6.651753690007436
EOD
$p4s1 << EOD
1.0 0.06803801718727523
2.0 0.12743073872212438
EOD
$p4s2 << EOD
1.0 5.871978168160758
2.0 5.461882723088516
EOD
$p4s3 << EOD
1.0 159.16573625125196
2.0 45.80445246711234
EOD
$p4s4 << EOD
1.0 488.02840958250533
2.0 257.28393969778216
EOD
plot $p4s0 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#1f77b4' title "trust_apply_t1", \
     $p4s1 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#d62728' title "trust_apply_t2", \
     $p4s2 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#2ca02c' title "trust_then_t2", \
     $p4s3 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#ff7f0e' title "mutex", \
     $p4s4 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#9467bd' title "atomic"
unset logscale
set xrange [*:*]; set yrange [*:*]
set title "ffwd/g:1024"
set xlabel "threads"; set ylabel "Mops/s (all threads)"
set key below font ',8'
set logscale y
set logscale x 2
set xtics ("1" 1, "2" 2)
set xrange [0.8695652173913044:2.3]
$p5s0 << EOD
1.0 6.6002373871531965
2.0 7.458352390272104
EOD
$p5s1 << EOD
1.0 0.07492039660874332
2.0 0.10313251031586156
EOD
$p5s2 << EOD
1.0 5.843499601268703
2.0 7.606277092029606
EOD
$p5s3 << EOD
1.0 158.77407925671818
2.0 44.69540756941649
EOD
$p5s4 << EOD
1.0 353.5372496789176
2.0 281.1833454411855
EOD
plot $p5s0 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#1f77b4' title "trust_apply_t1", \
     $p5s1 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#d62728' title "trust_apply_t2", \
     $p5s2 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#2ca02c' title "trust_then_t2", \
     $p5s3 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#ff7f0e' title "mutex", \
     $p5s4 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#9467bd' title "atomic"
unset multiplot
