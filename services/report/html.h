#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

// Small pieces of HTML writing shared by the report's sections.

namespace vigie::report {

// `text` with &, <, >, " and ' escaped: safe in element content and in
// quoted attribute values. Model ids, group labels and alert messages come
// from producers, so every one of them goes through this.
std::string Escape(absl::string_view text);

// A figure for people: three significant digits ("0.412", "1.23e-05"),
// "—" when absent.
std::string Number(std::optional<double> value);
// A share as a percentage with one decimal ("41.2%"), "—" when absent.
std::string Percent(std::optional<double> share);
// A count with thousands separators ("1,234,567").
std::string Count(uint64_t n);
// "2026-01-05 14:00 UTC".
std::string Time(absl::Time t);

}  // namespace vigie::report
