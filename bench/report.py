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


def load_tree():
    """tree.txt rows are 'who tree:kind|hot:kind ns allocs' (Rust rows are tree:...)."""
    rows = defaultdict(list)
    for line in open(f"{out}/tree.txt"):
        who, kind, ns, allocs = line.split()
        if ":" not in kind:  # results of the first run.sh, before names kept their prefix
            kind = ("tree:" if "." in allocs or who == "rust" else "hot:") + kind
        rows[(who, kind)].append((float(ns), float(allocs)))
    return {k: (statistics.median(x[0] for x in v), v[0][1]) for k, v in rows.items()}

tree = load_tree()
instr = {}
for line in open(f"{out}/instr.txt"):
    who, kind, n = line.split()
    instr[(who, kind)] = int(n)

trait = tree[("rust", "tree:tree_async_trait")][0]
rows = [
    ("C++ sync, inlined", "sync_inline"), ("C++ sync, noinline", "sync_noinline"),
    ("weir `task<T>`, static calls", "weir_task"), ("weir `task<T>`, virtual (async fn in a trait)", "weir_virtual"),
    ("`std::function` callbacks", "std_function"), ("textbook coroutine, `operator new`", "naive"),
]
print("### Async tree (seed 000): 31 calls, 16 leaves, 512 variants — ns per tree (median of rounds)\n")
print("| variant | g++ 12 | clang 16 | g++ hot (1 variant) | clang hot | heap allocs/tree | g++ ÷ Rust async_trait | clang ÷ Rust async_trait | instr/tree g++ | instr/tree clang |")
print("|---|---|---|---|---|---|---|---|---|---|")
def num(n):
    return f"{n:,}" if n else "—"
for label, k in rows:
    g, c = tree[("gcc", "tree:" + k)], tree[("clang", "tree:" + k)]
    gh, ch = tree[("gcc", "hot:" + k)], tree[("clang", "hot:" + k)]
    print(f"| {label} | {g[0]:,.0f} | {c[0]:,.0f} | {gh[0]:,.0f} | {ch[0]:,.0f} | {g[1]:.0f} / {c[1]:.0f} | "
          f"{g[0]/trait:.2f} | {c[0]/trait:.2f} | {num(instr.get(('gcc', k), 0))} | {num(instr.get(('clang', k), 0))} |")
for label, k in [("Rust sync (rustc 1.63)", "tree_sync_inline"), ("Rust sync, `#[inline(never)]`", "tree_sync_noinline"),
                 ("Rust native `async fn`", "tree_async_fn"), ("Rust `#[async_trait]` 0.1.56", "tree_async_trait")]:
    r = tree[("rust", "tree:" + k)]
    print(f"| {label} | {r[0]:,.0f} | — | — | — | {r[1]:.0f} | {r[0]/trait:.2f} | — | {num(instr.get(('rust', k), 0))} | — |")

prim = load("prim.txt")
print("\n### Runtime primitives, ns per operation (median of rounds), against tokio 1.24 current_thread\n")
print("| operation | weir ns | weir allocs/op | tokio ns | tokio allocs/op | weir / tokio |")
print("|---|---|---|---|---|---|")
pairs = [("spawn + join of an empty task", "spawn_join", "tokio_spawn_join"),
         ("channel ping-pong, same shard (round trip)", "pingpong_local", "tokio_mpsc_pingpong_local"),
         ("channel ping-pong across shards, both on one CPU (round trip)", "pingpong_cross", "tokio_mpsc_pingpong_cross"),
         ("channel ping-pong across shards, a CPU each (round trip)", "pingpong_cross_2cpu", "tokio_mpsc_pingpong_cross_2cpu"),
         ("timer insert + cancel (weir: wheel; tokio: Sleep poll + drop)", "timer_insert_cancel", "tokio_timer_insert_cancel"),
         ("deadline scope around a ready op (`with_timeout`)", "with_timeout_ready", "tokio_timer_insert_cancel")]
for label, w, t in pairs:
    a, b = prim[("weir", w)], prim[("tokio", t)]
    print(f"| {label} | {a[0]:,.1f} | {a[1]:.2f} | {b[0]:,.1f} | {b[1]:.2f} | {a[0]/b[0]:.2f} |")
