#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define VIGIE_CONCAT_INNER_(a, b) a##b
#define VIGIE_CONCAT_(a, b) VIGIE_CONCAT_INNER_(a, b)

// RETURN_IF_ERROR(expr): returns the status of `expr` from the enclosing
// function when it is not OK. __COUNTER__ names the temporary, so that uses
// nested in a lambda inside another use do not shadow each other.
#define RETURN_IF_ERROR(expr) \
  VIGIE_RETURN_IF_ERROR_IMPL_(VIGIE_CONCAT_(vigie_status_, __COUNTER__), expr)
#define VIGIE_RETURN_IF_ERROR_IMPL_(status, expr) \
  do {                                            \
    ::absl::Status status = (expr);               \
    if (!status.ok()) return status;              \
  } while (false)

// ASSIGN_OR_RETURN(lhs, expr): evaluates the StatusOr `expr`; returns its
// status when it is not OK, else moves its value into `lhs` (which may be a
// declaration such as `auto x`).
#define ASSIGN_OR_RETURN(lhs, expr)                                         \
  VIGIE_ASSIGN_OR_RETURN_IMPL_(VIGIE_CONCAT_(vigie_statusor_, __COUNTER__), \
                               lhs, expr)
#define VIGIE_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr)  \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()
