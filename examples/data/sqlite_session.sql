-- The sqlite3 session recorded in sqlite_session.trace (keel-tour's alloc section):
--   KEEL_ALLOC_TRACE=out-%p.trace LD_PRELOAD=build/<preset>/src/alloc/libkeel-alloc-trace.so \
--     sqlite3 :memory: < examples/data/sqlite_session.sql
-- then rewritten with keel::alloc::write_trace (short synthetic addresses).
-- benchmarks/alloc/workloads/sqlite_workload.sql with fewer rows, so that the trace
-- stays under 1 MiB.
create table t(a integer primary key, b text, c integer);
with recursive n(i) as (select 1 union all select i + 1 from n where i < 4000)
insert into t(b, c) select hex(randomblob(abs(random()) % 64 + 1)), abs(random()) % 1000 from n;
create index t_c on t(c);
create table u as select c, count(*) as k, group_concat(substr(b, 1, 8)) as g from t group by c;
select count(*), sum(length(g)) from u;
select t.c, count(*) from t join u on u.c = t.c where u.k > 5 group by t.c order by 2 desc limit 10;
update t set b = b || b where c % 7 = 0;
delete from t where c % 3 = 0;
create table v as select * from t order by b limit 2000;
select count(*), max(length(b)) from v;
drop table u;
vacuum;
