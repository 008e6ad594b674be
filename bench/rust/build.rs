//! Generates the 512 variants of seed 000's five-level async tree into `$OUT_DIR/trees.rs`,
//! in four flavours (sync inline, sync noinline, async fn, async_trait). See README.md for
//! the exact definition; it must stay identical to the C++ side.
//!
//! Variant v (0..512), depth d (0 = root .. 4 = leaf), all arithmetic wrapping u64:
//!   leaf:     f(x) = x * (2v+3) + v
//!   internal: f(x) = (child(x) + child(x+1)) ^ (5v+d)

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

const VARIANTS: u64 = 512;
const DEPTHS: u64 = 5;
const LEAF: u64 = DEPTHS - 1;

fn leaf_mul(v: u64) -> u64 {
    2 * v + 3
}
fn leaf_add(v: u64) -> u64 {
    v
}
fn node_xor(v: u64, d: u64) -> u64 {
    v * 5 + d
}

/// Plain functions; `attr` is put on every one of them.
fn gen_sync(out: &mut String, module: &str, attr: &str) {
    writeln!(out, "pub mod {module} {{").unwrap();
    for v in 0..VARIANTS {
        for d in 0..DEPTHS {
            if d == LEAF {
                writeln!(
                    out,
                    "{attr} pub fn n{v}_{d}(x: u64) -> u64 {{ x.wrapping_mul({}u64).wrapping_add({}u64) }}",
                    leaf_mul(v),
                    leaf_add(v)
                )
                .unwrap();
            } else {
                let c = d + 1;
                writeln!(
                    out,
                    "{attr} pub fn n{v}_{d}(x: u64) -> u64 {{ n{v}_{c}(x).wrapping_add(n{v}_{c}(x.wrapping_add(1))) ^ {}u64 }}",
                    node_xor(v, d)
                )
                .unwrap();
            }
        }
    }
    write_table(out, "fn(u64) -> u64", |v| format!("n{v}_0"));
    writeln!(out, "}}").unwrap();
}

/// Every level an `async fn`; the table holds sync wrappers polling the root once.
fn gen_async_fn(out: &mut String) {
    writeln!(out, "pub mod async_fn {{").unwrap();
    for v in 0..VARIANTS {
        for d in 0..DEPTHS {
            if d == LEAF {
                writeln!(
                    out,
                    "pub async fn n{v}_{d}(x: u64) -> u64 {{ x.wrapping_mul({}u64).wrapping_add({}u64) }}",
                    leaf_mul(v),
                    leaf_add(v)
                )
                .unwrap();
            } else {
                let c = d + 1;
                writeln!(
                    out,
                    "pub async fn n{v}_{d}(x: u64) -> u64 {{ n{v}_{c}(x).await.wrapping_add(n{v}_{c}(x.wrapping_add(1)).await) ^ {}u64 }}",
                    node_xor(v, d)
                )
                .unwrap();
            }
        }
        writeln!(out, "pub fn r{v}(x: u64) -> u64 {{ crate::poll_ready(n{v}_0(x)) }}").unwrap();
    }
    write_table(out, "fn(u64) -> u64", |v| format!("r{v}"));
    writeln!(out, "}}").unwrap();
}

/// `#[async_trait]` trait objects: 5 structs per variant, each internal one holding its child
/// as `&'static dyn Node`; `BUILDERS[v]()` leaks the five and returns the root.
fn gen_async_trait(out: &mut String) {
    writeln!(out, "pub mod async_trait_tree {{").unwrap();
    writeln!(out, "use crate::Node;").unwrap();
    writeln!(out, "use async_trait::async_trait;").unwrap();
    for v in 0..VARIANTS {
        for d in 0..DEPTHS {
            if d == LEAF {
                writeln!(out, "pub struct S{v}_{d};").unwrap();
                writeln!(
                    out,
                    "#[async_trait] impl Node for S{v}_{d} {{ async fn call(&self, x: u64) -> u64 {{ x.wrapping_mul({}u64).wrapping_add({}u64) }} }}",
                    leaf_mul(v),
                    leaf_add(v)
                )
                .unwrap();
            } else {
                writeln!(out, "pub struct S{v}_{d} {{ pub child: &'static dyn Node }}").unwrap();
                writeln!(
                    out,
                    "#[async_trait] impl Node for S{v}_{d} {{ async fn call(&self, x: u64) -> u64 {{ self.child.call(x).await.wrapping_add(self.child.call(x.wrapping_add(1)).await) ^ {}u64 }} }}",
                    node_xor(v, d)
                )
                .unwrap();
            }
        }
        writeln!(out, "pub fn b{v}() -> &'static dyn Node {{").unwrap();
        writeln!(out, "    let n{LEAF}: &'static dyn Node = Box::leak(Box::new(S{v}_{LEAF}));").unwrap();
        for d in (0..LEAF).rev() {
            let c = d + 1;
            writeln!(
                out,
                "    let n{d}: &'static dyn Node = Box::leak(Box::new(S{v}_{d} {{ child: n{c} }}));"
            )
            .unwrap();
        }
        writeln!(out, "    n0").unwrap();
        writeln!(out, "}}").unwrap();
    }
    write_table(out, "fn() -> &'static dyn Node", |v| format!("b{v}"));
    writeln!(out, "}}").unwrap();
}

fn write_table(out: &mut String, ty: &str, name: impl Fn(u64) -> String) {
    writeln!(out, "pub static TABLE: [{ty}; {VARIANTS}] = [").unwrap();
    for v in 0..VARIANTS {
        writeln!(out, "    {},", name(v)).unwrap();
    }
    writeln!(out, "];").unwrap();
}

fn main() {
    let mut out = String::new();
    writeln!(out, "// @generated by build.rs: seed 000's tree, {VARIANTS} variants x {DEPTHS} levels.").unwrap();
    gen_sync(&mut out, "sync_inline", "");
    gen_sync(&mut out, "sync_noinline", "#[inline(never)]");
    gen_async_fn(&mut out);
    gen_async_trait(&mut out);
    let dest = Path::new(&env::var("OUT_DIR").unwrap()).join("trees.rs");
    fs::write(dest, out).unwrap();
    println!("cargo:rerun-if-changed=build.rs");
}
