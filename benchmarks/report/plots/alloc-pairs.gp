set terminal pngcairo size 1200,440 font 'sans,10'
set output "alloc-pairs.png"
set termoption noenhanced
set datafile missing '?'
set grid
set format y '%g'
set multiplot layout 1,2 title "bench_alloc: allocate/free pairs (log scale)" font ',13'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
unset logscale
set xrange [*:*]; set yrange [*:*]
set title "16B-4KiB: ns per allocate/free pair (lower is faster)"
set xlabel ""; set ylabel "ns per pair"
set key below font ',8'
set logscale y
set xtics rotate by -35 font ',8'
$p0 << EOD
"mimalloc" ? 20.161444239269805
"tlsf_quick" 29.48832884048808 ?
"buddy" 40.77815455112145 ?
"tlsf" 44.96884488671314 ?
"pmr_unsynchronized_pool" ? 51.17258894486341
"glibc_malloc" ? 71.94551178152282
"head_first_best_fit" 185.9015296904698 ?
"best_fit" 190.74121677672312 ?
"adaptive" 273.80623214770014 ?
"next_fit" 336.8955045639622 ?
"first_fit" 1247.759638041918 ?
"worst_fit" 1621.3888730086474 ?
EOD
set xrange [-0.6:11.6]
plot $p0 using 0:2:xtic(1) with boxes lc rgb '#1f77b4' title "keel heaps", \
     $p0 using 0:3:xtic(1) with boxes lc rgb '#d62728' title "baselines"
unset logscale
set xrange [*:*]; set yrange [*:*]
set title "16B-64KiB: ns per allocate/free pair (lower is faster)"
set xlabel ""; set ylabel "ns per pair"
set key below font ',8'
set logscale y
set xtics rotate by -35 font ',8'
$p1 << EOD
"mimalloc" ? 53.73740182449999
"buddy" 77.38919883655491 ?
"tlsf_quick" 151.9668312407273 ?
"tlsf" 160.84801946892364 ?
"glibc_malloc" ? 206.68958680785286
"best_fit" 289.08168204572155 ?
"head_first_best_fit" 289.5253472831272 ?
"adaptive" 460.92636981722137 ?
"pmr_unsynchronized_pool" ? 1467.3748611828853
"next_fit" 1577.9291423378359 ?
"worst_fit" 1637.7269837729377 ?
"first_fit" 1961.563351347343 ?
EOD
set xrange [-0.6:11.6]
plot $p1 using 0:2:xtic(1) with boxes lc rgb '#1f77b4' title "keel heaps", \
     $p1 using 0:3:xtic(1) with boxes lc rgb '#d62728' title "baselines"
unset multiplot
