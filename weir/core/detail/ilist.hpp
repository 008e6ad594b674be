// Intrusive circular doubly-linked list with a sentinel: O(1) push, pop and unlink of a node
// without knowing its list. Nodes live inside awaiters (in coroutine frames), timers and
// cancel callbacks, so waiting never allocates. Not thread-safe.
#pragma once

namespace weir::detail {

struct ilist_node {
  ilist_node* prev = nullptr;
  ilist_node* next = nullptr;

  bool linked() const noexcept { return next != nullptr; }
  void unlink() noexcept {
    if (!next) return;
    prev->next = next;
    next->prev = prev;
    prev = next = nullptr;
  }
};

class ilist {
 public:
  ilist() noexcept { head_.prev = head_.next = &head_; }
  ilist(const ilist&) = delete;
  ilist& operator=(const ilist&) = delete;
  ~ilist() { clear(); }

  bool empty() const noexcept { return head_.next == &head_; }
  ilist_node* front() const noexcept { return empty() ? nullptr : head_.next; }

  void push_back(ilist_node* n) noexcept {
    n->prev = head_.prev;
    n->next = &head_;
    head_.prev->next = n;
    head_.prev = n;
  }
  ilist_node* pop_front() noexcept {
    if (empty()) return nullptr;
    ilist_node* n = head_.next;
    n->unlink();
    return n;
  }
  ilist_node* pop_back() noexcept {
    if (empty()) return nullptr;
    ilist_node* n = head_.prev;
    n->unlink();
    return n;
  }
  // Moves every node of `other` to the back of this list.
  void splice_back(ilist& other) noexcept {
    while (ilist_node* n = other.pop_front()) push_back(n);
  }
  // Unlinks all nodes (they become unlinked, not destroyed).
  void clear() noexcept {
    while (pop_front()) {
    }
  }

  template <class F>
  void for_each(F&& f) const {
    for (ilist_node* n = head_.next; n != &head_; n = n->next) f(n);
  }

 private:
  ilist_node head_;
};

}  // namespace weir::detail
