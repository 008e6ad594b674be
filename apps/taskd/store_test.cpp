#include "store.hpp"

#include <weir/testing/temp_dir.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using taskd::local_store;
using taskd::write_op;
using kind = write_op::kind;

// Every test runs on both local engines.
class Store : public ::testing::TestWithParam<const char*> {
 protected:
  std::unique_ptr<local_store> open_ok(const std::string& dir) const;
};

std::unique_ptr<local_store> Store::open_ok(const std::string& dir) const {
  auto r = taskd::open_local_store(GetParam(), dir, {});
  if (!r) {
    ADD_FAILURE() << r.error().message();
    return nullptr;
  }
  return std::move(*r);
}

std::string value_of(const local_store& s, std::string_view key) {
  auto e = s.get_now(key);
  EXPECT_TRUE(e) << e.error().message();
  return e && *e ? (*e)->value : "<absent>";
}

TEST_P(Store, RevisionsAreGlobalAndDeletesOfMissingKeysTakeNone) {
  weir::testing::temp_dir dir;
  auto s = open_ok(dir.path());
  ASSERT_TRUE(s);
  EXPECT_EQ(s->revision(), 0u);
  std::vector<write_op> b = {{kind::put, "a", "1"}, {kind::put, "b", "2"}, {kind::del, "zz", ""},
                             {kind::put, "a", "3"}, {kind::del, "b", ""},  {kind::del, "b", ""}};
  ASSERT_TRUE(s->commit_now(b, true));
  EXPECT_EQ(b[0].revision, 1u);
  EXPECT_EQ(b[1].revision, 2u);
  EXPECT_EQ(b[2].revision, 2u);  // missing: the current revision
  EXPECT_FALSE(b[2].existed);
  EXPECT_EQ(b[3].revision, 3u);
  EXPECT_EQ(b[4].revision, 4u);  // deletes what this batch put
  EXPECT_TRUE(b[4].existed);
  EXPECT_FALSE(b[5].existed);  // ... and then it is gone
  EXPECT_EQ(b[5].revision, 4u);
  EXPECT_EQ(s->revision(), 4u);
  EXPECT_EQ(value_of(*s, "a"), "3");
  EXPECT_EQ(value_of(*s, "b"), "<absent>");
  EXPECT_EQ((*s->get_now("a"))->mod_revision, 3u);
}

TEST_P(Store, ReopenRecoversValuesAndTheRevision) {
  weir::testing::temp_dir dir;
  {
    auto s = open_ok(dir.path());
    ASSERT_TRUE(s);
    for (int i = 0; i < 100; ++i) {
      const std::string k = "key" + std::to_string(i), v(static_cast<std::size_t>(i), 'v');
      std::vector<write_op> b = {{kind::put, k, v}};
      ASSERT_TRUE(s->commit_now(b, true));
    }
    std::vector<write_op> d = {{kind::del, "key7", ""}};
    ASSERT_TRUE(s->commit_now(d, true));
  }
  auto s = open_ok(dir.path());
  ASSERT_TRUE(s);
  EXPECT_EQ(s->revision(), 101u);
  EXPECT_EQ(value_of(*s, "key42"), std::string(42, 'v'));
  EXPECT_EQ(value_of(*s, "key7"), "<absent>");
  EXPECT_EQ(value_of(*s, "key0"), "");  // an empty value is a value
}

TEST_P(Store, ListsByPrefixInKeyOrderWithLimit) {
  weir::testing::temp_dir dir;
  auto s = open_ok(dir.path());
  ASSERT_TRUE(s);
  std::vector<write_op> b = {{kind::put, "job/2", "b"},
                             {kind::put, "job/1", "a"},
                             {kind::put, "jobs", "x"},
                             {kind::put, "job/3", "c"},
                             {kind::put, "other", "o"}};
  ASSERT_TRUE(s->commit_now(b, false));
  auto l = s->list_now("job/", 2);
  ASSERT_TRUE(l) << l.error().message();
  ASSERT_EQ(l->kvs.size(), 2u);
  EXPECT_TRUE(l->more);
  EXPECT_EQ(l->kvs[0].key, "job/1");
  EXPECT_EQ(l->kvs[1].key, "job/2");
  EXPECT_EQ(l->kvs[1].value, "b");
  l = s->list_now("job/", 10);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->kvs.size(), 3u);
  EXPECT_FALSE(l->more);
  l = s->list_now("", 100);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->kvs.size(), 5u);  // the revision record is not a key
}

TEST_P(Store, BinaryKeysAndValuesRoundTrip) {
  weir::testing::temp_dir dir;
  auto s = open_ok(dir.path());
  ASSERT_TRUE(s);
  const std::string key("k\0\xff", 3), value("\0\1\2\xfe", 4);
  std::vector<write_op> b = {{kind::put, key, value}};
  ASSERT_TRUE(s->commit_now(b, true));
  EXPECT_EQ(value_of(*s, key), value);
}

// Keys longer than LMDB's record key (500 bytes here) share a bucket per 500-byte head: they
// must still read back, delete, and list in key order among the short keys.
TEST_P(Store, LongKeysKeepKeyOrder) {
  weir::testing::temp_dir dir;
  auto s = open_ok(dir.path());
  ASSERT_TRUE(s);
  const std::string head(500, 'h');
  const std::string a = head + "a", b = head + "b" + std::string(2000, 'x'), c = head + "c";
  const std::string before = std::string(499, 'h') + "g", after = std::string(499, 'h') + "i";
  const std::string missing = head + "zz";  // named: write_op holds views
  std::vector<write_op> w = {{kind::put, c, "3"},      {kind::put, a, "1"},  {kind::put, b, "2"},
                             {kind::put, head, "0"},   {kind::put, before, "<"},
                             {kind::put, after, ">"},  {kind::del, a, ""},   {kind::del, a, ""},
                             {kind::put, a, "1again"}, {kind::del, missing, ""}};
  ASSERT_TRUE(s->commit_now(w, true));
  EXPECT_TRUE(w[6].existed);
  EXPECT_FALSE(w[7].existed);
  EXPECT_FALSE(w[9].existed);
  EXPECT_EQ(value_of(*s, a), "1again");
  EXPECT_EQ(value_of(*s, b), "2");
  EXPECT_EQ(value_of(*s, head), "0");
  EXPECT_EQ(value_of(*s, head + "q"), "<absent>");
  EXPECT_EQ((*s->get_now(c))->mod_revision, 1u);
  auto l = s->list_now(std::string(499, 'h'), 100);
  ASSERT_TRUE(l) << l.error().message();
  std::vector<std::string> keys;
  for (const auto& e : l->kvs) keys.push_back(e.key);
  EXPECT_EQ(keys, (std::vector<std::string>{before, head, a, b, c, after}));
  l = s->list_now(head + "b", 100);  // a prefix longer than a record key: its bucket
  ASSERT_TRUE(l);
  ASSERT_EQ(l->kvs.size(), 1u);
  EXPECT_EQ(l->kvs[0].key, b);
  l = s->list_now(head, 2);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->kvs.size(), 2u);
  EXPECT_TRUE(l->more);
  std::vector<write_op> d = {{kind::del, a, ""}, {kind::del, b, ""}, {kind::del, c, ""}};
  ASSERT_TRUE(s->commit_now(d, true));
  l = s->list_now(head, 100);
  ASSERT_TRUE(l);
  ASSERT_EQ(l->kvs.size(), 1u);  // the short key `head` alone
}

TEST_P(Store, OpenFailsWithTheDirectoryNamed) {
  auto r = taskd::open_local_store(GetParam(), "/proc/taskd-cannot-be-here", {});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("/proc/taskd-cannot-be-here"), std::string::npos)
      << r.error().message();
}

// A directory holding one engine's files is refused by the other, naming the flag to use.
TEST(StoreEngines, TheOtherEnginesDirectoryIsRefused) {
  weir::testing::temp_dir dir;
  for (const char* first : {"lmdb", "rocksdb"}) {
    const std::string d = dir.path() + "/" + first;
    const std::string other = first == std::string("lmdb") ? "rocksdb" : "lmdb";
    ASSERT_TRUE(taskd::open_local_store(first, d, {}));
    auto r = taskd::open_local_store(other, d, {});
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("--store " + std::string(first)), std::string::npos)
        << r.error().message();
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, Store, ::testing::Values("lmdb", "rocksdb"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
