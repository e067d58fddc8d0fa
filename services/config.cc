#include "services/config.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "sinks/kafka.h"
#include "yaml-cpp/yaml.h"

namespace vigie::services {
namespace {

// yaml-cpp throws: the code below avoids its throwing calls (as<T>,
// operator[] on a missing key) and runs inside ParseGuarded anyway.

// "source:line:column", 1-based (yaml-cpp counts from 0; -1: no position).
std::string Where(absl::string_view source, const YAML::Mark& mark) {
  if (mark.line < 0) return std::string(source);
  return absl::StrCat(source, ":", mark.line + 1, ":", mark.column + 1);
}

// A YAML mapping whose keys were checked against a list, read key by key.
// A key with a null value (`key:` or `key: ~`) counts as absent.
struct Mapping {
  absl::string_view source;
  YAML::Node node;
  std::string path;  // Of the mapping in the document, e.g. "models[0]".
  std::vector<std::pair<YAML::Node, YAML::Node>> fields;

  // The value of `key`, or null if absent.
  const YAML::Node* Find(absl::string_view key) const {
    for (const auto& [k, v] : fields) {
      if (k.Scalar() == key) return &v;
    }
    return nullptr;
  }
  std::string Path(absl::string_view key) const {
    return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
  }
  // "source:line:column: path.key: what", at the position of `at`.
  absl::Status Error(const YAML::Node& at, absl::string_view key,
                     absl::string_view what) const {
    const std::string where = key.empty() ? path : Path(key);
    return absl::InvalidArgumentError(
        absl::StrCat(Where(source, at.Mark()), ": ", where,
                     where.empty() ? "" : ": ", what));
  }
};

absl::StatusOr<Mapping> ReadMapping(absl::string_view source,
                                    const YAML::Node& node, std::string path,
                                    std::vector<absl::string_view> allowed) {
  Mapping m{source, node, std::move(path), {}};
  if (node.IsNull()) return m;
  if (!node.IsMap()) return m.Error(node, "", "must be a mapping");
  absl::flat_hash_set<std::string> seen;
  for (const auto& entry : node) {
    const YAML::Node& key = entry.first;
    if (!key.IsScalar()) return m.Error(key, "", "keys must be strings");
    const std::string& name = key.Scalar();
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      return m.Error(key, "",
                     absl::StrCat("unknown key \"", name, "\"; allowed: ",
                                  absl::StrJoin(allowed, ", ")));
    }
    if (!seen.insert(name).second) return m.Error(key, name, "appears twice");
    if (!entry.second.IsNull()) m.fields.emplace_back(key, entry.second);
  }
  return m;
}

// absl::ParseDuration's syntax ("90s", "1h30m") after an optional whole or
// decimal number of days: "7d", "1.5d", "1d12h".
bool Convert(const std::string& text, absl::Duration* out) {
  absl::string_view rest = text;
  double days = 0;
  if (const size_t d = rest.find('d'); d != absl::string_view::npos) {
    if (!absl::SimpleAtod(rest.substr(0, d), &days) ||
        !(std::abs(days) <= 1e6)) {
      return false;
    }
    rest.remove_prefix(d + 1);
    if (!rest.empty() && (rest[0] == '-' || rest[0] == '+')) return false;
  }
  absl::Duration parsed = absl::ZeroDuration();
  if (text.empty() ||
      (!rest.empty() && (!absl::ParseDuration(rest, &parsed) ||
                         parsed == absl::InfiniteDuration() ||
                         parsed == -absl::InfiniteDuration()))) {
    return false;
  }
  *out = absl::Hours(24) * days + parsed;
  return true;
}
// A size in bytes: a whole number of bytes ("524288") or of KiB, MiB or GiB
// ("64MiB", "1GiB"; 1 KiB = 1024 bytes). Units are binary and spelt
// exactly so: "64MB" would leave unclear whether 10^6 or 2^20 was meant.
struct ByteSize {
  uint64_t bytes = 0;
};
bool Convert(const std::string& text, ByteSize* out) {
  absl::string_view number = text;
  uint64_t unit = 1;
  for (const auto& [suffix, multiplier] :
       {std::pair<absl::string_view, uint64_t>{"KiB", uint64_t{1} << 10},
        {"MiB", uint64_t{1} << 20},
        {"GiB", uint64_t{1} << 30}}) {
    if (absl::ConsumeSuffix(&number, suffix)) {
      unit = multiplier;
      break;
    }
  }
  uint64_t value = 0;
  // Digits only: SimpleAtoi would also take a sign and spaces.
  if (number.empty() ||
      !std::all_of(number.begin(), number.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(number, &value) ||
      value > std::numeric_limits<uint64_t>::max() / unit) {
    return false;
  }
  out->bytes = value * unit;
  return true;
}
bool Convert(const std::string& text, std::string* out) {
  *out = text;
  return true;
}
bool Convert(const std::string& text, double* out) {
  return absl::SimpleAtod(text, out) && std::isfinite(*out);
}
bool Convert(const std::string& text, std::optional<double>* out) {
  double value = 0;
  if (!Convert(text, &value)) return false;
  *out = value;
  return true;
}
template <typename Int>
bool Convert(const std::string& text, Int* out) {
  uint64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) ||
      value > std::numeric_limits<Int>::max()) {
    return false;
  }
  *out = static_cast<Int>(value);
  return true;
}
// YAML 1.2's core schema booleans, not yaml-cpp's YAML 1.1 set (y, on, ...).
bool Convert(const std::string& text, bool* out) {
  *out = text == "true" || text == "True" || text == "TRUE";
  return *out || text == "false" || text == "False" || text == "FALSE";
}

template <typename T>
std::string Kind() {
  if constexpr (std::is_same_v<T, std::string>) return "a string";
  if constexpr (std::is_same_v<T, bool>) return "true or false";
  if constexpr (std::is_same_v<T, absl::Duration>) {
    return "a duration such as \"30s\", \"5m\", \"1h\" or \"7d\"";
  }
  if constexpr (std::is_same_v<T, ByteSize>) {
    return "a size in bytes such as \"524288\", \"64KiB\", \"64MiB\" or "
           "\"1GiB\"";
  }
  if constexpr (std::is_unsigned_v<T>) return "a non-negative integer";
  return "a finite number";
}

// Reads the scalar `key` into *out, left unchanged when `key` is absent.
template <typename T>
absl::Status Get(const Mapping& m, absl::string_view key, T* out) {
  const YAML::Node* v = m.Find(key);
  if (v == nullptr) return absl::OkStatus();
  if (!v->IsScalar() || !Convert(v->Scalar(), out)) {
    return m.Error(*v, key,
                   absl::StrCat("must be ", Kind<T>(), ", got ",
                                v->IsScalar() ? v->Scalar() : "a collection"));
  }
  return absl::OkStatus();
}

absl::Status Get(const Mapping& m, absl::string_view key,
                 std::vector<std::string>* out) {
  const YAML::Node* v = m.Find(key);
  if (v == nullptr) return absl::OkStatus();
  out->clear();
  if (v->IsSequence()) {
    for (const YAML::Node& item : *v) {
      if (!item.IsScalar()) break;
      out->push_back(item.Scalar());
    }
    if (out->size() == v->size()) return absl::OkStatus();
  }
  return m.Error(*v, key, "must be a list of strings");
}

// A mapping of strings to strings, such as reference_groups: {race: White}.
absl::Status Get(const Mapping& m, absl::string_view key,
                 std::map<std::string, std::string>* out) {
  const YAML::Node* v = m.Find(key);
  if (v == nullptr) return absl::OkStatus();
  out->clear();
  if (v->IsMap()) {
    for (const auto& item : *v) {
      if (!item.first.IsScalar() || !item.second.IsScalar()) break;
      (*out)[item.first.Scalar()] = item.second.Scalar();
    }
    if (out->size() == v->size()) return absl::OkStatus();
  }
  return m.Error(*v, key, "must be a mapping of names to group labels");
}

// Reads the scalar `key` into *out when present, as Get does.
template <typename T>
absl::Status GetOptional(const Mapping& m, absl::string_view key,
                         std::optional<T>* out) {
  if (m.Find(key) == nullptr) return absl::OkStatus();
  T value{};
  RETURN_IF_ERROR(Get(m, key, &value));
  *out = std::move(value);
  return absl::OkStatus();
}

// A list of lists of strings, such as intersections: [[race, sex]].
absl::Status Get(const Mapping& m, absl::string_view key,
                 std::vector<std::vector<std::string>>* out) {
  const YAML::Node* v = m.Find(key);
  if (v == nullptr) return absl::OkStatus();
  out->clear();
  if (v->IsSequence()) {
    for (const YAML::Node& list : *v) {
      if (!list.IsSequence()) break;
      std::vector<std::string>& names = out->emplace_back();
      for (const YAML::Node& item : list) {
        if (!item.IsScalar()) break;
        names.push_back(item.Scalar());
      }
      if (names.size() != list.size()) break;
    }
    if (out->size() == v->size() &&
        (out->empty() || out->back().size() == (*v)[out->size() - 1].size())) {
      return absl::OkStatus();
    }
  }
  return m.Error(*v, key, "must be a list of lists of strings");
}

// Calls read(item, index) for each item of the list `key`.
template <typename Read>
absl::Status ForEach(const Mapping& m, absl::string_view key, Read read) {
  const YAML::Node* list = m.Find(key);
  if (list == nullptr) return absl::OkStatus();
  if (!list->IsSequence()) return m.Error(*list, key, "must be a list");
  size_t i = 0;
  for (const YAML::Node& item : *list) RETURN_IF_ERROR(read(item, i++));
  return absl::OkStatus();
}

// Prefixes a Validate() error with where the validated mapping starts.
absl::Status At(const Mapping& m, absl::Status status) {
  if (status.ok()) return status;
  return m.Error(m.node, "", status.message());
}

// Reads the mapping `properties` of librdkafka settings into `out`, each
// checked by check(name, value), so that an error names its line.
absl::Status GetKafkaProperties(const Mapping& m,
                                absl::Status (*check)(absl::string_view name,
                                                      absl::string_view value),
                                std::map<std::string, std::string>* out) {
  const YAML::Node* props = m.Find("properties");
  if (props == nullptr) return absl::OkStatus();
  if (!props->IsMap()) {
    return m.Error(*props, "properties",
                   "must be a mapping of librdkafka settings");
  }
  for (const auto& entry : *props) {
    const YAML::Node& name = entry.first;
    if (!name.IsScalar() || !entry.second.IsScalar()) {
      return m.Error(name, "properties", "must map setting names to values");
    }
    const std::string setting = absl::StrCat("properties.", name.Scalar());
    if (out->count(name.Scalar()) > 0) {
      return m.Error(name, setting, "appears twice");
    }
    if (absl::Status checked = check(name.Scalar(), entry.second.Scalar());
        !checked.ok()) {
      return m.Error(name, setting, checked.message());
    }
    (*out)[name.Scalar()] = entry.second.Scalar();
  }
  return absl::OkStatus();
}

// The keys of a level, in rules and overrides alike.
const std::vector<absl::string_view> kLevelKeys = {
    "value",         "max_p_value", "min_interval_lower", "min_null_quantile",
    "min_shortfall", "windows",     "worsening_windows",  "budget_share"};

// A rule's level. `value` is required but for the conformal coverage
// metrics, whose levels are conditions only.
absl::StatusOr<std::optional<rules::Threshold>> ReadThreshold(
    const Mapping& parent, absl::string_view key, bool value_required) {
  const YAML::Node* node = parent.Find(key);
  if (node == nullptr) return std::optional<rules::Threshold>();
  ASSIGN_OR_RETURN(Mapping m, ReadMapping(parent.source, *node,
                                          parent.Path(key), kLevelKeys));
  if (value_required && m.Find("value") == nullptr) {
    return m.Error(*node, "value", "is required");
  }
  rules::Threshold threshold;
  RETURN_IF_ERROR(Get(m, "value", &threshold.value));
  RETURN_IF_ERROR(Get(m, "max_p_value", &threshold.max_p_value));
  RETURN_IF_ERROR(Get(m, "min_interval_lower", &threshold.min_interval_lower));
  RETURN_IF_ERROR(Get(m, "min_null_quantile", &threshold.min_null_quantile));
  RETURN_IF_ERROR(Get(m, "min_shortfall", &threshold.min_shortfall));
  RETURN_IF_ERROR(GetOptional(m, "windows", &threshold.windows));
  RETURN_IF_ERROR(
      GetOptional(m, "worsening_windows", &threshold.worsening_windows));
  RETURN_IF_ERROR(Get(m, "budget_share", &threshold.budget_share));
  return std::optional<rules::Threshold>(threshold);
}

// baseline: a number (declared), or "reference" (the model's frozen
// reference window).
absl::Status GetBaseline(const Mapping& m, double* baseline,
                         bool* from_reference) {
  const YAML::Node* v = m.Find("baseline");
  if (v == nullptr) return absl::OkStatus();
  if (v->IsScalar() && v->Scalar() == "reference") {
    *from_reference = true;
    return absl::OkStatus();
  }
  if (!v->IsScalar() || !Convert(v->Scalar(), baseline)) {
    return m.Error(*v, "baseline",
                   absl::StrCat("must be a number or \"reference\", got ",
                                v->IsScalar() ? v->Scalar() : "a collection"));
  }
  return absl::OkStatus();
}

// A rule's min_sample mapping, into a rule's counts or an override's
// optional ones (left unchanged when absent).
template <typename T>
absl::Status ReadMinSample(const Mapping& m, T* predictions, T* positives,
                           T* negatives, T* selected, T* labelled, T* current,
                           T* reference, T* lists) {
  const YAML::Node* v = m.Find("min_sample");
  if (v == nullptr) return absl::OkStatus();
  ASSIGN_OR_RETURN(
      Mapping s,
      ReadMapping(m.source, *v, m.Path("min_sample"),
                  {"predictions_per_group", "positives_per_group",
                   "negatives_per_group", "selected_in_reference_group",
                   "labelled", "current", "reference", "lists"}));
  auto get = [&](absl::string_view key, T* out) {
    if constexpr (std::is_same_v<T, std::optional<uint64_t>>) {
      return GetOptional(s, key, out);
    } else {
      return Get(s, key, out);
    }
  };
  RETURN_IF_ERROR(get("predictions_per_group", predictions));
  RETURN_IF_ERROR(get("positives_per_group", positives));
  RETURN_IF_ERROR(get("negatives_per_group", negatives));
  RETURN_IF_ERROR(get("selected_in_reference_group", selected));
  RETURN_IF_ERROR(get("current", current));
  RETURN_IF_ERROR(get("reference", reference));
  RETURN_IF_ERROR(get("lists", lists));
  return get("labelled", labelled);
}

// An override's level: every field optional.
absl::StatusOr<std::optional<rules::RuleOverride::Level>> ReadOverrideLevel(
    const Mapping& parent, absl::string_view key) {
  const YAML::Node* node = parent.Find(key);
  if (node == nullptr) return std::optional<rules::RuleOverride::Level>();
  ASSIGN_OR_RETURN(Mapping m, ReadMapping(parent.source, *node,
                                          parent.Path(key), kLevelKeys));
  rules::RuleOverride::Level level;
  RETURN_IF_ERROR(GetOptional(m, "value", &level.value));
  RETURN_IF_ERROR(GetOptional(m, "max_p_value", &level.max_p_value));
  RETURN_IF_ERROR(
      GetOptional(m, "min_interval_lower", &level.min_interval_lower));
  RETURN_IF_ERROR(
      GetOptional(m, "min_null_quantile", &level.min_null_quantile));
  RETURN_IF_ERROR(GetOptional(m, "min_shortfall", &level.min_shortfall));
  RETURN_IF_ERROR(GetOptional(m, "windows", &level.windows));
  RETURN_IF_ERROR(
      GetOptional(m, "worsening_windows", &level.worsening_windows));
  RETURN_IF_ERROR(Get(m, "budget_share", &level.budget_share));
  return std::optional<rules::RuleOverride::Level>(level);
}

absl::StatusOr<rules::RuleOverride> ReadOverride(absl::string_view source,
                                                 const YAML::Node& node,
                                                 std::string path) {
  ASSIGN_OR_RETURN(
      Mapping m,
      ReadMapping(
          source, node, std::move(path),
          {"rules", "models", "attributes", "features", "enabled", "warning",
           "critical", "confidence", "baseline", "window", "min_sample", "for",
           "keep_firing_for", "runbook", "summary", "threshold_source"}));
  rules::RuleOverride o;
  RETURN_IF_ERROR(Get(m, "rules", &o.rules));
  RETURN_IF_ERROR(Get(m, "models", &o.models));
  RETURN_IF_ERROR(Get(m, "attributes", &o.attributes));
  RETURN_IF_ERROR(Get(m, "features", &o.features));
  RETURN_IF_ERROR(GetOptional(m, "enabled", &o.enabled));
  ASSIGN_OR_RETURN(o.warning, ReadOverrideLevel(m, "warning"));
  ASSIGN_OR_RETURN(o.critical, ReadOverrideLevel(m, "critical"));
  RETURN_IF_ERROR(GetOptional(m, "confidence", &o.confidence));
  if (m.Find("baseline") != nullptr) {
    double baseline = 0;
    bool from_reference = false;
    RETURN_IF_ERROR(GetBaseline(m, &baseline, &from_reference));
    if (from_reference) {
      o.baseline_from_reference = true;
    } else {
      o.baseline = baseline;
    }
  }
  if (const YAML::Node* v = m.Find("window"); v != nullptr) {
    std::string window;
    RETURN_IF_ERROR(Get(m, "window", &window));
    o.window = absl::ZeroDuration();
    if (window != "all") RETURN_IF_ERROR(Get(m, "window", &*o.window));
  }
  RETURN_IF_ERROR(ReadMinSample(
      m, &o.min_predictions_per_group, &o.min_positives_per_group,
      &o.min_negatives_per_group, &o.min_selected_in_reference_group,
      &o.min_labelled, &o.min_current_values, &o.min_reference_values,
      &o.min_lists));

  RETURN_IF_ERROR(GetOptional(m, "for", &o.for_evaluations));
  RETURN_IF_ERROR(GetOptional(m, "keep_firing_for", &o.keep_firing_for));
  RETURN_IF_ERROR(GetOptional(m, "runbook", &o.runbook));
  RETURN_IF_ERROR(GetOptional(m, "summary", &o.summary));
  RETURN_IF_ERROR(GetOptional(m, "threshold_source", &o.threshold_source));
  return o;
}

absl::StatusOr<rules::Rule> ReadRule(absl::string_view source,
                                     const YAML::Node& node, std::string path) {
  ASSIGN_OR_RETURN(Mapping m, ReadMapping(source, node, std::move(path),
                                          {"id",
                                           "metric",
                                           "comparison",
                                           "attributes",
                                           "features",
                                           "models",
                                           "window",
                                           "confidence",
                                           "warning",
                                           "critical",
                                           "min_sample",
                                           "element",
                                           "related_elements",
                                           "ai_act_articles",
                                           "threshold_source",
                                           "runbook",
                                           "baseline",
                                           "for",
                                           "keep_firing_for",
                                           "summary"}));
  rules::Rule rule;
  RETURN_IF_ERROR(Get(m, "id", &rule.id));
  RETURN_IF_ERROR(Get(m, "metric", &rule.metric));
  // Required: a defaulted direction would silently invert a ratio rule.
  std::string comparison;
  RETURN_IF_ERROR(Get(m, "comparison", &comparison));
  if (comparison != "above" && comparison != "below") {
    const YAML::Node* v = m.Find("comparison");
    return m.Error(v != nullptr ? *v : node, "comparison",
                   "must be \"above\" or \"below\"");
  }
  rule.comparison = comparison == "above" ? rules::Comparison::kAbove
                                          : rules::Comparison::kBelow;
  RETURN_IF_ERROR(Get(m, "attributes", &rule.attributes));
  RETURN_IF_ERROR(Get(m, "features", &rule.features));
  RETURN_IF_ERROR(Get(m, "models", &rule.models));
  // "all" is the zero window: every pane kept.
  std::string window;
  RETURN_IF_ERROR(Get(m, "window", &window));
  if (!window.empty() && window != "all") {
    RETURN_IF_ERROR(Get(m, "window", &rule.window));
  }
  RETURN_IF_ERROR(Get(m, "confidence", &rule.confidence));
  RETURN_IF_ERROR(
      GetBaseline(m, &rule.baseline, &rule.baseline_from_reference));
  // (An unknown metric's levels are left to Validate, which names it.)
  const bool value_required = rules::IsKnownMetric(rule.metric) &&
                              !rules::IsConformalCoverageMetric(rule.metric);
  ASSIGN_OR_RETURN(rule.warning, ReadThreshold(m, "warning", value_required));
  ASSIGN_OR_RETURN(rule.critical, ReadThreshold(m, "critical", value_required));
  RETURN_IF_ERROR(ReadMinSample(
      m, &rule.min_predictions_per_group, &rule.min_positives_per_group,
      &rule.min_negatives_per_group, &rule.min_selected_in_reference_group,
      &rule.min_labelled, &rule.min_current_values, &rule.min_reference_values,
      &rule.min_lists));

  RETURN_IF_ERROR(Get(m, "element", &rule.element));
  RETURN_IF_ERROR(Get(m, "related_elements", &rule.related_elements));
  RETURN_IF_ERROR(Get(m, "ai_act_articles", &rule.ai_act_articles));
  RETURN_IF_ERROR(Get(m, "threshold_source", &rule.threshold_source));
  RETURN_IF_ERROR(Get(m, "runbook", &rule.runbook));
  RETURN_IF_ERROR(Get(m, "summary", &rule.summary));
  RETURN_IF_ERROR(Get(m, "for", &rule.for_evaluations));
  RETURN_IF_ERROR(Get(m, "keep_firing_for", &rule.keep_firing_for));
  RETURN_IF_ERROR(At(m, rule.Validate()));
  return rule;
}

absl::StatusOr<rules::Policy> ReadPolicy(absl::string_view source,
                                         const YAML::Node& node,
                                         std::string path) {
  ASSIGN_OR_RETURN(Mapping m,
                   ReadMapping(source, node, std::move(path),
                               {"referential", "rules", "evaluation_interval",
                                "overrides"}));
  rules::Policy policy;
  RETURN_IF_ERROR(Get(m, "referential", &policy.referential));
  RETURN_IF_ERROR(Get(m, "evaluation_interval", &policy.evaluation_interval));
  RETURN_IF_ERROR(ForEach(m, "rules", [&](const YAML::Node& item, size_t i) {
    ASSIGN_OR_RETURN(
        rules::Rule rule,
        ReadRule(source, item, m.Path(absl::StrCat("rules[", i, "]"))));
    policy.rules.push_back(std::move(rule));
    return absl::OkStatus();
  }));
  RETURN_IF_ERROR(
      ForEach(m, "overrides", [&](const YAML::Node& item, size_t i) {
        const std::string where = m.Path(absl::StrCat("overrides[", i, "]"));
        ASSIGN_OR_RETURN(rules::RuleOverride o,
                         ReadOverride(source, item, where));
        policy.overrides.push_back(std::move(o));
        // Checked as each is added, so that the error names the override that
        // makes a rule invalid.
        if (absl::Status status = policy.Validate(); !status.ok()) {
          return Mapping{source, item, where, {}}.Error(item, "",
                                                        status.message());
        }
        return absl::OkStatus();
      }));
  RETURN_IF_ERROR(At(m, policy.Validate()));
  return policy;
}

// A size key (see ByteSize) into *out, left unchanged when absent.
absl::Status GetSize(const Mapping& m, absl::string_view key, uint64_t* out) {
  ByteSize size{*out};
  RETURN_IF_ERROR(Get(m, key, &size));
  *out = size.bytes;
  return absl::OkStatus();
}

// allowed_lateness: a duration, or "unlimited".
absl::Status GetLateness(const Mapping& m, absl::Duration* out) {
  std::string text;
  RETURN_IF_ERROR(Get(m, "allowed_lateness", &text));
  if (text.empty()) return absl::OkStatus();
  if (text == "unlimited") {
    *out = absl::InfiniteDuration();
    return absl::OkStatus();
  }
  return Get(m, "allowed_lateness", out);
}

// reference_time: an RFC 3339 time, left unset when absent.
absl::Status GetReferenceTime(const Mapping& m,
                              std::optional<absl::Time>* out) {
  const YAML::Node* v = m.Find("reference_time");
  if (v == nullptr) return absl::OkStatus();
  absl::Time t;
  std::string error;
  if (!v->IsScalar() ||
      !absl::ParseTime(absl::RFC3339_full, v->Scalar(), &t, &error)) {
    return m.Error(*v, "reference_time",
                   "must be an RFC 3339 time such as 2026-01-05T00:00:00Z");
  }
  *out = t;
  return absl::OkStatus();
}

// A key whose value is one of `choices`' names.
template <typename Enum>
absl::Status GetChoice(
    const Mapping& m, absl::string_view key,
    const std::vector<std::pair<absl::string_view, Enum>>& choices, Enum* out) {
  std::string text;
  RETURN_IF_ERROR(Get(m, key, &text));
  if (text.empty()) return absl::OkStatus();
  std::vector<absl::string_view> names;
  for (const auto& [name, value] : choices) {
    if (name == text) {
      *out = value;
      return absl::OkStatus();
    }
    names.push_back(name);
  }
  return m.Error(*m.Find(key), key,
                 absl::StrCat("must be one of ", absl::StrJoin(names, ", "),
                              ", got ", text));
}

// `path` relative to the folder of the configuration file `source` (when it
// has one), so that a deployment can ship its files side by side and run
// from anywhere; an absolute or empty path unchanged.
std::string BesideSource(absl::string_view source, const std::string& path) {
  const size_t slash = source.rfind('/');
  if (path.empty() || path[0] == '/' || slash == absl::string_view::npos) {
    return path;
  }
  return absl::StrCat(source.substr(0, slash + 1), path);
}

// An RFC 3339 time at `key` of `m`, which must be there.
absl::Status GetTime(const Mapping& m, const YAML::Node& at,
                     absl::string_view key, absl::Time* out) {
  const YAML::Node* v = m.Find(key);
  if (v == nullptr) return m.Error(at, key, "is required");
  std::string error;
  if (!v->IsScalar() ||
      !absl::ParseTime(absl::RFC3339_full, v->Scalar(), out, &error)) {
    return m.Error(*v, key,
                   "must be an RFC 3339 time such as 2026-01-05T00:00:00Z");
  }
  return absl::OkStatus();
}

// One period of footprint.carbon_intensity_schedule: hours of the UTC day
// {from_hour, to_hour, intensity}, or dated {start, end, intensity}.
absl::Status ReadIntensityPeriod(const Mapping& schedule,
                                 const YAML::Node& item, size_t i,
                                 monitors::CarbonIntensity* out) {
  ASSIGN_OR_RETURN(
      Mapping m,
      ReadMapping(
          schedule.source, item,
          absl::StrCat(schedule.Path("carbon_intensity_schedule"), "[", i, "]"),
          {"from_hour", "to_hour", "start", "end", "intensity"}));
  if (m.Find("intensity") == nullptr) {
    return m.Error(item, "intensity", "is required (gCO2e/kWh)");
  }
  double intensity = 0;
  RETURN_IF_ERROR(Get(m, "intensity", &intensity));
  const bool hours = m.Find("from_hour") || m.Find("to_hour");
  const bool times = m.Find("start") || m.Find("end");
  if (hours == times) {
    return m.Error(item, "",
                   "give from_hour and to_hour (hours of the UTC day), or "
                   "start and end (RFC 3339 times), not both");
  }
  if (hours) {
    uint32_t from = 0;
    uint32_t to = 24;
    RETURN_IF_ERROR(Get(m, "from_hour", &from));
    RETURN_IF_ERROR(Get(m, "to_hour", &to));
    // Validate() checks the range; the cast cannot wrap below 2^31.
    out->daily.push_back({static_cast<int>(std::min<uint32_t>(from, 1000)),
                          static_cast<int>(std::min<uint32_t>(to, 1000)),
                          intensity});
    return absl::OkStatus();
  }
  monitors::CarbonIntensity::Dated period;
  period.grams_per_kwh = intensity;
  RETURN_IF_ERROR(GetTime(m, item, "start", &period.start));
  RETURN_IF_ERROR(GetTime(m, item, "end", &period.end));
  out->dated.push_back(period);
  return absl::OkStatus();
}

// footprint: the model's grid carbon intensity (a constant and a
// schedule) and its hardware classes' power, into monitors.footprint; rule
// E1's baselines and budgets, into footprint. Keys given replace the
// inherited ones (a schedule or power map as a whole).
absl::Status ReadFootprint(const Mapping& model_keys, ModelConfig* model) {
  const YAML::Node* node = model_keys.Find("footprint");
  if (node == nullptr) return absl::OkStatus();
  ASSIGN_OR_RETURN(
      Mapping m,
      ReadMapping(model_keys.source, *node, model_keys.Path("footprint"),
                  {"carbon_intensity", "carbon_intensity_schedule",
                   "hardware_power_watts", "baseline_energy_per_1000",
                   "baseline_carbon_per_1000", "energy_budget_per_1000",
                   "carbon_budget_per_1000"}));
  // Over the inherited one, if any; shared by every pane once read.
  monitors::FootprintCosting costing = model->monitors.footprint != nullptr
                                           ? *model->monitors.footprint
                                           : monitors::FootprintCosting();
  RETURN_IF_ERROR(
      Get(m, "carbon_intensity", &costing.carbon_intensity.constant));
  ModelConfig::Footprint& targets = model->footprint;
  RETURN_IF_ERROR(
      Get(m, "baseline_energy_per_1000", &targets.baseline_energy_per_1000));
  RETURN_IF_ERROR(
      Get(m, "baseline_carbon_per_1000", &targets.baseline_carbon_per_1000));
  RETURN_IF_ERROR(
      Get(m, "energy_budget_per_1000", &targets.energy_budget_per_1000));
  RETURN_IF_ERROR(
      Get(m, "carbon_budget_per_1000", &targets.carbon_budget_per_1000));
  if (const YAML::Node* power = m.Find("hardware_power_watts")) {
    if (!power->IsMap()) {
      return m.Error(*power, "hardware_power_watts",
                     "must be a mapping of hardware classes to watts");
    }
    costing.hardware_power_watts.clear();
    for (const auto& entry : *power) {
      double watts = 0;
      if (!entry.first.IsScalar() || !entry.second.IsScalar() ||
          !Convert(entry.second.Scalar(), &watts)) {
        return m.Error(entry.first, "hardware_power_watts",
                       "must map hardware class names to watts (finite "
                       "numbers)");
      }
      costing.hardware_power_watts[entry.first.Scalar()] = watts;
    }
  }
  if (m.Find("carbon_intensity_schedule") != nullptr) {
    costing.carbon_intensity.daily.clear();
    costing.carbon_intensity.dated.clear();
  }
  RETURN_IF_ERROR(ForEach(
      m, "carbon_intensity_schedule", [&](const YAML::Node& item, size_t i) {
        return ReadIntensityPeriod(m, item, i, &costing.carbon_intensity);
      }));
  // In time order, as CarbonIntensity wants them, whatever the file's.
  std::vector<monitors::CarbonIntensity::Dated>& dated =
      costing.carbon_intensity.dated;
  std::sort(dated.begin(), dated.end(),
            [](const auto& a, const auto& b) { return a.start < b.start; });
  model->monitors.footprint =
      std::make_shared<const monitors::FootprintCosting>(std::move(costing));
  return absl::OkStatus();
}

// Reads a model's keys over `base` (listed models inherit default_model).
// performance_estimation and declared_performance (performance_estimate.h).
absl::Status GetPerformance(const Mapping& m, ModelConfig* model) {
  // The estimate's groups are bounded as the fairness monitors' are.
  model->monitors.performance_estimate.max_groups =
      model->monitors.fairness.max_groups;
  if (const YAML::Node* v = m.Find("performance_estimation"); v != nullptr) {
    ASSIGN_OR_RETURN(
        Mapping p, ReadMapping(m.source, *v, m.Path("performance_estimation"),
                               {"calibration", "bins", "min_group_reference"}));
    std::string calibration;
    RETURN_IF_ERROR(Get(p, "calibration", &calibration));
    if (!calibration.empty()) {
      absl::StatusOr<monitors::CalibrationMethod> method =
          monitors::ParseCalibrationMethod(calibration);
      if (!method.ok()) {
        return p.Error(*p.Find("calibration"), "calibration",
                       method.status().message());
      }
      model->performance_estimation.method = *method;
    }
    RETURN_IF_ERROR(
        Get(p, "bins", &model->monitors.performance_estimate.num_bins));
    RETURN_IF_ERROR(Get(p, "min_group_reference",
                        &model->performance_estimation.min_group_reference));
  }
  if (const YAML::Node* v = m.Find("declared_performance"); v != nullptr) {
    ASSIGN_OR_RETURN(Mapping d,
                     ReadMapping(m.source, *v, m.Path("declared_performance"),
                                 {"metric", "value"}));
    std::string metric;
    DeclaredPerformance declared;
    RETURN_IF_ERROR(Get(d, "metric", &metric));
    RETURN_IF_ERROR(Get(d, "value", &declared.value));
    if (d.Find("metric") == nullptr || d.Find("value") == nullptr) {
      return d.Error(*v, "", "needs both metric and value");
    }
    absl::StatusOr<PerformanceMetric> parsed = ParsePerformanceMetric(metric);
    if (!parsed.ok()) {
      return d.Error(*d.Find("metric"), "metric", parsed.status().message());
    }
    declared.metric = *parsed;
    model->declared_performance = declared;
  }
  return absl::OkStatus();
}

absl::StatusOr<ModelConfig> ReadModel(absl::string_view source,
                                      const YAML::Node& node, std::string path,
                                      ModelConfig base, bool listed) {
  std::vector<absl::string_view> keys = {"versions",
                                         "task",
                                         "classes",
                                         "decision_threshold",
                                         "pane_length",
                                         "label_delay",
                                         "group_attributes",
                                         "max_attributes",
                                         "max_groups",
                                         "min_group_size",
                                         "allowed_lateness",
                                         "late_events",
                                         "join_time",
                                         "retention",
                                         "max_panes",
                                         "reference_time",
                                         "intersections",
                                         "calibration_bins",
                                         "reference_groups",
                                         "expect_events_every",
                                         "reference_window",
                                         "reference_versions",
                                         "drift_bins",
                                         "drift_categories",
                                         "drift_max_features",
                                         "drift_tracked_categories",
                                         "adwin_delta",
                                         "page_hinkley_threshold",
                                         "aci_gamma",
                                         "conformal_max_groups",
                                         "serendipity_top_k",
                                         "personalization_sample_size",
                                         "exact_exposure_items",
                                         "learn_popularity",
                                         "performance_estimation",
                                         "declared_performance",
                                         "footprint"};
  if (listed) {
    keys.insert(keys.begin(), "id");
    keys.push_back("catalogue_file");
  }
  ASSIGN_OR_RETURN(Mapping m, ReadMapping(source, node, std::move(path), keys));
  ModelConfig model = std::move(base);
  RETURN_IF_ERROR(Get(m, "id", &model.id));
  if (listed && model.id.empty()) return m.Error(node, "id", "is required");
  RETURN_IF_ERROR(Get(m, "versions", &model.versions));
  RETURN_IF_ERROR(Get(m, "task", &model.task));
  RETURN_IF_ERROR(Get(m, "classes", &model.monitors.classes));
  RETURN_IF_ERROR(Get(m, "decision_threshold", &model.decision_threshold));
  RETURN_IF_ERROR(Get(m, "pane_length", &model.pane_length));
  RETURN_IF_ERROR(Get(m, "label_delay", &model.label_delay));
  RETURN_IF_ERROR(Get(m, "expect_events_every", &model.expect_events_every));
  RETURN_IF_ERROR(Get(m, "reference_window", &model.reference_window));
  RETURN_IF_ERROR(Get(m, "reference_versions", &model.reference_versions));
  RETURN_IF_ERROR(Get(m, "retention", &model.retention));
  RETURN_IF_ERROR(Get(m, "max_panes", &model.max_panes));
  RETURN_IF_ERROR(GetLateness(m, &model.allowed_lateness));
  RETURN_IF_ERROR(GetReferenceTime(m, &model.reference_time));
  RETURN_IF_ERROR(GetChoice(
      m, "late_events",
      {{"drop", LatePolicy::kDrop}, {"current_pane", LatePolicy::kCurrentPane}},
      &model.late_events));
  RETURN_IF_ERROR(GetChoice(
      m, "join_time",
      {{"prediction", JoinTime::kPrediction}, {"outcome", JoinTime::kOutcome}},
      &model.join_time));
  RETURN_IF_ERROR(Get(m, "group_attributes", &model.monitors.group_attributes));
  RETURN_IF_ERROR(Get(m, "intersections", &model.monitors.intersections));
  RETURN_IF_ERROR(Get(m, "reference_groups", &model.monitors.reference_groups));
  RETURN_IF_ERROR(
      Get(m, "calibration_bins", &model.monitors.calibration.num_bins));
  RETURN_IF_ERROR(Get(m, "max_attributes", &model.monitors.max_attributes));
  RETURN_IF_ERROR(Get(m, "max_groups", &model.monitors.fairness.max_groups));
  RETURN_IF_ERROR(
      Get(m, "min_group_size", &model.monitors.fairness.min_group_size));
  RETURN_IF_ERROR(Get(m, "drift_bins", &model.drift.bins));
  RETURN_IF_ERROR(Get(m, "drift_categories", &model.drift.max_categories));
  RETURN_IF_ERROR(
      Get(m, "drift_max_features", &model.monitors.drift.max_features));
  RETURN_IF_ERROR(
      Get(m, "drift_tracked_categories", &model.monitors.drift.max_categories));
  RETURN_IF_ERROR(Get(m, "adwin_delta", &model.detectors.adwin.delta));
  RETURN_IF_ERROR(Get(m, "page_hinkley_threshold",
                      &model.detectors.page_hinkley.threshold));
  RETURN_IF_ERROR(Get(m, "aci_gamma", &model.aci_gamma));
  RETURN_IF_ERROR(
      Get(m, "conformal_max_groups", &model.monitors.conformal.max_groups));
  RETURN_IF_ERROR(Get(m, "serendipity_top_k",
                      &model.monitors.recommendation.serendipity_top_k));
  RETURN_IF_ERROR(
      Get(m, "personalization_sample_size",
          &model.monitors.recommendation.personalization_sample_size));
  RETURN_IF_ERROR(Get(m, "exact_exposure_items",
                      &model.monitors.recommendation.exact_items));
  RETURN_IF_ERROR(Get(m, "learn_popularity", &model.learn_popularity));
  RETURN_IF_ERROR(GetPerformance(m, &model));
  RETURN_IF_ERROR(ReadFootprint(m, &model));
  RETURN_IF_ERROR(Get(m, "catalogue_file", &model.catalogue_file));
  model.catalogue_file = BesideSource(source, model.catalogue_file);
  RETURN_IF_ERROR(At(m, model.Validate()));
  return model;
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return std::move(text).str();
}

absl::StatusOr<ServerConfig> ReadServerConfig(absl::string_view source,
                                              const YAML::Node& node,
                                              std::string path) {
  ASSIGN_OR_RETURN(Mapping m, ReadMapping(source, node, std::move(path),
                                          {"data_dir",
                                           "grpc_address",
                                           "http_address",
                                           "external_url",
                                           "metrics",
                                           "log",
                                           "tls",
                                           "auth",
                                           "accept_undeclared_models",
                                           "default_model",
                                           "models",
                                           "expiry_sweep_interval",
                                           "checkpoint_interval",
                                           "checkpoint_bytes",
                                           "storage",
                                           "alerting",
                                           "policy",
                                           "policy_file",
                                           "catalogue",
                                           "privacy",
                                           "kafka_ingest"}));
  ServerConfig config;
  RETURN_IF_ERROR(Get(m, "data_dir", &config.data_dir));
  RETURN_IF_ERROR(Get(m, "grpc_address", &config.grpc_address));
  RETURN_IF_ERROR(Get(m, "http_address", &config.http_address));
  RETURN_IF_ERROR(Get(m, "external_url", &config.external_url));
  if (const YAML::Node* v = m.Find("tls"); v != nullptr) {
    ASSIGN_OR_RETURN(Mapping t,
                     ReadMapping(source, *v, m.Path("tls"),
                                 {"cert_file", "key_file", "client_ca_file"}));
    RETURN_IF_ERROR(Get(t, "cert_file", &config.tls.cert_file));
    RETURN_IF_ERROR(Get(t, "key_file", &config.tls.key_file));
    RETURN_IF_ERROR(Get(t, "client_ca_file", &config.tls.client_ca_file));
  }
  if (const YAML::Node* v = m.Find("auth"); v != nullptr) {
    ASSIGN_OR_RETURN(Mapping a, ReadMapping(source, *v, m.Path("auth"),
                                            {"bearer_token_file"}));
    RETURN_IF_ERROR(Get(a, "bearer_token_file", &config.bearer_token_file));
  }
  if (const YAML::Node* v = m.Find("log"); v != nullptr) {
    ASSIGN_OR_RETURN(
        Mapping l, ReadMapping(source, *v, m.Path("log"), {"level", "format"}));
    RETURN_IF_ERROR(Get(l, "level", &config.log.level));
    RETURN_IF_ERROR(Get(l, "format", &config.log.format));
  }
  if (const YAML::Node* v = m.Find("metrics"); v != nullptr) {
    ASSIGN_OR_RETURN(Mapping x, ReadMapping(source, *v, m.Path("metrics"),
                                            {"windows", "max_series"}));
    RETURN_IF_ERROR(Get(x, "max_series", &config.metrics.max_series));
    if (x.Find("windows") != nullptr) config.metrics.windows.clear();
    RETURN_IF_ERROR(ForEach(x, "windows", [&](const YAML::Node& item, size_t) {
      absl::Duration window;
      if (!item.IsScalar() || !Convert(item.Scalar(), &window)) {
        return x.Error(item, "windows", "must be a list of durations");
      }
      config.metrics.windows.push_back(window);
      return absl::OkStatus();
    }));
  }
  RETURN_IF_ERROR(
      Get(m, "accept_undeclared_models", &config.accept_undeclared_models));
  RETURN_IF_ERROR(
      Get(m, "expiry_sweep_interval", &config.expiry_sweep_interval));
  RETURN_IF_ERROR(Get(m, "checkpoint_interval", &config.checkpoint_interval));
  RETURN_IF_ERROR(GetSize(m, "checkpoint_bytes", &config.checkpoint_bytes));
  if (const YAML::Node* v = m.Find("storage"); v != nullptr) {
    ASSIGN_OR_RETURN(Mapping s, ReadMapping(source, *v, m.Path("storage"),
                                            {"block_cache", "write_buffer",
                                             "sync_writes", "direct_io"}));
    RETURN_IF_ERROR(GetSize(s, "block_cache", &config.block_cache_bytes));
    RETURN_IF_ERROR(GetSize(s, "write_buffer", &config.write_buffer_bytes));
    RETURN_IF_ERROR(Get(s, "sync_writes", &config.sync_writes));
    RETURN_IF_ERROR(Get(s, "direct_io", &config.direct_io));
  }
  if (const YAML::Node* v = m.Find("catalogue"); v != nullptr) {
    ASSIGN_OR_RETURN(Mapping c, ReadMapping(source, *v, m.Path("catalogue"),
                                            {"max_items", "max_categories",
                                             "max_categories_per_item",
                                             "max_embedding_dimension"}));
    monitors::ItemCatalogueOptions& bounds = config.catalogue;
    RETURN_IF_ERROR(Get(c, "max_items", &bounds.max_items));
    RETURN_IF_ERROR(Get(c, "max_categories", &bounds.max_categories));
    RETURN_IF_ERROR(
        Get(c, "max_categories_per_item", &bounds.max_categories_per_item));
    RETURN_IF_ERROR(
        Get(c, "max_embedding_dimension", &bounds.max_embedding_dimension));
    RETURN_IF_ERROR(At(c, bounds.Validate()));
  }
  if (const YAML::Node* v = m.Find("privacy"); v != nullptr) {
    ASSIGN_OR_RETURN(Mapping p, ReadMapping(source, *v, m.Path("privacy"),
                                            {"secret_file", "min_group_size"}));
    RETURN_IF_ERROR(Get(p, "secret_file", &config.privacy.secret_file));
    RETURN_IF_ERROR(Get(p, "min_group_size", &config.privacy.min_group_size));
  }
  if (const YAML::Node* v = m.Find("alerting"); v != nullptr) {
    ASSIGN_OR_RETURN(
        Mapping a,
        ReadMapping(source, *v, m.Path("alerting"),
                    {"alertmanager", "webhooks", "kafka", "resend_interval",
                     "max_attempts", "history_retention"}));
    RETURN_IF_ERROR(
        Get(a, "resend_interval", &config.alerting.resend_interval));
    RETURN_IF_ERROR(
        Get(a, "history_retention", &config.alerting.history_retention));
    RETURN_IF_ERROR(Get(a, "max_attempts", &config.alerting.max_attempts));
    RETURN_IF_ERROR(
        ForEach(a, "webhooks", [&](const YAML::Node& item, size_t i) {
          ASSIGN_OR_RETURN(
              Mapping w, ReadMapping(source, item,
                                     a.Path(absl::StrCat("webhooks[", i, "]")),
                                     {"url", "timeout"}));
          ServerConfig::Alerting::Webhook webhook;
          RETURN_IF_ERROR(Get(w, "url", &webhook.url));
          RETURN_IF_ERROR(Get(w, "timeout", &webhook.timeout));
          config.alerting.webhooks.push_back(std::move(webhook));
          return absl::OkStatus();
        }));
    if (const YAML::Node* am = a.Find("alertmanager"); am != nullptr) {
      ASSIGN_OR_RETURN(Mapping am_map,
                       ReadMapping(source, *am, a.Path("alertmanager"),
                                   {"url", "timeout", "external_url"}));
      RETURN_IF_ERROR(Get(am_map, "url", &config.alerting.alertmanager_url));
      RETURN_IF_ERROR(
          Get(am_map, "timeout", &config.alerting.alertmanager_timeout));
      RETURN_IF_ERROR(
          Get(am_map, "external_url", &config.alerting.external_url));
    }
    if (const YAML::Node* k = a.Find("kafka"); k != nullptr) {
      ASSIGN_OR_RETURN(
          Mapping kafka_map,
          ReadMapping(source, *k, a.Path("kafka"),
                      {"brokers", "topic", "timeout", "key", "properties"}));
      sinks::KafkaOptions& kafka = config.alerting.kafka;
      RETURN_IF_ERROR(Get(kafka_map, "brokers", &kafka.brokers));
      RETURN_IF_ERROR(Get(kafka_map, "topic", &kafka.topic));
      RETURN_IF_ERROR(Get(kafka_map, "timeout", &kafka.timeout));
      RETURN_IF_ERROR(
          GetChoice(kafka_map, "key",
                    {{"model", sinks::KafkaKey::kModel},
                     {"fingerprint", sinks::KafkaKey::kFingerprint}},
                    &kafka.key));
      RETURN_IF_ERROR(GetKafkaProperties(kafka_map, sinks::CheckKafkaProperty,
                                         &kafka.properties));
    }
  }
  if (const YAML::Node* v = m.Find("kafka_ingest"); v != nullptr) {
    ASSIGN_OR_RETURN(
        Mapping k, ReadMapping(source, *v, m.Path("kafka_ingest"),
                               {"brokers", "group_id", "topics",
                                "dead_letter_topic", "batch_size", "batch_wait",
                                "max_prefetch_kbytes", "metadata_timeout",
                                "panes_topic", "replica_id", "properties"}));
    KafkaIngestOptions& kafka = config.kafka_ingest;
    RETURN_IF_ERROR(Get(k, "brokers", &kafka.brokers));
    RETURN_IF_ERROR(Get(k, "group_id", &kafka.group_id));
    RETURN_IF_ERROR(Get(k, "dead_letter_topic", &kafka.dead_letter_topic));
    RETURN_IF_ERROR(Get(k, "batch_size", &kafka.batch_size));
    RETURN_IF_ERROR(Get(k, "batch_wait", &kafka.batch_wait));
    RETURN_IF_ERROR(Get(k, "max_prefetch_kbytes", &kafka.max_prefetch_kbytes));
    RETURN_IF_ERROR(Get(k, "metadata_timeout", &kafka.metadata_timeout));
    RETURN_IF_ERROR(Get(k, "panes_topic", &kafka.panes_topic));
    RETURN_IF_ERROR(Get(k, "replica_id", &kafka.replica_id));
    RETURN_IF_ERROR(ForEach(k, "topics", [&](const YAML::Node& item, size_t i) {
      ASSIGN_OR_RETURN(
          Mapping t,
          ReadMapping(source, item, k.Path(absl::StrCat("topics[", i, "]")),
                      {"name", "format"}));
      KafkaIngestOptions::Topic topic;
      RETURN_IF_ERROR(Get(t, "name", &topic.name));
      if (topic.name.empty()) return t.Error(item, "name", "is required");
      std::string format = "protobuf";
      RETURN_IF_ERROR(Get(t, "format", &format));
      absl::StatusOr<PayloadFormat> parsed = ParsePayloadFormat(format);
      if (!parsed.ok())
        return t.Error(item, "format", parsed.status().message());
      topic.format = *parsed;
      kafka.topics.push_back(std::move(topic));
      return absl::OkStatus();
    }));
    RETURN_IF_ERROR(
        GetKafkaProperties(k, CheckKafkaIngestProperty, &kafka.properties));
    RETURN_IF_ERROR(At(k, kafka.Validate()));
  }
  if (const YAML::Node* v = m.Find("default_model"); v != nullptr) {
    ASSIGN_OR_RETURN(config.default_model,
                     ReadModel(source, *v, "default_model", ModelConfig(),
                               /*listed=*/false));
  }
  RETURN_IF_ERROR(ForEach(m, "models", [&](const YAML::Node& item, size_t i) {
    ASSIGN_OR_RETURN(ModelConfig model,
                     ReadModel(source, item, absl::StrCat("models[", i, "]"),
                               config.default_model, /*listed=*/true));
    if (config.FindModel(model.id) != nullptr) {
      return m.Error(item, "models",
                     absl::StrCat("model \"", model.id, "\" is listed twice"));
    }
    config.models.push_back(std::move(model));
    return absl::OkStatus();
  }));

  const YAML::Node* inline_policy = m.Find("policy");
  std::string policy_file;
  RETURN_IF_ERROR(Get(m, "policy_file", &policy_file));
  if (inline_policy != nullptr && !policy_file.empty()) {
    return m.Error(*inline_policy, "policy",
                   "give either policy or policy_file, not both");
  }
  if (inline_policy != nullptr) {
    ASSIGN_OR_RETURN(config.policy,
                     ReadPolicy(source, *inline_policy, "policy"));
  } else if (!policy_file.empty()) {
    const std::string file = BesideSource(source, policy_file);
    std::optional<std::string> text = ReadFile(file);
    if (!text.has_value()) {
      return absl::NotFoundError(
          absl::StrCat(Where(source, m.Find("policy_file")->Mark()),
                       ": policy_file: cannot read \"", file, "\""));
    }
    ASSIGN_OR_RETURN(config.policy, ParsePolicy(*text, file));
  } else {
    ASSIGN_OR_RETURN(
        config.policy,
        ParsePolicy(kEmbeddedDefaultPolicy, "<embedded deploy/policy.yaml>"));
  }
  // Each part was validated where it was read; this adds nothing but keeps
  // the contract in one place should a new field skip that.
  RETURN_IF_ERROR(At(m, config.Validate()));
  return config;
}

// Parses `yaml` and reads it with `read`, turning yaml-cpp's exceptions into
// statuses: none escapes.
template <typename T>
absl::StatusOr<T> ParseGuarded(absl::string_view yaml, absl::string_view source,
                               absl::StatusOr<T> (*read)(absl::string_view,
                                                         const YAML::Node&,
                                                         std::string)) {
  try {
    return read(source, YAML::Load(std::string(yaml)), "");
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(Where(source, e.mark), ": ", e.msg));
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat(source, ": reading YAML failed: ", e.what()));
  }
}

}  // namespace

absl::StatusOr<ServerConfig> ParseServerConfig(absl::string_view yaml,
                                               absl::string_view source_name) {
  return ParseGuarded(yaml, source_name, &ReadServerConfig);
}

absl::StatusOr<rules::Policy> ParsePolicy(absl::string_view yaml,
                                          absl::string_view source_name) {
  return ParseGuarded(yaml, source_name, &ReadPolicy);
}

absl::StatusOr<ServerConfig> LoadServerConfig(const std::string& path) {
  std::optional<std::string> text = ReadFile(path);
  if (!text.has_value()) {
    return absl::NotFoundError(
        absl::StrCat("cannot read the configuration file \"", path, "\""));
  }
  return ParseServerConfig(*text, path);
}

absl::StatusOr<monitors::ItemCatalogue> LoadCatalogueFile(
    const ModelConfig& model, const monitors::ItemCatalogueOptions& options) {
  const std::string who = absl::StrCat(
      "model ", model.id, ": catalogue_file \"", model.catalogue_file, "\"");
  std::optional<std::string> text = ReadFile(model.catalogue_file);
  if (!text.has_value()) {
    return absl::NotFoundError(absl::StrCat(who, ": cannot read it"));
  }
  absl::StatusOr<monitors::ItemCatalogue> catalogue =
      monitors::ItemCatalogue::FromJsonLines(*text, options);
  if (!catalogue.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(who, ": ", catalogue.status().message()));
  }
  return catalogue;
}

absl::StatusOr<ServerConfig> DefaultServerConfig() {
  return ParseServerConfig(kEmbeddedDefaultConfig,
                           "<embedded deploy/vigie.yaml>");
}

}  // namespace vigie::services
