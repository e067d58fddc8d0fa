#include "rules/summary.h"

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "proto/alert_names.h"

namespace vigie::rules {
namespace {

std::string Scope(const vigie::v1::Alert& alert) {
  std::string out;
  for (const char* key : {"attribute", "feature", "group"}) {
    auto it = alert.scope().find(key);
    if (it == alert.scope().end() || it->second.empty()) continue;
    absl::StrAppend(&out, out.empty() ? "" : ", ", it->second);
  }
  return out.empty() ? "the model" : out;
}

// The value of placeholder `name`; false if there is no such placeholder.
bool Lookup(absl::string_view name, const vigie::v1::Alert* alert,
            std::string* out) {
  using Getter = std::function<std::string(const vigie::v1::Alert&)>;
  static const auto* const kFields = new std::vector<
      std::pair<absl::string_view, Getter>>{
      {"rule", [](const auto& a) { return a.rule_id(); }},
      {"model", [](const auto& a) { return a.model_id(); }},
      {"model_version",
       [](const auto& a) {
         return a.model_version().empty() ? std::string("unknown")
                                          : a.model_version();
       }},
      {"metric", [](const auto& a) { return a.metric(); }},
      {"scope", [](const auto& a) { return Scope(a); }},
      {"severity",
       [](const auto& a) {
         // Read by people: "insufficient data", not the label.
         return absl::StrReplaceAll(SeverityName(a.severity()), {{"_", " "}});
       }},
      {"state",
       [](const auto& a) { return std::string(AlertStateName(a.state())); }},
      {"value",
       [](const auto& a) {
         // Counts (missed windows) read as counts.
         return a.value() == std::floor(a.value()) && std::abs(a.value()) < 1e9
                    ? absl::StrCat(static_cast<int64_t>(a.value()))
                    : absl::StrFormat("%.4f", a.value());
       }},
      {"threshold", [](const auto& a) { return absl::StrCat(a.threshold()); }},
      {"comparison", [](const auto& a) { return a.comparison(); }},
      {"interval",
       [](const auto& a) {
         return a.has_value_interval()
                    ? absl::StrFormat("[%.4f, %.4f]",
                                      a.value_interval().lower(),
                                      a.value_interval().upper())
                    : std::string("n/a");
       }},
      {"p_value",
       [](const auto& a) {
         return a.has_p_value() ? absl::StrFormat("%.2g", a.p_value())
                                : std::string("n/a");
       }},
      {"high_group", [](const auto& a) { return a.high_group(); }},
      {"low_group", [](const auto& a) { return a.low_group(); }},
      {"element", [](const auto& a) { return a.element(); }},
      {"referential", [](const auto& a) { return a.referential(); }},
      {"ai_act_articles",
       [](const auto& a) { return absl::StrJoin(a.ai_act_articles(), ", "); }},
      {"window",
       [](const auto& a) {
         if (!a.window().has_end()) return std::string("n/a");
         auto format = [](const google::protobuf::Timestamp& t) {
           return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                                   absl::FromUnixSeconds(t.seconds()) +
                                       absl::Nanoseconds(t.nanos()),
                                   absl::UTCTimeZone());
         };
         return absl::StrCat(a.window().has_start() ? format(a.window().start())
                                                    : std::string("start"),
                             " to ", format(a.window().end()));
       }},
  };
  for (const auto& [field, get] : *kFields) {
    if (field != name) continue;
    if (alert != nullptr) *out = get(*alert);
    return true;
  }
  return false;
}

// Expands `summary`, or with a null alert only checks it.
absl::Status Expand(absl::string_view summary, const vigie::v1::Alert* alert,
                    std::string* out) {
  for (size_t i = 0; i < summary.size(); ++i) {
    const char c = summary[i];
    if ((c == '{' || c == '}') && i + 1 < summary.size() &&
        summary[i + 1] == c) {
      out->push_back(c);
      ++i;
      continue;
    }
    if (c == '}') {
      return absl::InvalidArgumentError(
          absl::StrCat("unmatched '}' at offset ", i, " (write }} for one)"));
    }
    if (c != '{') {
      out->push_back(c);
      continue;
    }
    const size_t close = summary.find('}', i);
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("unclosed '{' at offset ", i, " (write {{ for one)"));
    }
    const absl::string_view name = summary.substr(i + 1, close - i - 1);
    std::string value;
    if (!Lookup(name, alert, &value)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown placeholder {", name,
          "}; known: {rule} {model} {model_version} {metric} {scope} "
          "{severity} {state} {value} {threshold} {comparison} {interval} "
          "{p_value} {high_group} {low_group} {element} {referential} "
          "{ai_act_articles} {window}"));
    }
    out->append(value);
    i = close;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateSummary(absl::string_view summary) {
  std::string ignored;
  return Expand(summary, nullptr, &ignored);
}

std::string RenderSummary(absl::string_view summary,
                          const vigie::v1::Alert& alert) {
  std::string out;
  if (!Expand(summary.empty() ? kDefaultSummary : summary, &alert, &out).ok()) {
    // Validated with the policy; should it not be, say so rather than
    // sending half a sentence.
    out.clear();
    Expand(kDefaultSummary, &alert, &out).IgnoreError();
  }
  return out;
}

}  // namespace vigie::rules
