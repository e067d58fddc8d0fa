#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace vigie::testutil {

inline const absl::Status& GetStatus(const absl::Status& status) {
  return status;
}
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

}  // namespace vigie::testutil

#define EXPECT_OK(expr)                                \
  EXPECT_TRUE(::vigie::testutil::GetStatus(expr).ok()) \
      << ::vigie::testutil::GetStatus(expr)
#define ASSERT_OK(expr)                                \
  ASSERT_TRUE(::vigie::testutil::GetStatus(expr).ok()) \
      << ::vigie::testutil::GetStatus(expr)

#define VIGIE_TEST_CONCAT_INNER_(a, b) a##b
#define VIGIE_TEST_CONCAT_(a, b) VIGIE_TEST_CONCAT_INNER_(a, b)

// ASSERT_OK_AND_ASSIGN(lhs, expr): asserts the StatusOr `expr` is OK and
// moves its value into `lhs` (which may be a declaration).
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  VIGIE_ASSERT_OK_AND_ASSIGN_IMPL_(     \
      VIGIE_TEST_CONCAT_(vigie_test_statusor_, __LINE__), lhs, expr)
#define VIGIE_ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                     \
  ASSERT_TRUE(statusor.ok()) << statusor.status();            \
  lhs = std::move(statusor).value()
