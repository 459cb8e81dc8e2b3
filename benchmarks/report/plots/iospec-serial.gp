set terminal pngcairo size 1200,440 font 'sans,10'
set output "iospec-serial.png"
set termoption noenhanced
set datafile missing '?'
set grid
set format y '%g'
set multiplot layout 1,2 title "bench_iospec: the serial program's time / this case's (> 1: faster)" font ',13'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
unset logscale
set xrange [*:*]; set yrange [*:*]
set title "cold cache"
set xlabel ""; set ylabel "vs_serial"
set key below font ',8'
set yrange [0:*]
set xtics rotate by -35 font ',8'
$p0 << EOD
"random_4k" 0.8596573191581495 2.9541910199370127 3.6180684968363512 3.6769551261284903 3.1014892637993046
"btree_lookup" 0.8066927785076223 2.382532890413803 2.493280207903144 1.9177435582149094 2.0482386820870624
"btree_scan" 0.8685726639619575 3.1551155481434603 3.7864150727862547 3.974090095503915 3.8090943065751404
"sst_get" 0.8525808359187625 2.5154798416523376 1.904932919403874 1.8374345234348302 1.7527349497179292
"du" ? ? ? 0.9565036768524084 0.5609831166199309
"cp" ? ? ? 0.7428793351704613 ?
EOD
plot $p0 using 2:xtic(1) lc rgb '#1f77b4' title "io_uring_bound/qd:1", \
     $p0 using 3:xtic(1) lc rgb '#d62728' title "io_uring_bound/qd:16", \
     $p0 using 4:xtic(1) lc rgb '#2ca02c' title "io_uring_one_by_one/qd:16", \
     $p0 using 5:xtic(1) lc rgb '#ff7f0e' title "speculative/depth:-1", \
     $p0 using 6:xtic(1) lc rgb '#9467bd' title "speculative/depth:16", \
     1.0 with lines dt 2 lw 1.5 lc 'black' title "serial"
unset logscale
set xrange [*:*]; set yrange [*:*]
set title "warm cache"
set xlabel ""; set ylabel "vs_serial"
set key below font ',8'
set yrange [0:*]
set xtics rotate by -35 font ',8'
$p1 << EOD
"random_4k" 1.0027218629859267 0.2682220909905205 0.983460664676345
"btree_lookup" 1.1157053175239362 0.26952203839951905 0.9688836937020272
"btree_scan" 1.1612786318568278 0.3623774871439911 0.9986778405514917
"sst_get" 1.041683902504961 0.4395665325169753 0.9875243006082853
"du" 1.0377719267986032 0.20865486763602442 ?
"cp" 1.1328166287017878 ? ?
EOD
plot $p1 using 2:xtic(1) lc rgb '#ff7f0e' title "speculative/depth:-1", \
     $p1 using 3:xtic(1) lc rgb '#9467bd' title "speculative/depth:16", \
     $p1 using 4:xtic(1) lc rgb '#8c564b' title "paired", \
     1.0 with lines dt 2 lw 1.5 lc 'black' title "serial"
unset multiplot
