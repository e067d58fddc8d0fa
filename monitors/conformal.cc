#include "monitors/conformal.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "monitors/conformal_gate.h"
#include "monitors/stats.h"

namespace vigie::monitors {
namespace {

constexpr uint32_t kMaxGroups = 100000;
constexpr uint32_t kMaxSettings = 64;
constexpr uint32_t kMaxSetSize = 1024;
// Relative tolerance on (n + 1)(1 - alpha) before its ceiling, so that an
// alpha written in decimal gives the intended rank.
constexpr double kRankTolerance = 1e-9;

double ToDouble(uint64_t n) { return static_cast<double>(n); }

// x as a count in [0, limit]: a plain cast of a double at or past 2^64 is
// undefined, and counts near 2^64 (saturated, or crafted) round there.
uint64_t ToCount(double x, uint64_t limit) {
  if (!(x < static_cast<double>(limit))) return limit;
  return x > 0 ? static_cast<uint64_t>(x) : 0;
}

}  // namespace

absl::Status ConformalMonitor::Validate(const Options& o) {
  const auto out_of_range = [](absl::string_view name, uint64_t low,
                               uint64_t high, uint64_t value) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " must be in [", low, ", ", high, "], got ", value));
  };
  if (o.kind != ConformalKind::kInterval && o.kind != ConformalKind::kSet) {
    return absl::InvalidArgumentError("kind must be kInterval or kSet");
  }
  if (o.max_groups < 1 || o.max_groups > kMaxGroups) {
    return out_of_range("max_groups", 1, kMaxGroups, o.max_groups);
  }
  if (o.max_settings < 1 || o.max_settings > kMaxSettings) {
    return out_of_range("max_settings", 1, kMaxSettings, o.max_settings);
  }
  if (o.max_set_size < 1 || o.max_set_size > kMaxSetSize) {
    return out_of_range("max_set_size", 1, kMaxSetSize, o.max_set_size);
  }
  return LogHistogram::Create(o.max_buckets).status();
}

ConformalMonitor::ConformalMonitor(const Options& options)
    : options_(options),
      scores_(*LogHistogram::Create(options.max_buckets)),
      overall_(NewScope()) {}

absl::StatusOr<ConformalMonitor> ConformalMonitor::Create(
    const Options& options) {
  if (absl::Status status = Validate(options); !status.ok()) {
    return status;
  }
  return ConformalMonitor(options);
}

ConformalMonitor::Scope ConformalMonitor::NewScope() const {
  Scope scope;
  scope.tallies.resize(options_.max_settings + size_t{1});
  scope.sizes = *LogHistogram::Create(options_.max_buckets);
  if (options_.kind == ConformalKind::kSet) {
    scope.by_set_size.resize(options_.max_set_size + size_t{1});
  }
  return scope;
}

uint32_t ConformalMonitor::ResolveGroup(absl::string_view label) {
  if (label.empty()) return ConformalObservation::kNoGroup;
  if (auto it = index_.find(label); it != index_.end()) return it->second;
  const bool overflow = labels_.size() >= options_.max_groups;
  if (overflow) {
    // The overflow group is a group like any other, added when first
    // needed; every later new label maps to it.
    if (auto it = index_.find(kOverflowGroup); it != index_.end()) {
      return it->second;
    }
    label = kOverflowGroup;
  }
  const auto index = static_cast<uint32_t>(labels_.size());
  labels_.emplace_back(label);
  groups_.push_back(NewScope());
  index_.emplace(std::string(label), index);
  return index;
}

uint32_t ConformalMonitor::SettingIndex(double alpha,
                                        uint64_t calibration_size) {
  uint32_t index = options_.max_settings;  // The overflow tally.
  for (size_t i = 0; i < settings_.size(); ++i) {
    if (settings_[i].alpha == alpha &&
        settings_[i].calibration_size == calibration_size) {
      index = static_cast<uint32_t>(i);
      break;
    }
  }
  if (index == options_.max_settings &&
      settings_.size() < options_.max_settings) {
    index = static_cast<uint32_t>(settings_.size());
    settings_.push_back({alpha, calibration_size});
  }
  last_alpha_ = alpha;
  last_calibration_size_ = calibration_size;
  last_setting_ = index;
  return index;
}

void ConformalMonitor::ObserveInvalid() { Bump(ignored_, true); }

void ConformalMonitor::MergeScope(Scope& to, const Scope& from,
                                  const std::vector<uint32_t>& setting_map) {
  for (size_t i = 0; i < from.tallies.size(); ++i) {
    Tally& t = to.tallies[setting_map[i]];
    t.count = SaturatingAdd(t.count, from.tallies[i].count);
    t.covered = SaturatingAdd(t.covered, from.tallies[i].covered);
  }
  to.empty = SaturatingAdd(to.empty, from.empty);
  to.full = SaturatingAdd(to.full, from.full);
  to.infinite = SaturatingAdd(to.infinite, from.infinite);
  to.sum_size += from.sum_size;
  // Same max_buckets, checked by Merge: cannot fail.
  to.sizes.Merge(from.sizes).IgnoreError();
  for (size_t i = 0; i < from.by_set_size.size(); ++i) {
    Tally& t = to.by_set_size[i];
    t.count = SaturatingAdd(t.count, from.by_set_size[i].count);
    t.covered = SaturatingAdd(t.covered, from.by_set_size[i].covered);
  }
}

absl::Status ConformalMonitor::Merge(const ConformalMonitor& other) {
  const Options& a = options_;
  const Options& b = other.options_;
  if (a.kind != b.kind || a.max_groups != b.max_groups ||
      a.max_settings != b.max_settings || a.max_set_size != b.max_set_size ||
      a.max_buckets != b.max_buckets || a.min_group_size != b.min_group_size) {
    return absl::InvalidArgumentError(
        "cannot merge conformal monitors with different options");
  }
  if (&other == this) {
    const ConformalMonitor copy = other;
    return Merge(copy);
  }
  // other's setting i is ours setting_map[i]; its overflow tally is ours.
  std::vector<uint32_t> setting_map(other.options_.max_settings + size_t{1},
                                    options_.max_settings);
  for (size_t i = 0; i < other.settings_.size(); ++i) {
    setting_map[i] = SettingIndex(other.settings_[i].alpha,
                                  other.settings_[i].calibration_size);
  }
  MergeScope(overall_, other.overall_, setting_map);
  for (size_t i = 0; i < other.groups_.size(); ++i) {
    const uint32_t index = ResolveGroup(other.labels_[i]);
    MergeScope(groups_[index], other.groups_[i], setting_map);
  }
  scores_.Merge(other.scores_).IgnoreError();  // Same max_buckets.
  ignored_ = SaturatingAdd(ignored_, other.ignored_);
  return absl::OkStatus();
}

std::optional<double> ConformalMonitor::ScoreQuantile(double alpha) const {
  const uint64_t n = scores_.count();
  if (options_.kind != ConformalKind::kInterval || n == 0 ||
      !(alpha > 0 && alpha < 1)) {
    return std::nullopt;
  }
  const double target = (ToDouble(n) + 1) * (1 - alpha);
  const double rank = std::ceil(target * (1 - kRankTolerance));
  if (rank > ToDouble(n)) return std::nullopt;
  return scores_.ValueAtRank(ToCount(rank, n));
}

std::optional<ConformalGate> ConformalMonitor::Gate(const Scope& scope,
                                                    uint64_t total) const {
  // The dominant setting; ties go to the smaller alpha, then n_cal, so
  // that the choice does not depend on arrival order.
  std::optional<size_t> best;
  for (size_t i = 0; i < settings_.size(); ++i) {
    const uint64_t count = scope.tallies[i].count;
    if (count == 0) continue;
    if (!best.has_value() || count > scope.tallies[*best].count ||
        (count == scope.tallies[*best].count &&
         std::make_pair(settings_[i].alpha, settings_[i].calibration_size) <
             std::make_pair(settings_[*best].alpha,
                            settings_[*best].calibration_size))) {
      best = i;
    }
  }
  if (!best.has_value()) return std::nullopt;
  const Tally& tally = scope.tallies[*best];
  const Setting& setting = settings_[*best];
  ConformalGate gate;
  gate.alpha = setting.alpha;
  gate.calibration_size = setting.calibration_size;
  gate.count = tally.count;
  gate.covered = tally.covered;
  const double m = ToDouble(tally.count);
  gate.share = m / ToDouble(total);
  gate.coverage = ToDouble(tally.covered) / m;
  CountTail tail;
  if (setting.calibration_size > 0) {
    gate.beta_binomial = true;
    gate.rank = SplitConformalRank(setting.calibration_size, setting.alpha);
    if (gate.rank == 0) {
      // The whole line: every outcome is covered, so any miss is proof.
      tail.mean = m;
      tail.quantile_05 = tail.quantile_001 = tally.count;
      tail.cdf_observed = tally.covered == tally.count ? 1 : 0;
    } else {
      const double a =
          ToDouble(setting.calibration_size) + 1 - ToDouble(gate.rank);
      tail =
          BetaBinomialTail(tally.count, a, ToDouble(gate.rank), tally.covered);
    }
  } else {
    tail = BinomialTail(tally.count, 1 - setting.alpha, tally.covered);
  }
  gate.expected_coverage = tail.mean / m;
  gate.quantile_05 = ToDouble(tail.quantile_05) / m;
  gate.quantile_001 = ToDouble(tail.quantile_001) / m;
  gate.p_value = tail.cdf_observed;
  return gate;
}

ConformalScopeMetrics ConformalMonitor::ScopeMetrics(
    const Scope& scope, absl::string_view label) const {
  ConformalScopeMetrics out;
  out.group = std::string(label);
  for (const Tally& t : scope.tallies) {
    out.count = SaturatingAdd(out.count, t.count);
    out.covered = SaturatingAdd(out.covered, t.covered);
  }
  out.empty = scope.empty;
  out.full = scope.full;
  out.infinite = scope.infinite;
  if (out.count == 0) return out;
  const double n = ToDouble(out.count);
  out.coverage = ToDouble(out.covered) / n;
  out.coverage_interval = WilsonInterval(out.covered, out.count, 0.95);
  out.empty_share = ToDouble(out.empty) / n;
  out.full_share = ToDouble(out.full) / n;
  const uint64_t finite = out.count - std::min(out.count, out.infinite);
  if (finite > 0) out.mean_size = scope.sum_size / ToDouble(finite);
  if (options_.kind == ConformalKind::kInterval) {
    if (scope.sizes.count() > 0) {
      out.median_size = scope.sizes.Quantile(0.5);
      out.p90_size = scope.sizes.Quantile(0.9);
      out.p99_size = scope.sizes.Quantile(0.99);
    }
  } else {
    uint64_t total = 0;
    for (const Tally& t : scope.by_set_size) {
      total = SaturatingAdd(total, t.count);
    }
    // The lower q-quantile: the size of the ceil(q total)-th smallest.
    const auto quantile = [&](double q) {
      const uint64_t rank =
          std::max<uint64_t>(1, ToCount(std::ceil(q * ToDouble(total)), total));
      uint64_t seen = 0;
      for (size_t size = 0; size < scope.by_set_size.size(); ++size) {
        seen = SaturatingAdd(seen, scope.by_set_size[size].count);
        if (seen >= rank) return static_cast<double>(size);
      }
      return static_cast<double>(options_.max_set_size);
    };
    if (total > 0) {
      out.median_size = quantile(0.5);
      out.p90_size = quantile(0.9);
      out.p99_size = quantile(0.99);
    }
    for (size_t size = 0; size < scope.by_set_size.size(); ++size) {
      const Tally& t = scope.by_set_size[size];
      if (t.count == 0) continue;
      CoverageBySetSize& row = out.by_set_size.emplace_back();
      row.size = static_cast<uint32_t>(size);
      row.and_larger = size == options_.max_set_size;
      row.count = t.count;
      row.covered = t.covered;
      row.coverage = ToDouble(t.covered) / ToDouble(t.count);
    }
  }
  out.gate = Gate(scope, out.count);
  return out;
}

ConformalMetrics ConformalMonitor::Snapshot() const {
  ConformalMetrics metrics;
  metrics.ignored = ignored_;
  metrics.overall = ScopeMetrics(overall_, kOverallGroup);
  metrics.groups.reserve(groups_.size());
  for (size_t i = 0; i < groups_.size(); ++i) {
    metrics.groups.push_back(ScopeMetrics(groups_[i], labels_[i]));
  }
  std::sort(metrics.groups.begin(), metrics.groups.end(),
            [](const ConformalScopeMetrics& x, const ConformalScopeMetrics& y) {
              return x.group < y.group;
            });
  const uint64_t min_size = std::max<uint64_t>(1, options_.min_group_size);
  const ConformalScopeMetrics* low = nullptr;
  const ConformalScopeMetrics* high = nullptr;
  int included = 0;
  for (const ConformalScopeMetrics& g : metrics.groups) {
    if (g.group == kOverflowGroup || g.count < min_size) continue;
    ++included;
    if (low == nullptr || *g.coverage < *low->coverage) low = &g;
    if (high == nullptr || *g.coverage > *high->coverage) high = &g;
  }
  if (included >= 2) {
    metrics.coverage_gap = *high->coverage - *low->coverage;
    metrics.max_coverage_group = high->group;
    metrics.min_coverage_group = low->group;
  }
  metrics.scores = scores_.count();
  if (metrics.overall.gate.has_value()) {
    metrics.score_quantile = ScoreQuantile(metrics.overall.gate->alpha);
  }
  return metrics;
}

}  // namespace vigie::monitors
