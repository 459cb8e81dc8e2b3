set terminal pngcairo size 1800,440 font 'sans,10'
set output "rpc-latency.png"
set termoption noenhanced
set datafile missing '?'
set grid
set format y '%g'
set multiplot layout 1,3 title "bench_rpc: round trip by payload (log scale)" font ',13'
unset logscale
set xrange [*:*]; set yrange [*:*]
set title "mean ns per round trip"
set xlabel "request payload"; set ylabel "ns per round trip"
set key below font ',8'
set logscale y
set xtics ("noop" 0, "64B" 1, "4KiB" 2, "64KiB" 3, "1MiB" 4)
set xrange [-0.3:4.3]
$p0s0 << EOD
0.0 33410.94490006071
1.0 36410.834831260785
2.0 35294.220599917026
3.0 64186.24514984724
4.0 961148.2151895767
EOD
$p0s1 << EOD
0.0 37047.531253211346
1.0 36534.97298110555
2.0 35327.54928966181
3.0 84137.29410881891
4.0 247458.37567031372
EOD
$p0s2 << EOD
0.0 42932.21756881557
1.0 40922.49503922407
2.0 43306.27955534924
3.0 59456.50049910714
4.0 174927.23924032695
EOD
$p0s3 << EOD
0.0 119158.20191089348
1.0 131777.5925138045
2.0 128595.01644385056
3.0 157456.97183099962
4.0 669125.0369468556
EOD
$p0s4 << EOD
0.0 187.33531027417482
1.0 236.29189555579677
2.0 1302.5834307533119
3.0 10315.53621948117
4.0 152107.715982682
EOD
$p0s5 << EOD
0.0 3386.502530687685
1.0 6499.94340156241
2.0 26790.153199999622
3.0 44358.16340001111
4.0 131898.63028182625
EOD
$p0s6 << EOD
0.0 24967.966999975033
1.0 25335.29090005686
2.0 36018.3512999356
3.0 44949.318199996924
4.0 175455.50067293443
EOD
plot 125.22471421181112 with lines dt 2 lw 1.5 lc 'black' title "floor/cacheline: 125 ns (mean)", \
     36591.50967111781 with lines dt 3 lw 1.5 lc 'black' title "floor/futex: 36592 ns (mean)", \
     $p0s0 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#1f77b4' title "pipe", \
     $p0s1 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#d62728' title "uds", \
     $p0s2 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#2ca02c' title "mq", \
     $p0s3 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#ff7f0e' title "grpc", \
     $p0s4 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#9467bd' title "keel busy_poll", \
     $p0s5 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#8c564b' title "keel hybrid", \
     $p0s6 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#e377c2' title "keel futex"
unset logscale
set xrange [*:*]; set yrange [*:*]
set title "median (p50) ns per round trip"
set xlabel "request payload"; set ylabel "ns per round trip"
set key below font ',8'
set logscale y
set xtics ("noop" 0, "64B" 1, "4KiB" 2, "64KiB" 3, "1MiB" 4)
set xrange [-0.3:4.3]
$p1s0 << EOD
0.0 42983.94478994108
1.0 43204.272559134624
2.0 42132.678408966014
3.0 62603.13114676647
4.0 967319.0259484691
EOD
$p1s1 << EOD
0.0 42332.97638096015
1.0 42683.49783194988
2.0 41111.158751795934
3.0 41772.14205937657
4.0 242170.2630395073
EOD
$p1s2 << EOD
0.0 44776.611639288574
1.0 41431.635506986546
2.0 44626.388160292976
3.0 59248.140115864735
4.0 173868.6545895077
EOD
$p1s3 << EOD
0.0 117725.13303955205
1.0 128140.627583247
2.0 124815.68124814438
3.0 150854.41760738177
4.0 607113.1680128188
EOD
$p1s4 << EOD
0.0 190.28307339442696
1.0 230.3426677932537
2.0 1291.921919362162
3.0 10135.077382903162
4.0 149993.13632780698
EOD
$p1s5 << EOD
0.0 180.2681747947203
1.0 240.35756639296036
2.0 36704.60336792499
3.0 51065.967959904374
4.0 129973.35402699333
EOD
$p1s6 << EOD
0.0 33950.50625300565
1.0 34801.77263398072
2.0 42312.946583760735
3.0 53028.88808544688
4.0 173888.68438670711
EOD
plot 125.22471421181112 with lines dt 2 lw 1.5 lc 'black' title "floor/cacheline: 125 ns (mean)", \
     36591.50967111781 with lines dt 3 lw 1.5 lc 'black' title "floor/futex: 36592 ns (mean)", \
     $p1s0 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#1f77b4' title "pipe", \
     $p1s1 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#d62728' title "uds", \
     $p1s2 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#2ca02c' title "mq", \
     $p1s3 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#ff7f0e' title "grpc", \
     $p1s4 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#9467bd' title "keel busy_poll", \
     $p1s5 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#8c564b' title "keel hybrid", \
     $p1s6 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#e377c2' title "keel futex"
unset logscale
set xrange [*:*]; set yrange [*:*]
set title "p99 ns per round trip"
set xlabel "request payload"; set ylabel "ns per round trip"
set key below font ',8'
set logscale y
set xtics ("noop" 0, "64B" 1, "4KiB" 2, "64KiB" 3, "1MiB" 4)
set xrange [-0.3:4.3]
$p2s0 << EOD
0.0 57906.143703504036
1.0 52778.515620454215
2.0 53449.51382663457
3.0 168170.17728627461
4.0 1206014.119173878
EOD
$p2s1 << EOD
0.0 60209.57038143658
1.0 56494.04300094539
2.0 58276.694951693185
3.0 213768.01061073915
4.0 327987.92914039386
EOD
$p2s2 << EOD
0.0 56043.3725639586
1.0 58947.69315787353
2.0 70675.13941813006
3.0 82773.13692657572
4.0 212295.82051658226
EOD
$p2s3 << EOD
0.0 177704.36075319536
1.0 198234.90288259406
2.0 200758.65732972015
3.0 272275.04823022557
4.0 1370038.1284398742
EOD
$p2s4 << EOD
0.0 230.3426677932537
1.0 300.44695799120046
2.0 1341.9964123606953
3.0 13389.919427807834
4.0 182852.01863344462
EOD
$p2s5 << EOD
0.0 42633.42333895135
1.0 43154.198066136094
2.0 48842.66047076949
3.0 69903.99222595265
4.0 204303.93143401633
EOD
$p2s6 << EOD
0.0 49503.64377835013
1.0 49473.59908255101
2.0 51807.070456282665
3.0 76563.89979475758
4.0 234619.02949532846
EOD
plot 125.22471421181112 with lines dt 2 lw 1.5 lc 'black' title "floor/cacheline: 125 ns (mean)", \
     36591.50967111781 with lines dt 3 lw 1.5 lc 'black' title "floor/futex: 36592 ns (mean)", \
     $p2s0 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#1f77b4' title "pipe", \
     $p2s1 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#d62728' title "uds", \
     $p2s2 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#2ca02c' title "mq", \
     $p2s3 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#ff7f0e' title "grpc", \
     $p2s4 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#9467bd' title "keel busy_poll", \
     $p2s5 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#8c564b' title "keel hybrid", \
     $p2s6 using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '#e377c2' title "keel futex"
unset multiplot
