#include "monitors/performance_estimate.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "monitors/score_calibration.h"
#include "monitors/stats.h"

namespace vigie::monitors {
namespace {

constexpr uint32_t kMaxGroups = 100000;
constexpr double kEdgeSlack = 1e-9;
// NormalQuantile(0.975), the two-sided 95% interval's z.
constexpr double kZ95 = 1.959963984540054;

double ToDouble(uint64_t n) { return static_cast<double>(n); }

Interval Clamped(double value, double half_width) {
  return {std::clamp(value - half_width, 0.0, 1.0),
          std::clamp(value + half_width, 0.0, 1.0)};
}

PerformanceValue Proportion(uint64_t successes, uint64_t trials) {
  PerformanceValue v;
  v.successes = successes;
  v.trials = trials;
  v.value = ToDouble(successes) / ToDouble(trials);
  v.standard_error = std::sqrt(v.value * (1 - v.value) / ToDouble(trials));
  v.interval95 = WilsonIntervalAtZ(successes, trials, kZ95);
  return v;
}

PerformanceValues Realised(uint64_t tp, uint64_t fp, uint64_t tn, uint64_t fn) {
  PerformanceValues values;
  const uint64_t n = tp + fp + tn + fn;
  if (n > 0) values.accuracy = Proportion(tp + tn, n);
  if (tp + fp > 0) values.precision = Proportion(tp, tp + fp);
  if (tp + fn > 0) values.recall = Proportion(tp, tp + fn);
  if (tp + fp + fn > 0) {
    // F1 = 2a / (2a + b + c) over multinomial counts: the delta method's
    // variance is sum_i g_i^2 count_i (F1 is homogeneous of degree 0, so the
    // multinomial covariance term vanishes) = 4 a (b + c) (a + b + c) / D^4.
    const double a = ToDouble(tp);
    const double bc = ToDouble(fp + fn);
    const double d = 2 * a + bc;
    PerformanceValue f1;
    f1.value = 2 * a / d;
    f1.standard_error = std::sqrt(4 * a * bc * (a + bc)) / (d * d);
    f1.interval95 = Clamped(f1.value, kZ95 * f1.standard_error);
    values.f1 = f1;
  }
  return values;
}

}  // namespace

double PerformanceValue::UpperBound(double confidence) const {
  if (trials > 0) {
    return WilsonInterval(successes, trials, 2 * confidence - 1).upper;
  }
  return std::clamp(value + NormalQuantile(confidence) * standard_error, 0.0,
                    1.0);
}

PerformanceEstimateMonitor::PerformanceEstimateMonitor(const Options& options)
    : options_(options), model_(NewScope()) {}

absl::StatusOr<PerformanceEstimateMonitor> PerformanceEstimateMonitor::Create(
    const Options& options) {
  if (options.num_bins < kMinBins || options.num_bins > kMaxBins) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_bins must be in [", kMinBins, ", ", kMaxBins,
                     "], got ", options.num_bins));
  }
  if (options.max_groups < 1 || options.max_groups > kMaxGroups) {
    return absl::InvalidArgumentError(absl::StrCat("max_groups must be in [1, ",
                                                   kMaxGroups, "], got ",
                                                   options.max_groups));
  }
  return PerformanceEstimateMonitor(options);
}

PerformanceEstimateMonitor::Scope PerformanceEstimateMonitor::NewScope() const {
  const auto bins = static_cast<size_t>(options_.num_bins);
  Scope scope;
  scope.negative_decisions.assign(bins, 0);
  scope.positive_decisions.assign(bins, 0);
  scope.labelled.assign(bins, 0);
  scope.labelled_positives.assign(bins, 0);
  return scope;
}

int PerformanceEstimateMonitor::BinOf(double score) {
  // Written so that NaN fails it.
  if (!(score >= 0 && score <= 1)) {
    ignored_ = SaturatingAdd(ignored_, 1);
    return -1;
  }
  const int last = options_.num_bins - 1;
  const double b = static_cast<double>(options_.num_bins);
  const double scaled = score * b;
  int bin = std::min(static_cast<int>(scaled), last);
  const double fraction = scaled - static_cast<double>(bin);
  // As CalibrationMonitor: near an edge, settle against the rounded i / B.
  if (fraction < kEdgeSlack || fraction > 1 - kEdgeSlack) {
    if (bin > 0 && score < static_cast<double>(bin) / b) {
      --bin;
    } else if (bin < last && score >= static_cast<double>(bin + 1) / b) {
      ++bin;
    }
  }
  return bin;
}

PerformanceEstimateMonitor::Scope* PerformanceEstimateMonitor::GroupScope(
    absl::string_view attribute, absl::string_view group) {
  auto by_attribute = groups_.find(attribute);
  if (by_attribute == groups_.end()) {
    by_attribute = groups_
                       .emplace(std::string(attribute),
                                std::map<std::string, Scope, std::less<>>())
                       .first;
  }
  auto& groups = by_attribute->second;
  if (auto it = groups.find(group); it != groups.end()) return &it->second;
  const absl::string_view label =
      groups.size() >= options_.max_groups ? kOverflowGroup : group;
  if (auto it = groups.find(label); it != groups.end()) return &it->second;
  return &groups.emplace(std::string(label), NewScope()).first->second;
}

void PerformanceEstimateMonitor::Observe(Scope& scope, int bin, bool decision) {
  uint64_t& n = (decision ? scope.positive_decisions
                          : scope.negative_decisions)[static_cast<size_t>(bin)];
  n = SaturatingAdd(n, 1);
}

void PerformanceEstimateMonitor::Observe(Scope& scope, int bin, bool decision,
                                         bool outcome) {
  const auto b = static_cast<size_t>(bin);
  scope.labelled[b] = SaturatingAdd(scope.labelled[b], 1);
  if (outcome) {
    scope.labelled_positives[b] = SaturatingAdd(scope.labelled_positives[b], 1);
  }
  uint64_t& cell =
      decision ? (outcome ? scope.true_positives : scope.false_positives)
               : (outcome ? scope.false_negatives : scope.true_negatives);
  cell = SaturatingAdd(cell, 1);
}

void PerformanceEstimateMonitor::ObservePrediction(double score,
                                                   bool decision) {
  const int bin = BinOf(score);
  if (bin >= 0) Observe(model_, bin, decision);
}

void PerformanceEstimateMonitor::ObservePrediction(absl::string_view attribute,
                                                   absl::string_view group,
                                                   double score,
                                                   bool decision) {
  // Invalid scores are counted once, by the model's call.
  if (!(score >= 0 && score <= 1)) return;
  const int bin = BinOf(score);
  Observe(*GroupScope(attribute, group), bin, decision);
}

void PerformanceEstimateMonitor::ObserveJoined(double score, bool decision,
                                               bool outcome) {
  const int bin = BinOf(score);
  if (bin >= 0) Observe(model_, bin, decision, outcome);
}

void PerformanceEstimateMonitor::ObserveJoined(absl::string_view attribute,
                                               absl::string_view group,
                                               double score, bool decision,
                                               bool outcome) {
  if (!(score >= 0 && score <= 1)) return;
  const int bin = BinOf(score);
  Observe(*GroupScope(attribute, group), bin, decision, outcome);
}

void PerformanceEstimateMonitor::Scope::Merge(const Scope& other) {
  for (size_t b = 0; b < labelled.size(); ++b) {
    negative_decisions[b] =
        SaturatingAdd(negative_decisions[b], other.negative_decisions[b]);
    positive_decisions[b] =
        SaturatingAdd(positive_decisions[b], other.positive_decisions[b]);
    labelled[b] = SaturatingAdd(labelled[b], other.labelled[b]);
    labelled_positives[b] =
        SaturatingAdd(labelled_positives[b], other.labelled_positives[b]);
  }
  true_positives = SaturatingAdd(true_positives, other.true_positives);
  false_positives = SaturatingAdd(false_positives, other.false_positives);
  true_negatives = SaturatingAdd(true_negatives, other.true_negatives);
  false_negatives = SaturatingAdd(false_negatives, other.false_negatives);
}

bool PerformanceEstimateMonitor::Scope::empty() const {
  const auto zero = [](const std::vector<uint64_t>& v) {
    return std::all_of(v.begin(), v.end(), [](uint64_t n) { return n == 0; });
  };
  return zero(negative_decisions) && zero(positive_decisions) && zero(labelled);
}

absl::Status PerformanceEstimateMonitor::Merge(
    const PerformanceEstimateMonitor& other) {
  if (!(options_ == other.options_)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot merge performance estimates with num_bins ",
                     options_.num_bins, " and max_groups ", options_.max_groups,
                     " with num_bins ", other.options_.num_bins,
                     " and max_groups ", other.options_.max_groups));
  }
  if (&other == this) {
    // NOLINTNEXTLINE(performance-unnecessary-copy-initialization)
    const PerformanceEstimateMonitor copy = other;
    return Merge(copy);
  }
  model_.Merge(other.model_);
  // std::map order: which groups overflow does not depend on the caller.
  for (const auto& [attribute, groups] : other.groups_) {
    for (const auto& [group, scope] : groups) {
      GroupScope(attribute, group)->Merge(scope);
    }
  }
  ignored_ = SaturatingAdd(ignored_, other.ignored_);
  return absl::OkStatus();
}

bool PerformanceEstimateMonitor::empty() const {
  return model_.empty() && groups_.empty() && ignored_ == 0;
}

PerformanceEstimate PerformanceEstimateMonitor::EstimateScope(
    const Scope& scope, const ScoreCalibration* map) {
  PerformanceEstimate e;
  e.labelled = scope.true_positives + scope.false_positives +
               scope.true_negatives + scope.false_negatives;
  e.true_positives = scope.true_positives;
  e.false_positives = scope.false_positives;
  e.true_negatives = scope.true_negatives;
  e.false_negatives = scope.false_negatives;
  e.realised = Realised(scope.true_positives, scope.false_positives,
                        scope.true_negatives, scope.false_negatives);
  const size_t bins = scope.labelled.size();
  for (size_t b = 0; b < bins; ++b) {
    e.predictions += scope.negative_decisions[b] + scope.positive_decisions[b];
    e.positive_decisions += scope.positive_decisions[b];
  }
  if (map == nullptr || e.predictions == 0) return e;

  // T = E[TP], F = E[FN], their Poisson-binomial variances, and per block
  // of the map the positive and negative decisions that share its error.
  double t = 0, f = 0, var_t = 0, var_f = 0;
  std::vector<double> s1(map->blocks().size(), 0), s0(map->blocks().size(), 0);
  for (size_t b = 0; b < bins; ++b) {
    const int bin = static_cast<int>(b);
    const double q = map->probability(bin);
    const double n1 = ToDouble(scope.positive_decisions[b]);
    const double n0 = ToDouble(scope.negative_decisions[b]);
    t += n1 * q;
    f += n0 * q;
    var_t += n1 * q * (1 - q);
    var_f += n0 * q * (1 - q);
    const auto k = static_cast<size_t>(map->block(bin));
    s1[k] += n1;
    s0[k] += n0;
    if (map->extrapolated(bin)) {
      e.extrapolated +=
          scope.negative_decisions[b] + scope.positive_decisions[b];
    }
  }
  const double n = ToDouble(e.predictions);
  const double n1 = ToDouble(e.positive_decisions);
  const double n0 = n - n1;
  e.expected_true_positives = t;
  e.expected_false_negatives = f;
  e.expected_false_positives = n1 - t;
  e.expected_true_negatives = n0 - f;

  const auto make = [&](double value, double g_t, double g_f) {
    PerformanceValue v;
    v.value = value;
    const double var_s = g_t * g_t * var_t + g_f * g_f * var_f;
    double var_c = 0;
    for (size_t k = 0; k < s1.size(); ++k) {
      const ScoreCalibration::Block& block = map->blocks()[k];
      const double g = g_t * s1[k] + g_f * s0[k];
      var_c += g * g * block.probability * (1 - block.probability) /
               ToDouble(block.labelled);
    }
    v.sampling_error = std::sqrt(var_s);
    v.calibration_error = std::sqrt(var_c);
    v.standard_error = std::sqrt(var_s + var_c);
    v.interval95 = Clamped(value, kZ95 * v.standard_error);
    return v;
  };
  e.estimated.accuracy = make((t + n0 - f) / n, 1 / n, -1 / n);
  if (n1 > 0) e.estimated.precision = make(t / n1, 1 / n1, 0);
  if (t + f > 0) {
    const double p = t + f;
    e.estimated.recall = make(t / p, f / (p * p), -t / (p * p));
  }
  if (n1 + t + f > 0) {
    const double d = n1 + t + f;
    e.estimated.f1 = make(2 * t / d, 2 * (n1 + f) / (d * d), -2 * t / (d * d));
  }
  return e;
}

absl::StatusOr<PerformanceEstimateMetrics> PerformanceEstimateMonitor::Estimate(
    const PerformanceEstimateMonitor* reference,
    const EstimateOptions& options) const {
  if (reference != nullptr &&
      reference->options_.num_bins != options_.num_bins) {
    return absl::InvalidArgumentError(
        absl::StrCat("the reference has ", reference->options_.num_bins,
                     " score bins, the window ", options_.num_bins));
  }
  PerformanceEstimateMetrics metrics;
  metrics.method = options.method;
  metrics.ignored = ignored_;
  std::optional<ScoreCalibration> model_map;
  if (reference != nullptr) {
    absl::StatusOr<ScoreCalibration> map = ScoreCalibration::Learn(
        reference->model_.labelled, reference->model_.labelled_positives,
        options.method);
    // No labelled reference pair: realised values only. Any other error is
    // a bug, since the state was validated.
    if (map.ok()) {
      model_map = *std::move(map);
      metrics.reference_labelled = model_map->labelled();
    }
  }
  const ScoreCalibration* model = model_map ? &*model_map : nullptr;
  metrics.model = EstimateScope(model_, model);
  for (const auto& [attribute, groups] : groups_) {
    for (const auto& [group, scope] : groups) {
      std::optional<ScoreCalibration> own;
      if (reference != nullptr) {
        const Scope* theirs = nullptr;
        if (auto a = reference->groups_.find(attribute);
            a != reference->groups_.end()) {
          if (auto g = a->second.find(group); g != a->second.end()) {
            theirs = &g->second;
          }
        }
        uint64_t pairs = 0;
        if (theirs != nullptr) {
          for (uint64_t n : theirs->labelled) pairs = SaturatingAdd(pairs, n);
        }
        if (pairs > 0 && pairs >= options.min_group_reference) {
          absl::StatusOr<ScoreCalibration> map = ScoreCalibration::Learn(
              theirs->labelled, theirs->labelled_positives, options.method);
          if (map.ok()) own = *std::move(map);
        }
      }
      PerformanceEstimate e = EstimateScope(scope, own ? &*own : model);
      e.own_calibration = own.has_value();
      metrics.groups[attribute].emplace(group, std::move(e));
    }
  }
  return metrics;
}

}  // namespace vigie::monitors
