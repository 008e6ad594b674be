"""Prints the benchmark tables from bench/run.sh's raw results (medians over rounds)."""
import statistics
import sys
from collections import defaultdict

out = sys.argv[1]

def load(name):
    rows = defaultdict(list)
    for line in open(f"{out}/{name}"):
        who, kind, ns, allocs = line.split()
        rows[(who, kind)].append((float(ns), float(allocs)))
    return {k: (statistics.median(x[0] for x in v), v[0][1]) for k, v in rows.items()}

tree = load("tree.txt")
instr = {}
for line in open(f"{out}/instr.txt"):
    who, kind, n = line.split()
    instr[(who, kind)] = int(n)

trait = tree[("rust", "tree_async_trait")][0]
sync = tree[("gcc", "sync_inline")][0]
rows = [
    ("C++ sync, inlined", "sync_inline"), ("C++ sync, noinline", "sync_noinline"),
    ("weir `task<T>`, static calls", "weir_task"), ("weir `task<T>`, virtual (async fn in a trait)", "weir_virtual"),
    ("`std::function` callbacks", "std_function"), ("textbook coroutine, `operator new`", "naive"),
]
print("### Async tree (seed 000): 31 calls, 512 variants, ns per tree (median of rounds)\n")
print("| variant | g++ 12 ns | clang 16 ns | allocs/tree | × Rust async_trait (g++) | instr/tree g++ | instr/tree clang |")
print("|---|---|---|---|---|---|---|")
for label, k in rows:
    g = tree[("gcc", k)]
    c = tree[("clang", k)]
    print(f"| {label} | {g[0]:,.0f} | {c[0]:,.0f} | {g[1]:.0f} | {g[0]/trait:.2f} | "
          f"{instr.get(('gcc', k), 0):,} | {instr.get(('clang', k), 0):,} |")
for label, k in [("Rust sync (rustc 1.63)", "tree_sync_inline"), ("Rust sync, `#[inline(never)]`", "tree_sync_noinline"),
                 ("Rust native `async fn`", "tree_async_fn"), ("Rust `#[async_trait]` 0.1.56", "tree_async_trait")]:
    r = tree[("rust", k)]
    print(f"| {label} | {r[0]:,.0f} | — | {r[1]:.0f} | {r[0]/trait:.2f} | {instr.get(('rust', k), 0):,} | — |")

prim = load("prim.txt")
print("\n### Runtime primitives, ns per operation (median of rounds), against tokio 1.24 current_thread\n")
print("| operation | weir ns | weir allocs/op | tokio ns | tokio allocs/op | weir / tokio |")
print("|---|---|---|---|---|---|")
pairs = [("spawn + join of an empty task", "spawn_join", "tokio_spawn_join"),
         ("channel ping-pong, same shard (round trip)", "pingpong_local", "tokio_mpsc_pingpong_local"),
         ("channel ping-pong, across shards/threads (round trip)", "pingpong_cross", "tokio_mpsc_pingpong_cross"),
         ("timer insert + cancel (weir: wheel; tokio: Sleep poll + drop)", "timer_insert_cancel", "tokio_timer_insert_cancel"),
         ("deadline scope around a ready op (`with_timeout`)", "with_timeout_ready", "tokio_timer_insert_cancel")]
for label, w, t in pairs:
    a, b = prim[("weir", w)], prim[("tokio", t)]
    print(f"| {label} | {a[0]:,.1f} | {a[1]:.2f} | {b[0]:,.1f} | {b[1]:.2f} | {a[0]/b[0]:.2f} |")
