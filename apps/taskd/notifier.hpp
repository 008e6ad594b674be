// taskd::notifier — the story's notifier: a request registers its id and waits; the applier
// triggers the id with the result.
//
//   taskd::notifier<reply> ntf(shards);
//   auto t = ntf.register_id(id);           // result<ticket>; errc duplicate_id
//   ... enqueue the request ...
//   auto r = co_await weir::with_timeout(5s, t->wait());   // result<reply>
//   ntf.trigger(id, reply{...});             // applier, any shard; errc unknown_id
//
// Where the Go original keeps a map of channels under one RWMutex and leaks the entry of a
// request that timed out, this one keeps a bucket per id prefix (the shard that made the id:
// id_generator), so a shard's registrations touch only its own bucket, and the entry belongs to
// the request's ticket: when the ticket goes (answered, timed out, cancelled, connection gone)
// its entry goes with it, so the table never holds an entry without a request. A trigger that
// comes after its request gave up finds nothing (unknown_id, counted).
//
// A bucket is an open-addressing table (linear probing, backward-shift deletion) under a
// spinlock that is free when there is one shard; it allocates only when it grows. The wait is
// a weir::completion labelled "taskd notifier": a result the applier never triggers would be
// reported as a lost wake-up, not a hang.
#pragma once

#include "id_gen.hpp"

#include <weir/core/completion.hpp>
#include <weir/core/result.hpp>
#include <weir/sync/detail/spinlock.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <vector>

namespace taskd {

enum class notifier_errc { duplicate_id = 1, unknown_id };
const std::error_category& notifier_category() noexcept;
inline std::error_code make_error_code(notifier_errc e) noexcept {
  return {static_cast<int>(e), notifier_category()};
}

}  // namespace taskd

template <>
struct std::is_error_code_enum<taskd::notifier_errc> : std::true_type {};

namespace taskd {

template <class R>
class notifier {
 public:
  // The registration of one request: wait() once for its result; destroying it removes the
  // entry (if the result has not come).
  class ticket {
   public:
    ticket(ticket&& o) noexcept
        : n_(std::exchange(o.n_, nullptr)), id_(o.id_), done_(std::move(o.done_)) {}
    ticket& operator=(ticket&&) = delete;
    ~ticket() {
      done_.reset();  // the waiting side first: the entry's source then dies unheard, not lost
      if (n_) n_->forget(id_);
    }
    std::uint64_t id() const noexcept { return id_; }
    // The awaitable result (result<R>); callable once.
    weir::completion<R> wait() noexcept { return std::move(*done_); }

   private:
    friend class notifier;
    ticket(notifier* n, std::uint64_t id, weir::completion<R> done) noexcept
        : n_(n), id_(id), done_(std::move(done)) {}
    notifier* n_;
    std::uint64_t id_;
    std::optional<weir::completion<R>> done_;
  };

  // `buckets`: one per id prefix in use (the shard count); `locked`: whether ids of a bucket
  // are registered and triggered from different threads (more than one shard).
  explicit notifier(unsigned buckets, bool locked = true) {
    buckets_.reserve(buckets);
    for (unsigned i = 0; i < buckets; ++i) buckets_.push_back(std::make_unique<bucket>(locked));
  }

  weir::result<ticket> register_id(std::uint64_t id) {
    auto [src, done] = weir::make_completion<R>("taskd notifier");
    bucket& b = bucket_of(id);
    {
      std::lock_guard lk(b.lock);
      if (!b.insert(id, std::move(src))) return weir::unexpected(notifier_errc::duplicate_id);
    }
    return ticket(this, id, std::move(done));
  }

  // Delivers `r` to the request registered as `id` and removes it (any thread).
  weir::result<void> trigger(std::uint64_t id, R r) {
    weir::completion_source<R> src;
    bucket& b = bucket_of(id);
    {
      std::lock_guard lk(b.lock);
      if (!b.take(id, src)) {
        ++b.unknown;
        return weir::unexpected(notifier_errc::unknown_id);
      }
    }
    src.fire(std::move(r));
    return {};
  }

  // Registered requests not yet triggered nor gone (for metrics; takes each bucket's lock).
  std::size_t pending() const noexcept { return sum(&bucket::used); }
  // Triggers that found no request (it had timed out or gone).
  std::size_t unknown_triggers() const noexcept { return sum(&bucket::unknown); }

 private:
  struct slot {
    std::uint64_t id = 0;
    weir::completion_source<R> src;  // valid(): the slot is used
  };
  struct alignas(64) bucket {
    explicit bucket(bool locked) : lock(locked), slots(64) {}
    mutable weir::detail::maybe_spinlock lock;
    std::vector<slot> slots;  // size: a power of two, at most half full
    std::size_t used = 0;
    std::size_t unknown = 0;  // triggers that found nothing

    std::size_t home(std::uint64_t id) const noexcept {
      return static_cast<std::size_t>((id * 0x9E3779B97F4A7C15ull) >> 32) & (slots.size() - 1);
    }
    bool insert(std::uint64_t id, weir::completion_source<R>&& src) {
      if ((used + 1) * 2 > slots.size()) grow();
      std::size_t i = home(id);
      while (slots[i].src.valid()) {
        if (slots[i].id == id) return false;
        i = (i + 1) & (slots.size() - 1);
      }
      slots[i].id = id;
      slots[i].src = std::move(src);
      ++used;
      return true;
    }
    bool take(std::uint64_t id, weir::completion_source<R>& out) noexcept {
      const std::size_t mask = slots.size() - 1;
      std::size_t i = home(id);
      while (slots[i].src.valid() && slots[i].id != id) i = (i + 1) & mask;
      if (!slots[i].src.valid()) return false;
      out = std::move(slots[i].src);
      --used;
      // Backward-shift deletion: pull later entries of the probe run into the hole.
      for (std::size_t j = (i + 1) & mask; slots[j].src.valid(); j = (j + 1) & mask) {
        const std::size_t k = home(slots[j].id);
        const bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays) continue;
        slots[i].id = slots[j].id;
        slots[i].src = std::move(slots[j].src);
        i = j;
      }
      return true;
    }
    void grow() {
      std::vector<slot> old(slots.size() * 2);
      old.swap(slots);
      used = 0;
      for (slot& s : old)
        if (s.src.valid()) insert(s.id, std::move(s.src));
    }
  };

  bucket& bucket_of(std::uint64_t id) noexcept {
    return *buckets_[id_generator::prefix_of(id) % buckets_.size()];
  }
  // The ticket's request gave up: its entry goes (its source dies with no one waiting).
  void forget(std::uint64_t id) noexcept {
    weir::completion_source<R> src;
    bucket& b = bucket_of(id);
    {
      std::lock_guard lk(b.lock);
      (void)b.take(id, src);  // false: triggered meanwhile
    }
  }
  std::size_t sum(std::size_t bucket::*field) const noexcept {
    std::size_t n = 0;
    for (const auto& b : buckets_) {
      std::lock_guard lk(b->lock);
      n += (*b).*field;
    }
    return n;
  }

  std::vector<std::unique_ptr<bucket>> buckets_;
};

}  // namespace taskd
