#include "monitors/model_monitors.h"

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "monitors/fairness.h"
#include "vigie/state/v1/state.pb.h"
#include "vigie/v1/events.pb.h"

namespace vigie::monitors {
namespace {

constexpr uint32_t kStateVersion = 1;
constexpr uint32_t kMinAttributes = 1;
constexpr uint32_t kMaxAttributes = 1000;

bool SameOptions(const ModelMonitors::Options& a,
                 const ModelMonitors::Options& b) {
  return a.group_attributes == b.group_attributes &&
         a.max_attributes == b.max_attributes &&
         a.fairness.max_groups == b.fairness.max_groups &&
         a.fairness.min_group_size == b.fairness.min_group_size &&
         a.classes == b.classes;
}

bool IsListed(const ModelMonitors::Options& options,
              const std::string& attribute) {
  return std::find(options.group_attributes.begin(),
                   options.group_attributes.end(),
                   attribute) != options.group_attributes.end();
}

// The decision of a binary prediction, or false when it is not one the
// monitors observe.
bool BinaryDecision(const v1::Prediction& prediction, bool* decision) {
  if (prediction.output_case() != v1::Prediction::kBinary ||
      !prediction.binary().has_decision()) {
    return false;
  }
  *decision = prediction.binary().decision();
  return true;
}

uint64_t SaturatingAdd(uint64_t a, uint64_t b) {
  return a > std::numeric_limits<uint64_t>::max() - b
             ? std::numeric_limits<uint64_t>::max()
             : a + b;
}

}  // namespace

absl::StatusOr<ModelMonitors> ModelMonitors::Create(const Options& options) {
  if (options.max_attributes < kMinAttributes ||
      options.max_attributes > kMaxAttributes) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_attributes must be in [", kMinAttributes, ", ",
                     kMaxAttributes, "], got ", options.max_attributes));
  }
  std::vector<std::string> sorted = options.group_attributes;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i].empty()) {
      return absl::InvalidArgumentError("group_attributes has an empty name");
    }
    if (i > 0 && sorted[i] == sorted[i - 1]) {
      return absl::InvalidArgumentError(
          absl::StrCat("group_attributes lists '", sorted[i], "' twice"));
    }
  }
  if (absl::Status status = FairnessMonitor::Create(options.fairness).status();
      !status.ok()) {
    return status;
  }
  return ModelMonitors(options);
}

FairnessMonitor* ModelMonitors::FairnessFor(const std::string& attribute) {
  if (auto it = fairness_.find(attribute); it != fairness_.end()) {
    return &it->second;
  }
  if (options_.group_attributes.empty()
          ? fairness_.size() >= options_.max_attributes
          : !IsListed(options_, attribute)) {
    return nullptr;
  }
  // Create cannot fail: Create or Deserialize validated options_.fairness.
  absl::StatusOr<FairnessMonitor> monitor =
      FairnessMonitor::Create(options_.fairness);
  if (!monitor.ok()) return nullptr;
  return &fairness_.emplace(attribute, *std::move(monitor)).first->second;
}

template <typename Observe>
void ModelMonitors::ForEachGroup(const v1::Prediction& prediction,
                                 bool count_missing, Observe observe) {
  const auto& groups = prediction.groups();
  if (!options_.group_attributes.empty()) {
    for (const std::string& attribute : options_.group_attributes) {
      auto it = groups.find(attribute);
      // An empty value names no group: it is as missing as an absent one.
      if (it == groups.end() || it->second.empty()) {
        if (count_missing) {
          uint64_t& missing = missing_[attribute];
          missing = SaturatingAdd(missing, 1);
        }
        continue;
      }
      if (FairnessMonitor* monitor = FairnessFor(attribute)) {
        observe(*monitor, it->second);
      }
    }
    return;
  }
  // Every attribute is monitored, up to max_attributes. Known attributes
  // are observed as they come; new ones in name order, because the order
  // of a protobuf map is unspecified and which attributes are kept when
  // room runs out must not depend on it.
  std::vector<const std::string*> fresh;
  for (const auto& [attribute, group] : groups) {
    if (attribute.empty() || group.empty()) continue;
    if (auto it = fairness_.find(attribute); it != fairness_.end()) {
      observe(it->second, group);
    } else {
      fresh.push_back(&attribute);
    }
  }
  if (fresh.empty()) return;
  std::sort(fresh.begin(), fresh.end(),
            [](const std::string* a, const std::string* b) { return *a < *b; });
  for (const std::string* attribute : fresh) {
    FairnessMonitor* monitor = FairnessFor(*attribute);
    if (monitor == nullptr) break;
    observe(*monitor, groups.at(*attribute));
  }
}

void ModelMonitors::ObservePrediction(const v1::Prediction& prediction) {
  bool decision = false;
  if (!BinaryDecision(prediction, &decision)) return;
  ForEachGroup(prediction, /*count_missing=*/true,
               [decision](FairnessMonitor& monitor, const std::string& group) {
                 monitor.ObservePrediction(group, decision);
               });
}

void ModelMonitors::ObserveJoined(const v1::Prediction& prediction,
                                  const v1::Outcome& outcome) {
  bool decision = false;
  if (!BinaryDecision(prediction, &decision) ||
      outcome.label_case() != v1::Outcome::kBinary) {
    return;
  }
  const bool label = outcome.binary();
  ForEachGroup(
      prediction, /*count_missing=*/false,
      [decision, label](FairnessMonitor& monitor, const std::string& group) {
        monitor.ObserveOutcome(group, decision, label);
      });
}

absl::Status ModelMonitors::Merge(const ModelMonitors& other) {
  if (!SameOptions(options_, other.options_)) {
    const auto describe = [](const Options& o) {
      return absl::StrCat("group_attributes [",
                          absl::StrJoin(o.group_attributes, ", "),
                          "], max_attributes ", o.max_attributes,
                          ", max_groups ", o.fairness.max_groups,
                          ", min_group_size ", o.fairness.min_group_size);
    };
    return absl::InvalidArgumentError(
        absl::StrCat("cannot merge model monitors with different options: ",
                     describe(options_), " vs ", describe(other.options_)));
  }
  if (&other == this) {
    // The copy is the point: `other` is *this, which Merge modifies.
    // NOLINTNEXTLINE(performance-unnecessary-copy-initialization)
    const ModelMonitors copy = other;
    return Merge(copy);
  }
  for (const auto& [attribute, theirs] : other.fairness_) {
    if (auto it = fairness_.find(attribute); it != fairness_.end()) {
      // Cannot fail: every monitor of both was built with options_.fairness.
      it->second.Merge(theirs).IgnoreError();
    } else if (options_.group_attributes.empty() &&
               fairness_.size() >= options_.max_attributes) {
      // Past max_attributes, as when observing: later attributes are
      // ignored (std::map order makes "later" deterministic).
      continue;
    } else {
      fairness_.emplace(attribute, theirs);
    }
  }
  for (const auto& [attribute, count] : other.missing_) {
    uint64_t& missing = missing_[attribute];
    missing = SaturatingAdd(missing, count);
  }
  return absl::OkStatus();
}

ModelMetrics ModelMonitors::Snapshot() const {
  ModelMetrics metrics;
  for (const auto& [attribute, monitor] : fairness_) {
    metrics.fairness.emplace(attribute, monitor.Snapshot());
  }
  metrics.missing = missing_;
  return metrics;
}

bool ModelMonitors::empty() const {
  // A monitor is only added with an observation, and Deserialize drops
  // empty ones, so any monitor or missing count means an observation.
  return fairness_.empty() && missing_.empty();
}

std::string ModelMonitors::Serialize() const {
  state::v1::PaneState state;
  state.set_version(kStateVersion);
  for (const auto& [attribute, monitor] : fairness_) {
    monitor.ToProto(&(*state.mutable_fairness_by_attribute())[attribute]);
  }
  for (const auto& [attribute, count] : missing_) {
    (*state.mutable_missing_by_attribute())[attribute] = count;
  }
  // Deterministic, so that equal states have equal bytes: map fields are
  // otherwise written in an unspecified order.
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    state.SerializeToCodedStream(&coded);
  }
  return bytes;
}

absl::StatusOr<ModelMonitors> ModelMonitors::Deserialize(
    absl::string_view bytes, const Options& options) {
  absl::StatusOr<ModelMonitors> created = Create(options);
  if (!created.ok()) return created.status();
  ModelMonitors monitors = *std::move(created);

  state::v1::PaneState state;
  if (bytes.size() > static_cast<size_t>(INT_MAX) ||
      !state.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError("pane state is not a valid PaneState");
  }
  if (state.version() != kStateVersion) {
    return absl::DataLossError(absl::StrCat("pane state has version ",
                                            state.version(), ", expected ",
                                            kStateVersion));
  }
  const bool all = options.group_attributes.empty();
  const auto unexpected = [](absl::string_view what,
                             const std::string& attribute) {
    return absl::DataLossError(absl::StrCat(
        "pane state has ", what, " of attribute '", attribute,
        "', which is not monitored: state was written under another "
        "configuration"));
  };
  if (all && state.fairness_by_attribute_size() >
                 static_cast<int>(options.max_attributes)) {
    return absl::DataLossError(
        absl::StrCat("pane state has ", state.fairness_by_attribute_size(),
                     " attributes, max_attributes is ", options.max_attributes,
                     ": state was written under another configuration"));
  }
  for (const auto& [attribute, fairness_state] :
       state.fairness_by_attribute()) {
    if (attribute.empty() || (!all && !IsListed(options, attribute))) {
      return unexpected("fairness", attribute);
    }
    absl::StatusOr<FairnessMonitor> monitor =
        FairnessMonitor::FromProto(fairness_state);
    if (!monitor.ok()) {
      return absl::DataLossError(
          absl::StrCat("pane state, attribute '", attribute,
                       "': ", monitor.status().message()));
    }
    const FairnessMonitor::Options& got = monitor->options();
    if (got.max_groups != options.fairness.max_groups ||
        got.min_group_size != options.fairness.min_group_size) {
      return absl::DataLossError(absl::StrCat(
          "pane state, attribute '", attribute, "': fairness options (",
          "max_groups ", got.max_groups, ", min_group_size ",
          got.min_group_size, ") differ from the configured ones (",
          options.fairness.max_groups, ", ", options.fairness.min_group_size,
          "): state was written under another configuration"));
    }
    // Kept only when it holds groups, so that empty() stays exact.
    if (fairness_state.groups_size() > 0) {
      monitors.fairness_.emplace(attribute, *std::move(monitor));
    }
  }
  for (const auto& [attribute, count] : state.missing_by_attribute()) {
    // Missing attributes are only counted for a listed set of attributes.
    if (all || !IsListed(options, attribute)) {
      return unexpected("missing counts", attribute);
    }
    if (count > 0) monitors.missing_.emplace(attribute, count);
  }
  return monitors;
}

}  // namespace vigie::monitors
