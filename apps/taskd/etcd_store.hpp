// taskd::etcd_store — taskd's state in an etcd cluster (--store etcd), through etcd's v3 JSON
// gateway (POST /v3/kv/range, /v3/kv/txn; keys and values in base64) with weir's own HTTP
// client: no gRPC stack.
//
//   auto st = taskd::open_etcd_store({.endpoints = {"http://127.0.0.1:2379", ...}});
//   ... the same calls as any taskd::store, on shards; co_await (*st)->close() at the end ...
//
// Keys: taskd's key K is etcd's `prefix + "kv/" + K`; each taskd process also owns one guard
// key, `prefix + "writers/" + <random id>`, deleted when it closes.
//
// commit(): the applier's batch as etcd transactions (one Txn, so one Raft round trip and one
// revision, unless a key repeats in the batch, which etcd refuses in one Txn, or the batch has
// more operations than the cluster's --max-txn-ops, 128 by default: the batch is cut there). Every op of a Txn gets the Txn's revision; a delete learns
// whether the key existed from the Txn's answer.
//
// Retries without applying twice: each Txn carries the guard. It succeeds only if the guard's
// mod_revision is the one this process last saw, and then writes the Txn's sequence number
// into the guard. A retry after an unknown outcome (a timeout, a connection lost after the
// request went out, "leader changed") therefore either applies the batch (the first attempt
// did not) or fails its compare and reads the guard back (the Else branch): the guard holding
// this Txn's number means the first attempt applied, at the guard's mod_revision (whether a
// deleted key existed is then read at the revision before it, from etcd's history); an older
// number means an earlier Txn given up on applied late: the guard's revision is taken and the
// Txn sent again. So a batch is applied at most once and acknowledged only after etcd
// acknowledged it. (The alternative, an idempotency key per request, would need a read per
// write or a store of request ids; the guard costs one extra put per Txn.)
//
// Reads are linearizable ranges (etcd's default; no serializable reads), so a write
// acknowledged through one taskd is seen by a read through any other.
//
// Endpoints: each call goes to the member that answered last; one that refuses, times out
// (etcd_timeout) or answers 5xx is skipped for a second and the next is tried, round after
// round, until the operation's budget (etcd_retry) is spent: then taskd::unavailable (503 with
// Retry-After to the client). etcd's own 4xx answers are errors (io_error, etcd's message).
//
// Thread safety: the calls run on any shard; each shard has its own HTTP client and view of
// the members' health. close() must be awaited before the runtime stops.
#pragma once

#include "store.hpp"

#include <weir/tls/tls.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace taskd {

struct etcd_options {
  std::vector<std::string> endpoints;  // client URLs: http://host:port or https://...
  std::string prefix = "/taskd/";
  weir::tls::context tls;  // for https endpoints; empty: the system's trust store
  std::chrono::milliseconds timeout{1000};  // one call to one member
  std::chrono::milliseconds retry{2000};    // an operation's tries over the members
  std::size_t max_txn_ops = 128;            // the cluster's --max-txn-ops (the guard included)
};

// Checks the endpoints (each a URL the HTTP client can reach); does no I/O.
weir::result<std::unique_ptr<store>> open_etcd_store(etcd_options o);

// etcd's range end for "every key that starts with `p`": p with its last byte that is not 0xFF
// incremented (etcd's clientv3.GetPrefixRangeEnd); "\0" when there is none.
std::string prefix_range_end(std::string_view p);

}  // namespace taskd
