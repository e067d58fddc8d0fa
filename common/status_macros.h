#ifndef VIGIE_COMMON_STATUS_MACROS_H_
#define VIGIE_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// RETURN_IF_ERROR(expr): returns the status of `expr` from the enclosing
// function when it is not OK.
#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    ::absl::Status vigie_status_ = (expr);             \
    if (!vigie_status_.ok()) return vigie_status_;     \
  } while (false)

#define VIGIE_CONCAT_INNER_(a, b) a##b
#define VIGIE_CONCAT_(a, b) VIGIE_CONCAT_INNER_(a, b)

// ASSIGN_OR_RETURN(lhs, expr): evaluates the StatusOr `expr`; returns its
// status when it is not OK, else moves its value into `lhs` (which may be a
// declaration such as `auto x`).
#define ASSIGN_OR_RETURN(lhs, expr) \
  VIGIE_ASSIGN_OR_RETURN_IMPL_(VIGIE_CONCAT_(vigie_statusor_, __LINE__), lhs, expr)

#define VIGIE_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // VIGIE_COMMON_STATUS_MACROS_H_
