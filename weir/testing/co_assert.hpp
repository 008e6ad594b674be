// gtest's ASSERT_* return from the function, which a coroutine cannot do: CO_ASSERT_TRUE
// records the failure and co_returns instead (for task<> bodies).
#pragma once

#include <gtest/gtest.h>

#define CO_ASSERT_TRUE(cond)                      \
  if (!static_cast<bool>(cond)) {                 \
    ADD_FAILURE() << "CO_ASSERT_TRUE(" #cond ")"; \
    co_return;                                    \
  } else                                          \
    ::testing::Message()
#define CO_ASSERT_FALSE(cond) CO_ASSERT_TRUE(!(cond))
