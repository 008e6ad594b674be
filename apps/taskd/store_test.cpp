#include "store.hpp"

#include <weir/testing/temp_dir.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using taskd::store;
using taskd::write_op;
using kind = write_op::kind;

std::unique_ptr<store> open_ok(const std::string& dir) {
  auto r = store::open(dir);
  if (!r) {
    ADD_FAILURE() << r.error().message();
    return nullptr;
  }
  return std::move(*r);
}

std::string value_of(const store& s, std::string_view key) {
  auto e = s.get(key);
  EXPECT_TRUE(e) << e.error().message();
  return e && *e ? (*e)->value : "<absent>";
}

TEST(Store, RevisionsAreGlobalAndDeletesOfMissingKeysTakeNone) {
  weir::testing::temp_dir dir;
  auto s = open_ok(dir.path());
  ASSERT_TRUE(s);
  EXPECT_EQ(s->revision(), 0u);
  std::vector<write_op> b = {{kind::put, "a", "1"}, {kind::put, "b", "2"}, {kind::del, "zz", ""},
                             {kind::put, "a", "3"}, {kind::del, "b", ""},  {kind::del, "b", ""}};
  ASSERT_TRUE(s->commit(b, true));
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
  EXPECT_EQ((*s->get("a"))->mod_revision, 3u);
}

TEST(Store, ReopenRecoversValuesAndTheRevision) {
  weir::testing::temp_dir dir;
  {
    auto s = open_ok(dir.path());
    ASSERT_TRUE(s);
    for (int i = 0; i < 100; ++i) {
      const std::string k = "key" + std::to_string(i), v(static_cast<std::size_t>(i), 'v');
      std::vector<write_op> b = {{kind::put, k, v}};
      ASSERT_TRUE(s->commit(b, true));
    }
    std::vector<write_op> d = {{kind::del, "key7", ""}};
    ASSERT_TRUE(s->commit(d, true));
  }
  auto s = open_ok(dir.path());
  ASSERT_TRUE(s);
  EXPECT_EQ(s->revision(), 101u);
  EXPECT_EQ(value_of(*s, "key42"), std::string(42, 'v'));
  EXPECT_EQ(value_of(*s, "key7"), "<absent>");
  EXPECT_EQ(value_of(*s, "key0"), "");  // an empty value is a value
}

TEST(Store, ListsByPrefixInKeyOrderWithLimit) {
  weir::testing::temp_dir dir;
  auto s = open_ok(dir.path());
  ASSERT_TRUE(s);
  std::vector<write_op> b = {{kind::put, "job/2", "b"},
                             {kind::put, "job/1", "a"},
                             {kind::put, "jobs", "x"},
                             {kind::put, "job/3", "c"},
                             {kind::put, "other", "o"}};
  ASSERT_TRUE(s->commit(b, false));
  auto l = s->list("job/", 2);
  ASSERT_TRUE(l) << l.error().message();
  ASSERT_EQ(l->kvs.size(), 2u);
  EXPECT_TRUE(l->more);
  EXPECT_EQ(l->kvs[0].key, "job/1");
  EXPECT_EQ(l->kvs[1].key, "job/2");
  EXPECT_EQ(l->kvs[1].value, "b");
  l = s->list("job/", 10);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->kvs.size(), 3u);
  EXPECT_FALSE(l->more);
  l = s->list("", 100);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->kvs.size(), 5u);  // the revision record is not a key
}

TEST(Store, BinaryKeysAndValuesRoundTrip) {
  weir::testing::temp_dir dir;
  auto s = open_ok(dir.path());
  ASSERT_TRUE(s);
  const std::string key("k\0\xff", 3), value("\0\1\2\xfe", 4);
  std::vector<write_op> b = {{kind::put, key, value}};
  ASSERT_TRUE(s->commit(b, true));
  EXPECT_EQ(value_of(*s, key), value);
}

TEST(Store, OpenFailsWithTheDirectoryNamed) {
  auto r = store::open("/proc/taskd-cannot-be-here");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::io_error);
  EXPECT_NE(r.error().message().find("/proc/taskd-cannot-be-here"), std::string::npos)
      << r.error().message();
}

}  // namespace
