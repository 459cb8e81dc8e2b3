-- An allocation workload for trace recording with the sqlite3 shell: builds
-- tables from recursive CTEs, indexes them, joins, aggregates and deletes.
create table t(a integer primary key, b text, c integer);
with recursive n(i) as (select 1 union all select i + 1 from n where i < 200000)
insert into t(b, c) select hex(randomblob(abs(random()) % 64 + 1)), abs(random()) % 1000 from n;
create index t_c on t(c);
create table u as select c, count(*) as k, group_concat(substr(b, 1, 8)) as g from t group by c;
select count(*), sum(length(g)) from u;
select t.c, count(*) from t join u on u.c = t.c where u.k > 150 group by t.c order by 2 desc limit 10;
update t set b = b || b where c % 7 = 0;
delete from t where c % 3 = 0;
create table v as select * from t order by b limit 50000;
select count(*), max(length(b)) from v;
drop table u;
vacuum;
