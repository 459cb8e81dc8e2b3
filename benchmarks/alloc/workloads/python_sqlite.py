#!/usr/bin/env python3
"""An allocation workload for trace recording: a Python program that builds and
drops dictionaries, strings and lists, and runs an in-memory SQLite database
(inserts, an index, joins, updates, deletes). Deterministic (fixed seed)."""
import random
import sqlite3

random.seed(7)

# Phase 1: text processing with dictionaries and short-lived strings.
words = ["".join(random.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(random.randint(2, 12)))
         for _ in range(20000)]
counts = {}
for round_ in range(20):
    text = " ".join(random.choice(words) for _ in range(20000))
    for w in text.split():
        counts[w] = counts.get(w, 0) + 1
    if round_ % 5 == 4:
        counts = {k: v for k, v in counts.items() if v > 3}

# Phase 2: SQLite, in memory.
db = sqlite3.connect(":memory:")
db.execute("create table item(id integer primary key, name text, price real, tags text)")
db.execute("create table sale(id integer primary key, item integer, qty integer, note text)")
db.executemany("insert into item(name, price, tags) values (?, ?, ?)",
               ((random.choice(words) * random.randint(1, 4), random.random() * 100,
                 ",".join(random.sample(words, 3))) for _ in range(30000)))
db.executemany("insert into sale(item, qty, note) values (?, ?, ?)",
               ((random.randint(1, 30000), random.randint(1, 9), random.choice(words) * 8)
                for _ in range(60000)))
db.execute("create index sale_item on sale(item)")
total = 0.0
for (s,) in db.execute("select sum(i.price * s.qty) from sale s join item i on i.id = s.item group by i.tags"):
    total += s
db.execute("update item set tags = tags || ',sold' where id in (select item from sale where qty > 5)")
db.execute("delete from sale where qty < 3")
rows = db.execute("select name, count(*) from item join sale on sale.item = item.id "
                  "group by name order by 2 desc limit 100").fetchall()
db.close()

# Phase 3: object graph churn.
nodes = [{"id": i, "children": [], "payload": "x" * random.randint(1, 300)} for i in range(50000)]
for i in range(1, len(nodes)):
    nodes[random.randrange(i)]["children"].append(nodes[i])
del nodes
print(len(counts), len(rows), round(total) > 0)
